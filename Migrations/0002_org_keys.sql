-- Custodial signing keys: each org's Ed25519 seed, sealed with AES-GCM under CASCADE_MASTER_KEY.
-- The public key is on the chain; only the platform's service can open these, in memory.
CREATE TABLE org_keys (
    org_id TEXT PRIMARY KEY,
    key_id TEXT NOT NULL,
    sealed_seed TEXT NOT NULL,
    created_ms BIGINT NOT NULL
)
