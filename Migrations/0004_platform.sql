-- What the platform keeps beside the chain: idempotency records, each org's event feed, the
-- audit log and the payments the chain records (payouts and settlements).
CREATE TABLE idempotency_keys (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status INTEGER NOT NULL,
    content_type TEXT NOT NULL,
    body TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    PRIMARY KEY (scope, key)
)
-- split
CREATE TABLE events (
    seq BIGINT PRIMARY KEY,
    org_id TEXT NOT NULL,
    time_ms BIGINT NOT NULL,
    type TEXT NOT NULL,
    transaction_id TEXT NOT NULL,
    summary TEXT NOT NULL
)
-- split
CREATE INDEX events_by_org ON events (org_id, seq)
-- split
CREATE TABLE audit_log (
    seq BIGINT PRIMARY KEY,
    time_ms BIGINT NOT NULL,
    action TEXT NOT NULL,
    org_id TEXT,
    user_id TEXT,
    email TEXT,
    address TEXT,
    detail TEXT NOT NULL
)
-- split
CREATE INDEX audit_log_by_action ON audit_log (action, seq)
-- split
CREATE TABLE payments (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    transaction_id TEXT NOT NULL,
    payer_id TEXT NOT NULL,
    payee_id TEXT NOT NULL,
    amount_fen BIGINT NOT NULL,
    reference TEXT NOT NULL,
    receivable_id TEXT NOT NULL,
    time_ms BIGINT NOT NULL
)
-- split
CREATE INDEX payments_by_payee ON payments (payee_id)
-- split
CREATE INDEX payments_by_payer ON payments (payer_id)
