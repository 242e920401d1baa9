-- Where each org pays and is paid on each rail: a bank account (the bank-transfer rail: its
-- number, holder and bank's CNAPS code) or an e-CNY wallet. `agent_org_id`: the account's bank,
-- when it is an org of the platform (it posts the account's notifications).
CREATE TABLE payment_accounts (
    org_id TEXT NOT NULL,
    rail TEXT NOT NULL,
    account TEXT NOT NULL,
    account_name TEXT NOT NULL,
    agent TEXT NOT NULL,
    agent_org_id TEXT,
    created_ms BIGINT NOT NULL,
    PRIMARY KEY (org_id, rail)
)
-- split
-- One payment the platform instructed on a rail: a bank's payout of a financing, or a core
-- enterprise's payment of one piece at maturity. Its id is derived from what it pays and the
-- payee, so an instruction made again is the same payment. `transaction_id`: the ledger
-- transaction signed once it settled (confirmPayout, settle).
CREATE TABLE rail_payments (
    id TEXT PRIMARY KEY,
    rail TEXT NOT NULL,
    kind TEXT NOT NULL,
    payer_id TEXT NOT NULL,
    payee_id TEXT NOT NULL,
    amount_fen BIGINT NOT NULL,
    status TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    token_id TEXT,
    message_id TEXT NOT NULL,
    reference TEXT,
    transaction_id TEXT,
    reason TEXT,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL
)
-- split
CREATE INDEX rail_payments_by_payer ON rail_payments (payer_id, created_ms)
-- split
CREATE INDEX rail_payments_by_payee ON rail_payments (payee_id, created_ms)
-- split
CREATE INDEX rail_payments_by_subject ON rail_payments (subject_id)
-- split
-- Every change of a payment, with what the rail said and when.
CREATE TABLE rail_payment_events (
    payment_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    status TEXT NOT NULL,
    source TEXT NOT NULL,
    detail TEXT NOT NULL,
    at_ms BIGINT NOT NULL,
    PRIMARY KEY (payment_id, seq)
)
-- split
-- The messages exchanged with the rails: instructions out (a pain.001 file), notifications in (a
-- camt.054 file). `delivered_ms`: when an outgoing one reached the rail (its folder).
CREATE TABLE rail_messages (
    id TEXT NOT NULL,
    rail TEXT NOT NULL,
    direction TEXT NOT NULL,
    kind TEXT NOT NULL,
    org_id TEXT,
    body TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    delivered_ms BIGINT,
    PRIMARY KEY (rail, direction, id)
)
