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
-- split
CREATE TABLE early_payments (
    id TEXT PRIMARY KEY,
    token_id TEXT NOT NULL,
    receivable_id TEXT NOT NULL,
    supplier_id TEXT NOT NULL,
    issuer_id TEXT NOT NULL,
    amount_fen BIGINT NOT NULL,
    rate_bps INTEGER NOT NULL,
    days INTEGER NOT NULL,
    discount_fen BIGINT NOT NULL,
    payout_fen BIGINT NOT NULL,
    status TEXT NOT NULL,
    requested_on TEXT NOT NULL,
    reference TEXT
)
-- split
CREATE INDEX early_payments_by_issuer ON early_payments (issuer_id, status, rate_bps, id)
-- split
CREATE INDEX early_payments_by_supplier ON early_payments (supplier_id, status)
-- split
CREATE INDEX early_payments_by_token ON early_payments (token_id)
-- split
CREATE INDEX early_payments_by_receivable ON early_payments (receivable_id)
