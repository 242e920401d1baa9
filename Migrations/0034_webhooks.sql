-- Signed webhooks (SPEC §5 `/webhooks`): an org's endpoints, each with its secret sealed under the
-- platform's master key, the event types it takes (a JSON array, or ["*"]) and how far into the
-- org's events it has been given deliveries (`after_seq`). `status`: active, disabled (with
-- `disabled_reason`, after a delivery failed for a day) or deleted.
CREATE TABLE webhook_endpoints (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL,
    url TEXT NOT NULL,
    events TEXT NOT NULL,
    sealed_secret TEXT NOT NULL,
    status TEXT NOT NULL,
    disabled_reason TEXT,
    after_seq BIGINT NOT NULL,
    created_ms BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    updated_ms BIGINT NOT NULL
)
-- split
CREATE INDEX webhook_endpoints_by_org ON webhook_endpoints (org_id, status)
-- split
-- Each event for each endpoint, stored before it is sent: `pending` (with `next_attempt_ms`),
-- `delivered` (a 2xx answer) or `failed` (retried with backoff for a day, then given up).
CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY,
    endpoint_id TEXT NOT NULL,
    org_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    event_seq BIGINT,
    body TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_ms BIGINT,
    created_ms BIGINT NOT NULL,
    delivered_ms BIGINT,
    last_http_status INTEGER,
    last_error TEXT
)
-- split
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_ms)
-- split
CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (endpoint_id, created_ms)
-- split
-- Every attempt: when, what the receiver answered (or the error), and how long it took.
CREATE TABLE webhook_attempts (
    delivery_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    at_ms BIGINT NOT NULL,
    http_status INTEGER,
    error TEXT,
    duration_ms BIGINT NOT NULL,
    PRIMARY KEY (delivery_id, attempt)
)
