import FluentKit
import Foundation
import Ledger
import SQLKit

/// A batch issue from an ERP export, as stored: the file, the line, and every row as judged.
package struct ReceivableImport: Sendable {
    package var id: String
    package var coreId: OrgID
    package var fileSha256: String
    package var fileName: String
    package var format: String
    package var creditLineId: TxID
    package var uploadedBy: String
    package var uploadedEmail: String
    package var uploadedMs: Int64
    package var rows: [ImportRow]

    package func count(_ status: ImportRow.Status) -> Int { rows.reduce(0) { $1.status == status ? $0 + 1 : $0 } }
}

/// One data row of an import.
package struct ImportRow: Sendable, Equatable {
    package enum Status: String, Sendable {
        case valid, refused, issued
    }
    package var row: Int
    package var status: Status
    package var supplierCreditCode: String?
    package var supplierId: OrgID?
    package var faceFen: Int64?
    package var dueDate: BusinessDate?
    package var invoiceNumber: String?
    package var contractNumber: String?
    package var memo: String?
    package var digest: String?
    package var code: String?
    package var message: String?
    package var receivableId: TxID?
    package var approvalId: String?

    package init(row: Int, status: Status) {
        self.row = row
        self.status = status
    }
}

package enum ImportQueries {
    static let rowColumns = "row_no, status, supplier_credit_code, supplier_id, face_fen, due_date, invoice_number, contract_number, memo, digest, code, message, receivable_id, approval_id"

    /// Stores a new import and its rows in one transaction; nil when the org already imported the
    /// same file for the same line (its import stands, and is the answer).
    package static func create(_ i: ReceivableImport, on db: any Database) async throws -> Bool {
        try await db.sqlTransaction { sql in
            let inserted = try await sql.raw("""
                INSERT INTO receivable_imports (id, core_id, file_sha256, file_name, format, credit_line_id, uploaded_by, uploaded_email, uploaded_ms)
                VALUES (\(bind: i.id), \(bind: i.coreId.description), \(bind: i.fileSha256), \(bind: i.fileName), \(bind: i.format), \(bind: i.creditLineId.description),
                        \(bind: i.uploadedBy), \(bind: i.uploadedEmail), \(bind: i.uploadedMs))
                ON CONFLICT DO NOTHING RETURNING id
                """).first() != nil
            guard inserted else { return false }
            for chunk in i.rows.chunked(400) {
                let insert = sql.insert(into: "receivable_import_rows").columns(["import_id"] + rowColumns.components(separatedBy: ", "))
                for r in chunk {
                    _ = insert.values(SQLBind(i.id), SQLBind(Int64(r.row)), SQLBind(r.status.rawValue), SQLBind(r.supplierCreditCode), SQLBind(r.supplierId?.description),
                                      SQLBind(r.faceFen), SQLBind(r.dueDate?.description), SQLBind(r.invoiceNumber), SQLBind(r.contractNumber), SQLBind(r.memo),
                                      SQLBind(r.digest), SQLBind(r.code), SQLBind(r.message), SQLBind(r.receivableId?.description), SQLBind(r.approvalId))
                }
                try await insert.run()
            }
            return true
        }
    }

    /// The org's import of this file for this line, if there is one.
    package static func existing(core: OrgID, fileSha256: String, creditLineId: TxID, on sql: any SQLDatabase) async throws -> String? {
        try await sql.raw("""
            SELECT id FROM receivable_imports WHERE core_id = \(bind: core.description) AND file_sha256 = \(bind: fileSha256) AND credit_line_id = \(bind: creditLineId.description)
            """).first()?.decode(column: "id", as: String.self)
    }

    /// An import with its rows, to its own org (the regulator and the operator read every one).
    package static func find(_ id: String, visibleTo viewer: Viewer, on sql: any SQLDatabase) async throws -> ReceivableImport? {
        var query: SQLQueryString = "SELECT id, core_id, file_sha256, file_name, format, credit_line_id, uploaded_by, uploaded_email, uploaded_ms FROM receivable_imports WHERE id = \(bind: id)"
        if !viewer.seesAll { query += " AND core_id = \(bind: viewer.orgId.description)" }
        guard let row = try await sql.raw(query).first() else { return nil }
        var found = try header(row)
        found.rows = try await sql.raw("SELECT \(unsafeRaw: rowColumns) FROM receivable_import_rows WHERE import_id = \(bind: id) ORDER BY row_no").all().map(importRow)
        return found
    }

    /// The org's imports, newest first, without their rows but with their counts.
    package static func list(visibleTo viewer: Viewer, limit: Int, on sql: any SQLDatabase) async throws -> [(ReceivableImport, [String: Int])] {
        var query: SQLQueryString = """
            SELECT i.id, i.core_id, i.file_sha256, i.file_name, i.format, i.credit_line_id, i.uploaded_by, i.uploaded_email, i.uploaded_ms,
                   SUM(CASE WHEN r.status = 'valid' THEN 1 ELSE 0 END) AS valid_count,
                   SUM(CASE WHEN r.status = 'refused' THEN 1 ELSE 0 END) AS refused_count,
                   SUM(CASE WHEN r.status = 'issued' THEN 1 ELSE 0 END) AS issued_count
            FROM receivable_imports i LEFT JOIN receivable_import_rows r ON r.import_id = i.id
            """
        if !viewer.seesAll { query += " WHERE i.core_id = \(bind: viewer.orgId.description)" }
        query += " GROUP BY i.id, i.core_id, i.file_sha256, i.file_name, i.format, i.credit_line_id, i.uploaded_by, i.uploaded_email, i.uploaded_ms ORDER BY i.uploaded_ms DESC, i.id LIMIT \(bind: limit)"
        return try await sql.raw(query).all().map { row in
            let counts = try ["valid", "refused", "issued"].reduce(into: [String: Int]()) {
                $0[$1] = Int(try row.decode(column: "\($1)_count", as: Int64?.self) ?? 0)
            }
            return (try header(row), counts)
        }
    }

    /// Takes the import for issuing until `untilMs`, unless another request holds it.
    package static func claim(_ id: String, nowMs: Int64, untilMs: Int64, on sql: any SQLDatabase) async throws -> Bool {
        try await sql.raw("""
            UPDATE receivable_imports SET issuing_until_ms = \(bind: untilMs)
            WHERE id = \(bind: id) AND (issuing_until_ms IS NULL OR issuing_until_ms < \(bind: nowMs)) RETURNING id
            """).first() != nil
    }

    package static func release(_ id: String, on sql: any SQLDatabase) async throws {
        try await sql.raw("UPDATE receivable_imports SET issuing_until_ms = NULL WHERE id = \(bind: id)").run()
    }

    /// Records what issuing a row came to.
    package static func record(_ id: String, _ r: ImportRow, on sql: any SQLDatabase) async throws {
        try await sql.raw("""
            UPDATE receivable_import_rows SET status = \(bind: r.status.rawValue), code = \(bind: r.code), message = \(bind: r.message),
                receivable_id = \(bind: r.receivableId?.description), approval_id = \(bind: r.approvalId)
            WHERE import_id = \(bind: id) AND row_no = \(bind: Int64(r.row))
            """).run()
    }

    /// Invoice numbers among `numbers` that already back a receivable still open (pending,
    /// active or overdue), with that receivable: the rule an issue is refused by (`duplicate_invoice`).
    package static func openInvoices(among numbers: Set<String>, on sql: any SQLDatabase) async throws -> [String: (id: TxID, number: String, issuerId: OrgID)] {
        guard !numbers.isEmpty else { return [:] }
        var found: [String: (id: TxID, number: String, issuerId: OrgID)] = [:]
        let rows = try await sql.raw("""
            SELECT id, number, issuer_id, documents FROM receivables WHERE status IN ('pending', 'active', 'overdue') AND documents LIKE '%"invoice"%'
            """).all()
        for row in rows {
            guard case .array(let documents)? = try? JSON.parse(try row.decode(column: "documents", as: String.self)) else { continue }
            for document in documents where document["kind"]?.stringValue == "invoice" {
                guard let number = document["number"]?.stringValue, numbers.contains(number),
                      let id = TxID(try row.decode(column: "id", as: String.self)), let issuer = OrgID(try row.decode(column: "issuer_id", as: String.self)) else { continue }
                found[number] = (id, try row.decode(column: "number", as: String.self), issuer)
            }
        }
        return found
    }

    static func header(_ row: any SQLRow) throws -> ReceivableImport {
        guard let core = OrgID(try row.decode(column: "core_id", as: String.self)), let line = TxID(try row.decode(column: "credit_line_id", as: String.self)) else {
            throw StoreDamage("receivable_imports")
        }
        return ReceivableImport(id: try row.decode(column: "id", as: String.self), coreId: core, fileSha256: try row.decode(column: "file_sha256", as: String.self),
                                fileName: try row.decode(column: "file_name", as: String.self), format: try row.decode(column: "format", as: String.self),
                                creditLineId: line, uploadedBy: try row.decode(column: "uploaded_by", as: String.self),
                                uploadedEmail: try row.decode(column: "uploaded_email", as: String.self), uploadedMs: try row.decode(column: "uploaded_ms", as: Int64.self), rows: [])
    }

    static func importRow(_ row: any SQLRow) throws -> ImportRow {
        guard let status = ImportRow.Status(rawValue: try row.decode(column: "status", as: String.self)) else { throw StoreDamage("receivable_import_rows") }
        var r = ImportRow(row: Int(try row.decode(column: "row_no", as: Int64.self)), status: status)
        r.supplierCreditCode = try row.decode(column: "supplier_credit_code", as: String?.self)
        r.supplierId = try row.decode(column: "supplier_id", as: String?.self).flatMap(OrgID.init)
        r.faceFen = try row.decode(column: "face_fen", as: Int64?.self)
        r.dueDate = try row.decode(column: "due_date", as: String?.self).flatMap(BusinessDate.init)
        r.invoiceNumber = try row.decode(column: "invoice_number", as: String?.self)
        r.contractNumber = try row.decode(column: "contract_number", as: String?.self)
        r.memo = try row.decode(column: "memo", as: String?.self)
        r.digest = try row.decode(column: "digest", as: String?.self)
        r.code = try row.decode(column: "code", as: String?.self)
        r.message = try row.decode(column: "message", as: String?.self)
        r.receivableId = try row.decode(column: "receivable_id", as: String?.self).flatMap(TxID.init)
        r.approvalId = try row.decode(column: "approval_id", as: String?.self)
        return r
    }
}

extension ImportQueries {
    /// Every org by its credit code, with its role and status: what a row's supplier is checked against.
    package static func orgsByCreditCode(on sql: any SQLDatabase) async throws -> [String: (id: OrgID, role: String, status: String, name: String)] {
        var orgs: [String: (id: OrgID, role: String, status: String, name: String)] = [:]
        for row in try await sql.raw("SELECT id, credit_code, role, status, name FROM orgs").all() {
            guard let id = OrgID(try row.decode(column: "id", as: String.self)) else { throw StoreDamage("orgs") }
            orgs[try row.decode(column: "credit_code", as: String.self)] = (id, try row.decode(column: "role", as: String.self),
                                                                             try row.decode(column: "status", as: String.self), try row.decode(column: "name", as: String.self))
        }
        return orgs
    }
}
