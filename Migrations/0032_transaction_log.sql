-- The transaction log (SPEC §4): one RFC 6962 tree over every transaction id in chain order. Each
-- row is a complete subtree: `level` 0 is a leaf, H(0x00 ‖ id); a node at `level` covers leaves
-- [idx·2^level, (idx+1)·2^level). Written with the block that completes it, so any proof reads
-- O(log n) rows at any size the log ever had.
CREATE TABLE log_nodes (
    level INTEGER NOT NULL,
    idx BIGINT NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (level, idx)
);
-- split
-- The log's size after each block (its transactions are leaves log_size − tx_count … log_size − 1).
ALTER TABLE blocks ADD COLUMN log_size BIGINT;
-- split
UPDATE blocks SET log_size = running.total
FROM (SELECT height, SUM(tx_count) OVER (ORDER BY height) AS total FROM blocks) AS running
WHERE running.height = blocks.height;
-- split
-- Keys of the platform's own, sealed under the master key: the log's note key ('log').
CREATE TABLE platform_keys (
    name TEXT PRIMARY KEY,
    sealed_seed TEXT NOT NULL,
    created_ms BIGINT NOT NULL
);
-- split
-- What the witnesses (CASCADE_WITNESSES) said of the log's heads: each cosignature line of a head
-- (size, root), and for each witness the size it last cosigned and what went wrong, if anything
-- (a head it refused, with both heads as evidence).
CREATE TABLE log_cosignatures (
    witness TEXT NOT NULL,
    size BIGINT NOT NULL,
    root TEXT NOT NULL,
    line TEXT NOT NULL,
    cosigned_at BIGINT NOT NULL,
    PRIMARY KEY (witness, size)
);
-- split
CREATE TABLE witness_status (
    witness TEXT PRIMARY KEY,
    cosigned_size BIGINT NOT NULL,
    problem TEXT,
    updated_ms BIGINT NOT NULL
);
