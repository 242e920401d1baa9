-- When each session's person last gave their password (at sign-in, or again before a sensitive
-- change): people, keys and second factors change only soon after.
ALTER TABLE login_tokens ADD COLUMN authenticated_ms BIGINT
