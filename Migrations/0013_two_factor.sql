-- Two-factor sign-in (TOTP, RFC 6238): each user's secret, sealed under the master key and bound
-- to the user's id; when its enrolment was confirmed with a first code; the last time step used
-- (a code works once). Ten one-time recovery codes a user, kept as keyed hashes.
ALTER TABLE users ADD COLUMN totp_secret TEXT
-- split
ALTER TABLE users ADD COLUMN totp_enabled_ms BIGINT
-- split
ALTER TABLE users ADD COLUMN totp_last_step BIGINT
-- split
CREATE TABLE recovery_codes (
    user_id TEXT NOT NULL,
    code_hash TEXT NOT NULL,
    used_ms BIGINT,
    PRIMARY KEY (user_id, code_hash)
)
