-- Checkpoints of the writer's live state (and an observer's, in its own database): the block
-- they stand at, the SHA-256 of the state's bytes, the operator's signature over both (an
-- observer leaves it empty), and the bytes. Start-up reads the latest and the blocks after it.
-- Twin files: the byte type differs.
CREATE TABLE checkpoints (
    height BIGINT PRIMARY KEY,
    block_hash TEXT NOT NULL,
    state_hash TEXT NOT NULL,
    key_id TEXT NOT NULL,
    signature TEXT NOT NULL,
    transactions BIGINT NOT NULL,
    size BIGINT NOT NULL,
    state BLOB NOT NULL,
    created_ms BIGINT NOT NULL
)
