-- The chain as sealed, and the projections every read path uses. Portable between PostgreSQL 15
-- and SQLite: TEXT ids (lowercase hex or UUID), BIGINT fen and milliseconds, dates as YYYY-MM-DD.
-- Statements are separated by a line holding only "-- split".
CREATE TABLE blocks (
    height BIGINT PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE,
    prev_hash TEXT NOT NULL,
    tx_root TEXT NOT NULL,
    tx_count INTEGER NOT NULL,
    time_ms BIGINT NOT NULL,
    signature TEXT NOT NULL
)
-- split
CREATE TABLE transactions (
    id TEXT PRIMARY KEY,
    block_height BIGINT NOT NULL REFERENCES blocks (height),
    position INTEGER NOT NULL,
    type TEXT NOT NULL,
    org_id TEXT NOT NULL,
    time_ms BIGINT NOT NULL,
    body TEXT NOT NULL,
    signature TEXT NOT NULL,
    UNIQUE (block_height, position)
)
-- split
CREATE INDEX transactions_by_org ON transactions (org_id, block_height)
-- split
CREATE TABLE orgs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    credit_code TEXT NOT NULL UNIQUE,
    public_key TEXT NOT NULL,
    key_id TEXT NOT NULL,
    status TEXT NOT NULL,
    registered_tx TEXT NOT NULL
)
-- split
CREATE TABLE policy (
    id INTEGER PRIMARY KEY,
    body TEXT NOT NULL
)
-- split
CREATE TABLE credit_lines (
    id TEXT PRIMARY KEY,
    bank_id TEXT NOT NULL,
    core_id TEXT NOT NULL,
    limit_fen BIGINT NOT NULL,
    used_fen BIGINT NOT NULL,
    rate_bps INTEGER NOT NULL,
    expires_on TEXT NOT NULL,
    status TEXT NOT NULL,
    created_tx TEXT NOT NULL
)
-- split
CREATE INDEX credit_lines_by_core ON credit_lines (core_id, bank_id)
-- split
CREATE INDEX credit_lines_by_bank ON credit_lines (bank_id)
-- split
CREATE TABLE receivables (
    id TEXT PRIMARY KEY,
    number TEXT NOT NULL UNIQUE,
    issuer_id TEXT NOT NULL,
    first_holder_id TEXT NOT NULL,
    credit_line_id TEXT NOT NULL,
    face_fen BIGINT NOT NULL,
    paid_fen BIGINT NOT NULL,
    issue_date TEXT NOT NULL,
    due_date TEXT NOT NULL,
    documents TEXT NOT NULL,
    memo TEXT,
    status TEXT NOT NULL,
    first_token_id TEXT NOT NULL
)
-- split
CREATE INDEX receivables_by_issuer ON receivables (issuer_id, due_date)
-- split
CREATE INDEX receivables_by_due_date ON receivables (due_date, status)
-- split
CREATE TABLE tokens (
    id TEXT PRIMARY KEY,
    receivable_id TEXT NOT NULL,
    parent_id TEXT,
    holder_id TEXT NOT NULL,
    amount_fen BIGINT NOT NULL,
    tier INTEGER NOT NULL,
    status TEXT NOT NULL,
    created_tx TEXT NOT NULL,
    spent_tx TEXT,
    created_on TEXT NOT NULL
)
-- split
CREATE INDEX tokens_by_holder ON tokens (holder_id, status)
-- split
CREATE INDEX tokens_by_receivable ON tokens (receivable_id)
-- split
CREATE TABLE financings (
    id TEXT PRIMARY KEY,
    token_id TEXT NOT NULL,
    receivable_id TEXT NOT NULL,
    supplier_id TEXT NOT NULL,
    bank_id TEXT NOT NULL,
    credit_line_id TEXT NOT NULL,
    amount_fen BIGINT NOT NULL,
    rate_bps INTEGER NOT NULL,
    days INTEGER NOT NULL,
    interest_fen BIGINT NOT NULL,
    payout_fen BIGINT NOT NULL,
    status TEXT NOT NULL,
    requested_on TEXT NOT NULL,
    bank_token_id TEXT,
    payout_reference TEXT
)
-- split
CREATE INDEX financings_by_bank ON financings (bank_id, status)
-- split
CREATE INDEX financings_by_supplier ON financings (supplier_id, status)
