-- A core enterprise's early-payment program (the market of its own cash): off until its admin
-- sets one. `cutoff_time`: HH:MM, Asia/Shanghai, when the day's market clears by itself.
CREATE TABLE early_payment_programs (
    org_id TEXT PRIMARY KEY,
    active INTEGER NOT NULL,
    hurdle_bps INTEGER NOT NULL,
    daily_budget_fen BIGINT NOT NULL,
    cutoff_time TEXT NOT NULL,
    updated_ms BIGINT NOT NULL,
    updated_by TEXT NOT NULL
)
-- split
-- Each clearing of a core's market: when, by whom (`cutoff` for the one at the cut-off, else the
-- person's email), what it took and at what lowest rate, under which hurdle and budget.
CREATE TABLE early_payment_clearings (
    id TEXT PRIMARY KEY,
    issuer_id TEXT NOT NULL,
    business_date TEXT NOT NULL,
    at_ms BIGINT NOT NULL,
    source TEXT NOT NULL,
    taken_count INTEGER NOT NULL,
    spent_fen BIGINT NOT NULL,
    clearing_rate_bps INTEGER,
    hurdle_bps INTEGER NOT NULL,
    budget_left_fen BIGINT NOT NULL
)
-- split
CREATE INDEX early_payment_clearings_by_issuer ON early_payment_clearings (issuer_id, business_date, at_ms)
-- split
-- The core's cash each early payment took, on the business day it was taken: written before the
-- approval is signed and removed if the ledger refuses it, so the day's budget is never spent
-- twice (a process killed in between leaves it counted: the budget errs on the side of spending less).
CREATE TABLE early_payment_takings (
    early_payment_id TEXT PRIMARY KEY,
    issuer_id TEXT NOT NULL,
    business_date TEXT NOT NULL,
    payout_fen BIGINT NOT NULL,
    clearing_id TEXT,
    at_ms BIGINT NOT NULL
)
-- split
CREATE INDEX early_payment_takings_by_issuer ON early_payment_takings (issuer_id, business_date)
