-- A request whose ledger transaction went to a block of unknown fate (the database went away
-- while it was written) keeps its idempotency key with the transaction's id: a retry with the
-- same key learns whether that transaction was committed instead of submitting another.
ALTER TABLE idempotency_keys ADD COLUMN transaction_id TEXT
