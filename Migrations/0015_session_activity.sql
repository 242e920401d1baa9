-- When each session was last used: one left alone longer than the idle timeout ends.
ALTER TABLE login_tokens ADD COLUMN last_used_ms BIGINT
