-- The day each receivable already marked overdue became so: the business date (Asia/Shanghai) of
-- its markOverdue transaction, as the ledger's replay now records it.
UPDATE receivables SET overdue_on = (
    SELECT date(x.time_ms / 1000 + 28800, 'unixepoch')
    FROM transactions x
    WHERE x.type = 'markOverdue' AND x.body LIKE '%"receivableId":"' || receivables.id || '"%'
    ORDER BY x.block_height LIMIT 1)
WHERE status IN ('overdue', 'settled') AND overdue_on IS NULL
