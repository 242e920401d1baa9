import Core
import Foundation
import Ledger
import Vapor

/// Batch issue from an ERP export: `POST /receivables/imports` (multipart `file`, `creditLineId?`),
/// `GET /receivables/imports`, `GET /receivables/imports/{id}`, `POST /receivables/imports/{id}/issue`.
package enum ImportController {
    package struct Upload: Content {
        package var file: File
        package var creditLineId: String?
    }

    /// The file and the line it names, from a multipart form (the console's and the API's).
    package static func upload(_ req: Request) throws -> (data: Data, fileName: String, creditLineId: TxID?) {
        guard req.headers.contentType?.type == "multipart" else { throw LedgerError.invalid("file", "send multipart/form-data with the file (CSV or XLSX) and optionally a creditLineId") }
        let upload: Upload
        do { upload = try req.content.decode(Upload.self) } catch { throw LedgerError.invalid("file", "send multipart/form-data with the file (CSV or XLSX) and optionally a creditLineId") }
        let data = Data(upload.file.data.readableBytesView)
        guard data.count <= ImportFile.maxBytes else { throw Problem(.payloadTooLarge, "an import file may be at most \(ImportFile.maxBytes / 1024 / 1024) MB") }
        let name = upload.file.filename.isEmpty ? "import" : upload.file.filename
        guard !name.unicodeScalars.contains("\u{FFFD}") else { throw LedgerError.invalid("fileName", "must be UTF-8 text") }
        try Limits.checkText(name, field: "fileName", maxLength: Limits.maxFileNameLength)
        var line: TxID?
        if let text = upload.creditLineId, !text.isEmpty {
            guard let id = TxID(text) else { throw LedgerError.invalid("creditLineId", "must be an id of 64 lowercase hex characters") }
            line = id
        }
        return (data, name, line)
    }

    @Sendable package static func create(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        let (data, name, line) = try upload(req)
        let (found, created) = try await ImportService.upload(data, fileName: name, creditLineId: line, by: viewer, app: req.application)
        return json(found).response(status: created ? .created : .ok)
    }

    @Sendable package static func show(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        return json(try await ImportService.find(try id(req), viewer: viewer, app: req.application)).response()
    }

    @Sendable package static func issue(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        return json(try await ImportService.issue(try id(req), by: viewer, app: req.application)).response()
    }

    /// `{items: [the import without its rows]}`, newest first.
    @Sendable package static func list(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        let imports = try await ImportQueries.list(visibleTo: viewer, limit: 100, on: req.application.sql)
        return JSON.object(["items": .array(imports.map { i, counts in
            var fields = summary(i)
            fields["valid"] = .int(Int64(counts["valid"] ?? 0))
            fields["refused"] = .int(Int64(counts["refused"] ?? 0))
            fields["issued"] = .int(Int64(counts["issued"] ?? 0))
            fields["total"] = .int(Int64(counts.values.reduce(0, +)))
            return .object(fields)
        })]).response()
    }

    static func id(_ req: Request) throws -> String {
        guard let id = req.parameters.get("id"), UUID(uuidString: id) != nil, id == id.lowercased() else {
            throw Problem(.notFound, "no such import")
        }
        return id
    }

    static func summary(_ i: ReceivableImport) -> [JSONKey: JSON] {
        ["id": .string(i.id), "fileName": .string(i.fileName), "fileSha256": .string(i.fileSha256), "format": .string(i.format),
         "creditLineId": .string(i.creditLineId.description), "coreId": .string(i.coreId.description),
         "uploadedBy": .string(i.uploadedEmail), "uploadedAt": .string(Time.rfc3339(i.uploadedMs))]
    }

    /// SPEC §5: `{id, total, valid, refused, rows: [{row, status, code?, message?, receivableId?}]}`,
    /// with `issued`, the file's name and hash, and each row's invoice and amount beside them.
    package static func json(_ i: ReceivableImport) -> JSON {
        var fields = summary(i)
        fields["total"] = .int(Int64(i.rows.count))
        fields["valid"] = .int(Int64(i.count(.valid)))
        fields["refused"] = .int(Int64(i.count(.refused)))
        fields["issued"] = .int(Int64(i.count(.issued)))
        fields["rows"] = .array(i.rows.map { r in
            var row: [JSONKey: JSON] = ["row": .int(Int64(r.row)), "status": .string(r.status.rawValue)]
            if let v = r.code { row["code"] = .string(v) }
            if let v = r.message { row["message"] = .string(v) }
            if let v = r.receivableId { row["receivableId"] = .string(v.description) }
            if let v = r.approvalId { row["approvalId"] = .string(v) }
            if let v = r.invoiceNumber { row["invoiceNumber"] = .string(v) }
            if let v = r.faceFen { row["faceFen"] = .int(v) }
            if let v = r.supplierId { row["supplierId"] = .string(v.description) }
            if let v = r.dueDate { row["dueDate"] = .string(v.description) }
            return .object(row)
        })
        return .object(fields)
    }
}
