-- The audit log is written by many requests at once, outside the single writer: its sequence
-- number comes from the database (a rowid that AUTOINCREMENT never reuses), never from
-- MAX(seq) + 1. SQLite cannot change a column's kind in place, so the table is rebuilt.
CREATE TABLE audit_log_rebuilt (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    time_ms BIGINT NOT NULL,
    action TEXT NOT NULL,
    org_id TEXT,
    user_id TEXT,
    email TEXT,
    address TEXT,
    detail TEXT NOT NULL
)
-- split
INSERT INTO audit_log_rebuilt (seq, time_ms, action, org_id, user_id, email, address, detail)
SELECT seq, time_ms, action, org_id, user_id, email, address, detail FROM audit_log ORDER BY seq
-- split
DROP TABLE audit_log
-- split
ALTER TABLE audit_log_rebuilt RENAME TO audit_log
-- split
CREATE INDEX audit_log_by_action ON audit_log (action, seq)
