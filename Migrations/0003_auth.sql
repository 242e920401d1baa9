-- People and credentials. Passwords are bcrypt hashes; login tokens and API keys are stored as
-- SHA-256 hashes of the secret, so the database never holds a usable credential.
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL,
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_ms BIGINT NOT NULL
)
-- split
CREATE INDEX users_by_org ON users (org_id)
-- split
CREATE TABLE login_tokens (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    expires_ms BIGINT NOT NULL,
    created_ms BIGINT NOT NULL
)
-- split
CREATE INDEX login_tokens_by_user ON login_tokens (user_id)
-- split
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    name TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    revoked_ms BIGINT
)
-- split
CREATE INDEX api_keys_by_org ON api_keys (org_id)
