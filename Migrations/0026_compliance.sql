-- Format 2 of the ledger (银发〔2025〕77号): a core enterprise's recorded default, a receivable's
-- term review, a financing's recourse and the bank's 中登网 filing and term review. Booleans are
-- 0 or 1, as in every projection. A chain written before format 2 leaves every one at its default.
ALTER TABLE orgs ADD COLUMN in_default INTEGER NOT NULL DEFAULT 0
-- split
ALTER TABLE orgs ADD COLUMN default_reason TEXT
-- split
ALTER TABLE receivables ADD COLUMN term_review INTEGER NOT NULL DEFAULT 0
-- split
ALTER TABLE receivables ADD COLUMN overdue_on TEXT
-- split
ALTER TABLE financings ADD COLUMN recourse INTEGER NOT NULL DEFAULT 0
-- split
ALTER TABLE financings ADD COLUMN filing_number TEXT
-- split
ALTER TABLE financings ADD COLUMN filed_on TEXT
-- split
ALTER TABLE financings ADD COLUMN term_review_reason TEXT
-- split
CREATE INDEX receivables_by_status_issuer ON receivables (status, issuer_id, due_date)
