-- The payments a settlement finds for each of its pieces, those of one message handed over
-- again, and those the sweep asks the rails about: each from an index, not a scan of every
-- payment ever made (a settlement of thousands of pieces scanned the table once per piece).
CREATE INDEX rail_payments_by_token ON rail_payments (token_id)
-- split
CREATE INDEX rail_payments_by_message ON rail_payments (message_id)
-- split
CREATE INDEX rail_payments_by_status ON rail_payments (status)
