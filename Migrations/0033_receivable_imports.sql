-- A core enterprise's batch issue from an ERP export (POST /receivables/imports): the file by
-- its SHA-256 and the credit line its rows issue against. The same file for the same line is the
-- same import, so uploading it again issues nothing twice. `issuing_until_ms`: while one request
-- issues its rows, another waits (a process killed meanwhile frees it when the time passes).
CREATE TABLE receivable_imports (
    id TEXT PRIMARY KEY,
    core_id TEXT NOT NULL,
    file_sha256 TEXT NOT NULL,
    file_name TEXT NOT NULL,
    format TEXT NOT NULL,
    credit_line_id TEXT NOT NULL,
    uploaded_by TEXT NOT NULL,
    uploaded_email TEXT NOT NULL,
    uploaded_ms BIGINT NOT NULL,
    issuing_until_ms BIGINT,
    UNIQUE (core_id, file_sha256, credit_line_id)
)
-- split
CREATE INDEX receivable_imports_by_core ON receivable_imports (core_id, uploaded_ms)
-- split
-- Each data row as read and judged: `valid` (waiting to be issued, or for a checker when
-- `approval_id` is set), `refused` (`code`, `message`) or `issued` (`receivable_id`). `digest`:
-- the SHA-256 of the row's fields, the hash its invoice and contract documents carry on the chain.
CREATE TABLE receivable_import_rows (
    import_id TEXT NOT NULL,
    row_no INTEGER NOT NULL,
    status TEXT NOT NULL,
    supplier_credit_code TEXT,
    supplier_id TEXT,
    face_fen BIGINT,
    due_date TEXT,
    invoice_number TEXT,
    contract_number TEXT,
    memo TEXT,
    digest TEXT,
    code TEXT,
    message TEXT,
    receivable_id TEXT,
    approval_id TEXT,
    PRIMARY KEY (import_id, row_no)
)
