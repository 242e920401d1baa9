-- 信息披露: each core enterprise's totals as the market reads them, kept beside the receivables
-- they sum (0029's triggers, in the block writer's own statement), so that a disclosure answers
-- from one row at any size. Outstanding: accepted and not paid (active or overdue); overdue; and
-- settled receivables, on time or after going overdue.
CREATE TABLE issuer_disclosures (
    org_id TEXT PRIMARY KEY,
    outstanding_fen BIGINT NOT NULL,
    outstanding_count BIGINT NOT NULL,
    overdue_fen BIGINT NOT NULL,
    overdue_count BIGINT NOT NULL,
    on_time_count BIGINT NOT NULL,
    late_count BIGINT NOT NULL
)
-- split
INSERT INTO issuer_disclosures (org_id, outstanding_fen, outstanding_count, overdue_fen, overdue_count, on_time_count, late_count)
SELECT issuer_id,
       SUM(CASE WHEN status IN ('active', 'overdue') THEN face_fen - paid_fen ELSE 0 END),
       SUM(CASE WHEN status IN ('active', 'overdue') THEN 1 ELSE 0 END),
       SUM(CASE WHEN status = 'overdue' THEN face_fen - paid_fen ELSE 0 END),
       SUM(CASE WHEN status = 'overdue' THEN 1 ELSE 0 END),
       SUM(CASE WHEN status = 'settled' AND overdue_on IS NULL THEN 1 ELSE 0 END),
       SUM(CASE WHEN status = 'settled' AND overdue_on IS NOT NULL THEN 1 ELSE 0 END)
FROM receivables GROUP BY issuer_id
-- split
-- 监测 (the regulator's monitoring): pieces deeper than an alert tier, and pieces made in a day.
CREATE INDEX tokens_by_tier ON tokens (tier, receivable_id)
-- split
CREATE INDEX tokens_by_day ON tokens (created_on, receivable_id)
-- split
CREATE INDEX financings_by_filing ON financings (filing_number, status)
-- split
CREATE INDEX receivables_by_term_review ON receivables (term_review, issuer_id)
