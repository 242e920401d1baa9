import Core
import Crypto
import Foundation
import Ledger
import SQLKit
import Vapor

/// 存证: the files behind receivables, stored by SHA-256.
package enum DocumentController {
    package static let maxBytes = 10 * 1024 * 1024

    package struct Upload: Content {
        package var file: File
        package var kind: String
        package var number: String?
    }

    package static func json(sha: String, size: Int64, kind: String, number: String?, fileName: String?) -> JSON {
        ["sha256": .string(sha), "size": .int(size), "kind": .string(kind), "number": number.map(JSON.string) ?? .null,
         "fileName": fileName.map(JSON.string) ?? .null]
    }

    /// `POST /documents` (multipart: `file`, `kind`, `number?`) → `{sha256, size, kind, number, fileName}`.
    @Sendable package static func upload(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        // The regulator reads everything and changes nothing, a document store included.
        guard viewer.role != .regulator else { throw Problem(.forbidden, "the regulator reads documents; it does not upload them") }
        try viewer.caller.requirePreparer()
        guard req.headers.contentType?.type == "multipart" else { throw LedgerError.invalid("file", "send multipart/form-data with a file, a kind and optionally a number") }
        let upload: Upload
        do { upload = try req.content.decode(Upload.self) } catch { throw LedgerError.invalid("file", "send multipart/form-data with a file, a kind and optionally a number") }
        guard DocumentKind(rawValue: upload.kind) != nil else {
            throw LedgerError.invalid("kind", "must be one of \(DocumentKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        // A form part that is not UTF-8 reaches us with U+FFFD in its place: refused, never stored.
        for (field, text) in [("number", upload.number), ("fileName", upload.file.filename)] where text?.unicodeScalars.contains("\u{FFFD}") == true {
            throw LedgerError.invalid(field, "must be UTF-8 text")
        }
        if let n = upload.number { try Limits.checkText(n, field: "number", maxLength: Limits.maxDocumentNumberLength) }
        let bytes = Data(upload.file.data.readableBytesView)
        guard !bytes.isEmpty else { throw LedgerError.invalid("file", "is empty") }
        guard bytes.count <= maxBytes else { throw Problem(.payloadTooLarge, "a document may be at most 10 MB") }
        let fileName = upload.file.filename
        try Limits.checkText(fileName, field: "fileName", maxLength: Limits.maxFileNameLength)
        let sha = try await store(bytes, kind: upload.kind, number: upload.number, fileName: fileName,
                                  contentType: upload.file.contentType?.serialize() ?? "application/octet-stream", by: viewer.orgId, app: req.application)
        return json(sha: sha, size: Int64(bytes.count), kind: upload.kind, number: upload.number, fileName: fileName).response(status: .created)
    }

    /// Keeps a file by its SHA-256 (once: the same bytes uploaded again are the same document).
    package static func store(_ bytes: Data, kind: String, number: String?, fileName: String, contentType: String, by org: OrgID, app: Application) async throws -> String {
        try await DocumentStore.keep(bytes, kind: kind, number: number, fileName: fileName, contentType: contentType, by: org, nowMs: app.wallClock.nowMs(), on: app.sql)
    }

    /// `GET /documents/{sha256}`: the file, to the org that uploaded it, the regulator and the
    /// operator, and anyone who sees a receivable naming it.
    @Sendable package static func download(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        guard let sha = req.parameters.get("sha256"), Hex.isLowercaseHex(sha, length: 64) else {
            throw LedgerError.invalid("sha256", "must be 64 lowercase hex characters")
        }
        guard let file = try await DocumentStore.file(sha, visibleTo: viewer, on: req.application.sql) else {
            throw Problem(.notFound, "no document with this SHA-256 was uploaded")
        }
        var headers = HTTPHeaders()
        headers.replaceOrAdd(name: .contentType, value: file.contentType)
        let name = file.fileName ?? sha
        headers.replaceOrAdd(name: .contentDisposition, value: "attachment; filename*=UTF-8''\(name.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? sha)")
        return Response(status: .ok, headers: headers, body: .init(data: file.content))
    }
}
