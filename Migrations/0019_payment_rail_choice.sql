-- The rail each org pays by, as its admin chose: `ecny`, `bank`, or `manual` (payouts and
-- settlements confirmed by hand). No row: e-CNY where both sides have wallets, else a bank
-- transfer where both have bank accounts, else by hand.
CREATE TABLE payment_rail_choices (
    org_id TEXT PRIMARY KEY,
    rail TEXT NOT NULL,
    updated_ms BIGINT NOT NULL
)
