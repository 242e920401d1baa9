import Foundation
import Ledger
import SQLKit

/// The transaction log as stored (SPEC §4): its complete subtrees in `log_nodes`, its size after
/// each block in `blocks.log_size`. Every proof reads the few subtrees it needs in one query.
package enum LogQueries {
    /// The log's size: the last block's `log_size` (0 before genesis).
    package static func size(on sql: any SQLDatabase) async throws -> Int64 {
        guard let row = try await sql.raw("SELECT log_size FROM blocks ORDER BY height DESC LIMIT 1").first() else { return 0 }
        return try row.decode(column: "log_size", as: Int64?.self) ?? 0
    }

    /// How many leaves the store holds: the log's size as far as its subtrees go.
    package static func storedLeaves(on sql: any SQLDatabase) async throws -> Int64 {
        guard let row = try await sql.raw("SELECT MAX(idx) AS last FROM log_nodes WHERE level = 0").first(),
              let last = try row.decode(column: "last", as: Int64?.self) else { return 0 }
        return last + 1
    }

    /// Where transaction `id` sits in the log: its block's first leaf plus its position.
    package static func index(of id: TxID, on sql: any SQLDatabase) async throws -> Int64? {
        guard let row = try await sql.raw("""
            SELECT b.log_size - b.tx_count + t.position AS idx FROM transactions t JOIN blocks b ON b.height = t.block_height
            WHERE t.id = \(bind: id.description)
            """).first() else { return nil }
        return try row.decode(column: "idx", as: Int64?.self)
    }

    /// The subtrees `wanted` names, in one query.
    package static func nodes(_ wanted: Set<LogTree.Node>, on sql: any SQLDatabase) async throws -> [LogTree.Node: LogTree.Hash] {
        guard !wanted.isEmpty else { return [:] }
        var found: [LogTree.Node: LogTree.Hash] = [:]
        for (level, nodes) in Dictionary(grouping: wanted, by: \.level) {
            for chunk in nodes.map(\.index).sorted().chunked(500) {
                let rows = try await sql.raw("SELECT idx, hash FROM log_nodes WHERE level = \(bind: level) AND idx IN (\(binds: chunk.map { $0 as any Encodable & Sendable }))").all()
                for row in rows {
                    guard let hash = Hex.decode(try row.decode(column: "hash", as: String.self)), hash.count == 32 else { continue }
                    found[LogTree.Node(level: level, index: try row.decode(column: "idx", as: Int64.self))] = hash
                }
            }
        }
        return found
    }

    /// Runs `build` (a proof, a root) over the stored subtrees: a first time to learn which it
    /// reads (what a proof reads depends on the sizes alone), then with those read in one query.
    /// A subtree the store lacks is refused, never guessed.
    package static func withNodes<T>(on sql: any SQLDatabase, _ build: ((LogTree.Node) throws -> LogTree.Hash) throws -> T) async throws -> T {
        var wanted: Set<LogTree.Node> = []
        _ = try build { node in
            wanted.insert(node)
            return [UInt8](repeating: 0, count: 32)
        }
        let found = try await nodes(wanted, on: sql)
        return try build { node in
            guard let hash = found[node] else { throw LogTree.Refused(description: "the log's subtree \(node) is not stored") }
            return hash
        }
    }

    /// The log's root at `size`.
    package static func root(size: Int64, profile: CryptoProfile, on sql: any SQLDatabase) async throws -> LogTree.Hash {
        try await withNodes(on: sql) { node in try LogTree.root(size: size, profile: profile, node: node) }
    }

    /// The log's right edge at `size`, from the stored subtrees.
    package static func frontier(size: Int64, profile: CryptoProfile, on sql: any SQLDatabase) async throws -> LogFrontier {
        try await withNodes(on: sql) { node in try LogFrontier(size: size, profile: profile, node: node) }
    }

    /// The log's platform key, sealed (nil before it is made).
    package static func sealedKey(on sql: any SQLDatabase) async throws -> String? {
        try await sql.raw("SELECT sealed_seed FROM platform_keys WHERE name = 'log'").first()?.decode(column: "sealed_seed", as: String.self)
    }

    /// Keeps the log's key, sealed; a key already kept stays (two writers starting at once keep one).
    package static func keep(sealedKey: String, nowMs: Int64, on sql: any SQLDatabase) async throws {
        try await sql.insert(into: "platform_keys").columns("name", "sealed_seed", "created_ms")
            .values(SQLBind("log"), SQLBind(sealedKey), SQLBind(nowMs)).ignoringConflicts(with: "name").run()
    }

    /// The ids of the transactions at leaves `from` up to (not including) `to`, in chain order,
    /// read block by block from the one that holds leaf `from`.
    package static func transactionIds(from: Int64, to: Int64, on sql: any SQLDatabase) async throws -> [TxID] {
        guard from < to, let first = try await sql.raw("SELECT MIN(height) AS h FROM blocks WHERE log_size > \(bind: from)").first(),
              let height = try first.decode(column: "h", as: Int64?.self) else { return [] }
        let rows = try await sql.raw("""
            SELECT t.id, b.log_size - b.tx_count + t.position AS idx FROM transactions t JOIN blocks b ON b.height = t.block_height
            WHERE t.block_height >= \(bind: height) AND b.log_size - b.tx_count < \(bind: to)
            ORDER BY t.block_height, t.position
            """).all()
        return try rows.compactMap { row in
            let idx = try row.decode(column: "idx", as: Int64.self)
            return idx >= from && idx < to ? TxID(try row.decode(column: "id", as: String.self)) : nil
        }
    }

    /// Stores subtrees the log already holds elsewhere (a log built for a chain written before
    /// it existed), in chunks.
    package static func insert(_ nodes: [(LogTree.Node, LogTree.Hash)], on sql: any SQLDatabase) async throws {
        for chunk in nodes.chunked(300) {
            let insert = sql.insert(into: "log_nodes").columns("level", "idx", "hash")
            for (node, hash) in chunk { _ = insert.values(SQLBind(Int64(node.level)), SQLBind(node.index), SQLBind(Hex.encode(hash))) }
            try await insert.ignoringConflicts(with: ["level", "idx"]).run()
        }
    }
}
