-- Uploaded documents behind receivables (存证): the file itself, by its SHA-256. Only the hash
-- is on the chain; the file lets others check it later. Twin files: the byte type differs.
CREATE TABLE documents (
    sha256 TEXT PRIMARY KEY,
    size BIGINT NOT NULL,
    kind TEXT NOT NULL,
    number TEXT,
    file_name TEXT,
    content_type TEXT NOT NULL,
    content BYTEA NOT NULL,
    uploaded_by TEXT NOT NULL,
    created_ms BIGINT NOT NULL
)
