-- Roles inside an org: viewer (reads), maker (prepares), checker (approves), admin (people, keys
-- and rules; prepares like a maker). Every member so far prepared operations: a maker.
UPDATE users SET role = 'maker' WHERE role = 'member'
-- split
-- Which of an org's actions wait for a checker, and from which amount (0: always).
CREATE TABLE approval_rules (
    org_id TEXT NOT NULL,
    action TEXT NOT NULL,
    min_amount_fen BIGINT NOT NULL,
    PRIMARY KEY (org_id, action)
)
-- split
-- Banks start with every bank action waiting for a checker.
INSERT INTO approval_rules (org_id, action, min_amount_fen)
SELECT o.id, a.action, 0 FROM orgs o,
    (SELECT 'approveFinancing' AS action UNION ALL SELECT 'confirmPayout' UNION ALL SELECT 'grantCredit' UNION ALL SELECT 'updateCredit') a
WHERE o.role = 'bank'
-- split
-- An operation a maker prepared, waiting for a checker (pending), being performed (approving: its
-- transactions are noted before they are submitted, so a restart learns their fate), approved
-- (with the transactions it became) or rejected (with the reason).
CREATE TABLE approvals (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL,
    action TEXT NOT NULL,
    status TEXT NOT NULL,
    operation TEXT NOT NULL,
    amount_fen BIGINT NOT NULL,
    subject_id TEXT NOT NULL,
    summary TEXT NOT NULL,
    summary_zh TEXT NOT NULL,
    prepared_by TEXT NOT NULL,
    prepared_email TEXT NOT NULL,
    prepared_ms BIGINT NOT NULL,
    decided_by TEXT,
    decided_email TEXT,
    decided_ms BIGINT,
    reason TEXT,
    transaction_ids TEXT NOT NULL,
    last_error TEXT
)
-- split
CREATE INDEX approvals_by_org ON approvals (org_id, status, prepared_ms)
