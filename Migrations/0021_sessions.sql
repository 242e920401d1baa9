-- A login token is a session: its table is named so, and its secret's hash too.
ALTER TABLE login_tokens RENAME TO sessions
-- split
ALTER TABLE sessions RENAME COLUMN token_hash TO secret_hash
-- split
DROP INDEX login_tokens_by_user
-- split
CREATE INDEX sessions_by_user ON sessions (user_id)
