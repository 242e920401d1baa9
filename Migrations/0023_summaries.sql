-- Totals that pages show, kept by the database in the same transaction as the rows they sum (the
-- block writer's statement fires these triggers), so that a page reads one row per total however
-- long the history behind it: each piece's children (count and amount), each receivable's amount
-- still payable at settlement (its active and locked pieces), and each org's open receivables (as
-- an issuer) and approved financing (as a bank). `cascade verify` and the regulator's verification
-- check every summary against the replayed chain. The triggers that keep them are 0024's.
CREATE TABLE token_children (
    parent_id TEXT PRIMARY KEY,
    children BIGINT NOT NULL,
    amount_fen BIGINT NOT NULL
)
-- split
CREATE TABLE receivable_totals (
    receivable_id TEXT PRIMARY KEY,
    payable_fen BIGINT NOT NULL
)
-- split
-- outstanding_fen: as an issuer, its pending, active and overdue receivables' face less what was
-- paid. financed_fen and financed_rate: as a bank, its approved and paid financings' amount, and
-- the sum of amount × rate (bps) over them, for the amount-weighted rate.
CREATE TABLE org_totals (
    org_id TEXT PRIMARY KEY,
    outstanding_fen BIGINT NOT NULL,
    financed_fen BIGINT NOT NULL,
    financed_rate NUMERIC NOT NULL
)
-- split
INSERT INTO token_children (parent_id, children, amount_fen)
SELECT parent_id, COUNT(*), SUM(amount_fen) FROM tokens WHERE parent_id IS NOT NULL GROUP BY parent_id
-- split
INSERT INTO receivable_totals (receivable_id, payable_fen)
SELECT receivable_id, SUM(CASE WHEN status IN ('active', 'locked') THEN amount_fen ELSE 0 END) FROM tokens GROUP BY receivable_id
-- split
INSERT INTO org_totals (org_id, outstanding_fen, financed_fen, financed_rate)
SELECT org, SUM(outstanding), SUM(financed), SUM(rate) FROM (
    SELECT issuer_id AS org, CASE WHEN status IN ('pending', 'active', 'overdue') THEN face_fen - paid_fen ELSE 0 END AS outstanding, 0 AS financed, CAST(0 AS NUMERIC) AS rate
    FROM receivables
    UNION ALL
    SELECT bank_id, 0, CASE WHEN status IN ('approved', 'paid') THEN amount_fen ELSE 0 END,
           CASE WHEN status IN ('approved', 'paid') THEN CAST(amount_fen AS NUMERIC) * rate_bps ELSE 0 END
    FROM financings
) x GROUP BY org
-- split
-- A piece's first children by creation, and a receivable's clearing list in its order, from an
-- index: a page of either reads what it shows, however many pieces there are.
DROP INDEX tokens_by_parent
-- split
CREATE INDEX tokens_by_parent ON tokens (parent_id, created_on, id)
-- split
CREATE INDEX tokens_by_receivable_order ON tokens (receivable_id, tier, created_on, id)
-- split
DROP INDEX tokens_by_receivable
