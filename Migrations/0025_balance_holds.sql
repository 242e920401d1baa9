-- What an e-CNY balance check reserved: each payment's amount, from the check until the payment
-- settles, fails or is returned, so that two payouts cannot both pass on one balance. `kind` and
-- `subject_id` are the payment's (a payout's financing, a settlement's receivable).
CREATE TABLE balance_holds (
    payment_id TEXT PRIMARY KEY,
    rail TEXT NOT NULL,
    wallet TEXT NOT NULL,
    kind TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    amount_fen BIGINT NOT NULL,
    created_ms BIGINT NOT NULL
)
-- split
CREATE INDEX balance_holds_by_wallet ON balance_holds (rail, wallet)
