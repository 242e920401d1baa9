import Foundation
import Ledger
import SQLKit

/// A witness's store (`cascade witness`, its own database): the last head it cosigned for each log.
package enum WitnessHeads {
    /// The witness's one table, made when missing.
    package static func prepare(_ sql: any SQLDatabase) async throws {
        try await sql.raw("""
            CREATE TABLE IF NOT EXISTS witness_heads (
                origin TEXT PRIMARY KEY, size BIGINT NOT NULL, root TEXT NOT NULL, note TEXT NOT NULL, cosigned_at BIGINT NOT NULL)
            """).run()
    }

    static func last(_ origin: String, on sql: any SQLDatabase) async throws -> (size: Int64, root: LogTree.Hash, note: String)? {
        guard let row = try await sql.raw("SELECT size, root, note FROM witness_heads WHERE origin = \(bind: origin)").first(),
              let root = Base64.decode(try row.decode(column: "root", as: String.self)) else { return nil }
        return (try row.decode(column: "size", as: Int64.self), root, try row.decode(column: "note", as: String.self))
    }

    /// Every head cosigned: origin, size, root (base64) and the cosigned note.
    static func all(on sql: any SQLDatabase) async throws -> [(origin: String, size: Int64, root: String, note: String)] {
        try await sql.raw("SELECT origin, size, root, note FROM witness_heads ORDER BY origin").all().map {
            (try $0.decode(column: "origin", as: String.self), try $0.decode(column: "size", as: Int64.self),
             try $0.decode(column: "root", as: String.self), try $0.decode(column: "note", as: String.self))
        }
    }

    /// Writes the new head only if the stored one is still `old` (nil: none yet), in one
    /// statement; answers whether it did.
    static func store(_ origin: String, size: Int64, root: LogTree.Hash, note: String, at: Int64, replacing old: (size: Int64, root: LogTree.Hash)?,
                      on sql: any SQLDatabase) async throws -> Bool {
        if let old {
            return try await sql.raw("""
                UPDATE witness_heads SET size = \(bind: size), root = \(bind: Base64.encode(root)), note = \(bind: note), cosigned_at = \(bind: at)
                WHERE origin = \(bind: origin) AND size = \(bind: old.size) AND root = \(bind: Base64.encode(old.root)) RETURNING origin
                """).first() != nil
        }
        return try await sql.raw("""
            INSERT INTO witness_heads (origin, size, root, note, cosigned_at) VALUES (\(bind: origin), \(bind: size), \(bind: Base64.encode(root)), \(bind: note), \(bind: at))
            ON CONFLICT (origin) DO NOTHING RETURNING origin
            """).first() != nil
    }
}
