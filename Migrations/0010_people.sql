-- People managed for real: a user an admin disabled (their sessions and keys stop at once), and a
-- password an admin reset to a temporary one, which must be changed at the next sign-in.
ALTER TABLE users ADD COLUMN disabled_ms BIGINT
-- split
ALTER TABLE users ADD COLUMN must_change_password INTEGER NOT NULL DEFAULT 0
