-- The day each receivable already marked overdue became so: the business date (Asia/Shanghai) of
-- its markOverdue transaction, as the ledger's replay now records it.
UPDATE receivables r SET overdue_on = (
    SELECT to_char(to_timestamp(x.time_ms / 1000.0 + 28800) AT TIME ZONE 'UTC', 'YYYY-MM-DD')
    FROM transactions x
    WHERE x.type = 'markOverdue' AND x.body LIKE '%"receivableId":"' || r.id || '"%'
    ORDER BY x.block_height LIMIT 1)
WHERE r.status IN ('overdue', 'settled') AND r.overdue_on IS NULL
