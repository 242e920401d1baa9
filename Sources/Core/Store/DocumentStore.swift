import Crypto
import Foundation
import Ledger
import SQLKit

/// The files a receivable names (invoices, contracts), kept by their SHA-256.
package enum DocumentStore {
    package struct File: Sendable {
        package var content: Data
        package var contentType: String
        package var fileName: String?
    }

    /// Keeps a file by its SHA-256 (once: the same bytes uploaded again are the same document).
    package static func keep(_ bytes: Data, kind: String, number: String?, fileName: String, contentType: String, by org: OrgID,
                             nowMs: Int64, on sql: any SQLDatabase) async throws -> String {
        let sha = Hex.encode(Array(SHA256.hash(data: bytes)))
        try await sql.insert(into: "documents").columns("sha256", "size", "kind", "number", "file_name", "content_type", "content", "uploaded_by", "created_ms")
            .values(SQLBind(sha), SQLBind(Int64(bytes.count)), SQLBind(kind), SQLBind(number), SQLBind(fileName), SQLBind(contentType), SQLBind(bytes),
                    SQLBind(org.description), SQLBind(nowMs))
            .ignoringConflicts(with: "sha256")
            .run()
        return sha
    }

    /// The file, to the org that uploaded it, the regulator and the operator, and anyone who sees
    /// a receivable naming it whose issuer uploaded it (naming another org's hash in one's own
    /// receivable opens nothing); to anyone else it does not exist.
    package static func file(_ sha: String, visibleTo viewer: Viewer, on sql: any SQLDatabase) async throws -> File? {
        guard let row = try await sql.raw("SELECT content, content_type, file_name, uploaded_by FROM documents WHERE sha256 = \(bind: sha)").first() else {
            return nil
        }
        let uploader = try row.decode(column: "uploaded_by", as: String.self)
        if !viewer.seesAll, uploader != viewer.orgId.description {
            var query: SQLQueryString = "SELECT r.documents FROM receivables r WHERE r.issuer_id = \(bind: uploader) AND r.documents LIKE \(bind: "%" + sha + "%") AND "
            query += ReceivableQueries.visible(viewer)
            let named = try await sql.raw(query).all().contains { candidate in
                guard case .array(let documents)? = try? JSON.parse(try candidate.decode(column: "documents", as: String.self)) else { return false }
                return documents.contains { $0["sha256"]?.stringValue == sha }
            }
            guard named else { return nil }
        }
        return File(content: try row.decode(column: "content", as: Data.self), contentType: try row.decode(column: "content_type", as: String.self),
                    fileName: try? row.decode(column: "file_name", as: String.self))
    }
}
