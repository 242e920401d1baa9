-- The audit log is written by many requests at once, outside the single writer: its sequence
-- number comes from the database (an identity), never from MAX(seq) + 1.
CREATE SEQUENCE audit_log_seq_source OWNED BY audit_log.seq
-- split
SELECT setval('audit_log_seq_source', COALESCE((SELECT MAX(seq) FROM audit_log), 0) + 1, false)
-- split
ALTER TABLE audit_log ALTER COLUMN seq SET DEFAULT nextval('audit_log_seq_source')
