-- Reads that must not grow with history: a block's transactions in order (proofs, chain pages,
-- the writer taking up blocks after its last), pending offers by age and open receivables by due
-- date (the expiry and overdue jobs).
CREATE INDEX transactions_by_block ON transactions (block_height, position)
-- split
CREATE INDEX tokens_by_status ON tokens (status, created_on)
-- split
CREATE INDEX receivables_by_status ON receivables (status, due_date)
