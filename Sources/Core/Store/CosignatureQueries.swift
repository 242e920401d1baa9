import Foundation
import Ledger
import SQLKit

/// The witnesses' cosignatures of the transaction log's heads, and where each witness stands.
package enum CosignatureQueries {
    package struct Standing: Sendable, Equatable {
        package var witness: String
        package var cosignedSize: Int64
        package var problem: String?
    }

    /// Keeps a witness's cosignature of the head (`size`, `root`), and that it stands there.
    package static func keep(witness: String, size: Int64, root: LogTree.Hash, line: String, at: Int64, on sql: any SQLDatabase) async throws {
        try await sql.insert(into: "log_cosignatures").columns("witness", "size", "root", "line", "cosigned_at")
            .values(SQLBind(witness), SQLBind(size), SQLBind(Base64.encode(root)), SQLBind(line), SQLBind(at))
            .ignoringConflicts(with: ["witness", "size"]).run()
        try await stand(witness: witness, at: size, problem: nil, nowMs: at * 1000, on: sql)
    }

    /// Where `witness` stands: the size it last cosigned, and a problem, if any.
    package static func stand(witness: String, at size: Int64, problem: String?, nowMs: Int64, on sql: any SQLDatabase) async throws {
        try await sql.insert(into: "witness_status").columns("witness", "cosigned_size", "problem", "updated_ms")
            .values(SQLBind(witness), SQLBind(size), SQLBind(problem), SQLBind(nowMs))
            .onConflict(with: ["witness"]) { $0.set(excludedValueOf: "cosigned_size").set(excludedValueOf: "problem").set(excludedValueOf: "updated_ms") }
            .run()
    }

    /// Every cosignature `witness` gave (a witness struck from the list, or tests).
    package static func forget(witness: String, on sql: any SQLDatabase) async throws {
        try await sql.raw("DELETE FROM log_cosignatures WHERE witness = \(bind: witness)").run()
    }

    package static func standings(on sql: any SQLDatabase) async throws -> [Standing] {
        try await sql.raw("SELECT witness, cosigned_size, problem FROM witness_status ORDER BY witness").all().map { row in
            Standing(witness: try row.decode(column: "witness", as: String.self), cosignedSize: try row.decode(column: "cosigned_size", as: Int64.self),
                     problem: try row.decode(column: "problem", as: String?.self))
        }
    }

    /// Every cosignature line of the head (`size`, `root`).
    package static func lines(size: Int64, root: LogTree.Hash, on sql: any SQLDatabase) async throws -> [(witness: String, line: String)] {
        try await sql.raw("SELECT witness, line FROM log_cosignatures WHERE size = \(bind: size) AND root = \(bind: Base64.encode(root)) ORDER BY witness").all().map {
            (try $0.decode(column: "witness", as: String.self), try $0.decode(column: "line", as: String.self))
        }
    }

    /// The largest size at least `quorum` witnesses cosigned, not below `atLeast`, with its root.
    package static func witnessed(quorum: Int, atLeast: Int64, on sql: any SQLDatabase) async throws -> (size: Int64, root: LogTree.Hash)? {
        guard let row = try await sql.raw("""
            SELECT size, root FROM log_cosignatures WHERE size >= \(bind: atLeast)
            GROUP BY size, root HAVING COUNT(*) >= \(bind: quorum) ORDER BY size DESC LIMIT 1
            """).first(), let root = Base64.decode(try row.decode(column: "root", as: String.self)) else { return nil }
        return (try row.decode(column: "size", as: Int64.self), root)
    }
}
