import FluentKit
import Foundation
import Ledger
import SQLKit

/// The chain and its projections in SQL. Writing a block is one database transaction: the block,
/// its transactions and every projection row they changed, or nothing.
struct LedgerStore: Sendable {
    let db: any Database
    var sql: any SQLDatabase { db as! any SQLDatabase }  // both drivers are SQL databases

    /// Writes a sealed block and the rows its transactions touched, as they stand in `state`
    /// (the state after the block). All or nothing.
    func append(_ block: Block, effects: [TxEffects], state: LedgerState) async throws {
        let rows = Projection.touchedRows(effects, in: state)
        try await db.transaction { fluent in
            let db = fluent as! any SQLDatabase
            let h = block.header
            try await db.insert(into: "blocks")
                .columns("height", "hash", "prev_hash", "tx_root", "tx_count", "time_ms", "signature")
                .values(SQLBind(h.height), SQLBind(block.hash), SQLBind(h.prevHash), SQLBind(h.txRoot), SQLBind(Int(h.txCount)),
                        SQLBind(h.time), SQLBind(Base64.encode(block.signature)))
                .run()
            for chunk in Array(block.transactions.enumerated()).chunked(200) {
                let insert = db.insert(into: "transactions")
                    .columns("id", "block_height", "position", "type", "org_id", "time_ms", "body", "signature")
                for (i, tx) in chunk {
                    insert.values(SQLBind(tx.id.description), SQLBind(h.height), SQLBind(i), SQLBind(tx.body.type.rawValue),
                                  SQLBind(tx.body.orgId.description), SQLBind(tx.body.time),
                                  SQLBind(String(decoding: tx.canonicalBody, as: UTF8.self)), SQLBind(Base64.encode(tx.signature)))
                }
                try await insert.run()
            }
            for (table, tableRows) in rows {
                for chunk in tableRows.chunked(200) {
                    try await Self.upsert(table, chunk, on: db)
                }
            }
            try await Feed.write(block, effects: effects, state: state, on: db)
        }
    }

    static func upsert(_ table: Projection.Table, _ rows: ArraySlice<[Cell]>, on db: any SQLDatabase) async throws {
        let insert = db.insert(into: table.name).columns(table.columns)
        for row in rows { insert.values(row.map(\.expression)) }
        try await insert.onConflict(with: [table.columns[0]]) { update in
            var u = update
            for column in table.columns.dropFirst() { u = u.set(excludedValueOf: column) }
            return u
        }.run()
    }

    /// The stored chain from `fromHeight`, as export lines (one block's canonical JSON each),
    /// `pageSize` blocks at a time so a long chain is never all in memory.
    func exportLines(fromHeight: Int64 = 0, pageSize: Int64 = 500, _ emit: ([UInt8]) async throws -> Void) async throws {
        var from = fromHeight
        while true {
            let to = from + pageSize
            let headers = try await sql.raw("""
                SELECT height, hash, prev_hash, tx_root, tx_count, time_ms, signature FROM blocks
                WHERE height >= \(bind: from) AND height < \(bind: to) ORDER BY height
                """).all()
            if headers.isEmpty { return }
            let txRows = try await sql.raw("""
                SELECT id, block_height, body, signature FROM transactions
                WHERE block_height >= \(bind: from) AND block_height < \(bind: to) ORDER BY block_height, position
                """).all()
            var txsByHeight: [Int64: [JSON]] = [:]
            for row in txRows {
                let body = try JSON.parse(try row.decode(column: "body", as: String.self))
                txsByHeight[try row.decode(column: "block_height", as: Int64.self), default: []].append(
                    .object(["id": .string(try row.decode(column: "id", as: String.self)), "body": body,
                             "signature": .string(try row.decode(column: "signature", as: String.self))]))
            }
            for row in headers {
                let height = try row.decode(column: "height", as: Int64.self)
                let header: JSON = [
                    "height": .int(height), "prevHash": .string(try row.decode(column: "prev_hash", as: String.self)),
                    "txRoot": .string(try row.decode(column: "tx_root", as: String.self)),
                    "txCount": .int(try row.decode(column: "tx_count", as: Int64.self)),
                    "time": .int(try row.decode(column: "time_ms", as: Int64.self)),
                ]
                let block: JSON = [
                    "header": header, "hash": .string(try row.decode(column: "hash", as: String.self)),
                    "signature": .string(try row.decode(column: "signature", as: String.self)),
                    "transactions": .array(txsByHeight[height] ?? []),
                ]
                try await emit(block.canonicalBytes)
            }
            from = to
        }
    }

    func exportAll() async throws -> [UInt8] {
        var out: [UInt8] = []
        try await exportLines { line in
            out += line
            out.append(0x0A)
        }
        return out
    }

    /// Every projection row, table by table, keyed by primary key.
    func projectionRows() async throws -> [String: [String: [Cell]]] {
        var result: [String: [String: [Cell]]] = [:]
        for table in Projection.all {
            var rows: [String: [Cell]] = [:]
            for row in try await sql.raw("SELECT \(unsafeRaw: table.columns.joined(separator: ", ")) FROM \(ident: table.name)").all() {
                let cells = try table.columns.map { column -> Cell in
                    if try row.decodeNil(column: column) { return .null }
                    return table.isInteger.contains(column) ? .int(try row.decode(column: column, as: Int64.self))
                        : .text(try row.decode(column: column, as: String.self))
                }
                rows[Projection.key(of: cells)] = cells
            }
            result[table.name] = rows
        }
        return result
    }

    /// Where the tables differ from what the replayed state implies: missing, extra or changed rows.
    func projectionProblems(against state: LedgerState) async throws -> [String] {
        let stored = try await projectionRows()
        let expected = Projection.rows(of: state)
        var problems: [String] = []
        for table in Projection.all {
            let have = stored[table.name] ?? [:], want = expected[table.name] ?? [:]
            for (key, row) in want.sorted(by: { $0.key < $1.key }) where have[key] != row {
                problems.append(have[key] == nil ? "\(table.name) \(key): missing" : "\(table.name) \(key): \(have[key]!) instead of \(row)")
            }
            for key in have.keys.sorted() where want[key] == nil { problems.append("\(table.name) \(key): not in the chain") }
        }
        return problems
    }
}

extension Cell {
    var expression: any SQLExpression {
        switch self {
        case .text(let s): SQLBind(s)
        case .int(let n): SQLBind(n)
        case .null: SQLLiteral.null
        }
    }
}

extension Array {
    func chunked(_ size: Int) -> [ArraySlice<Element>] {
        stride(from: 0, to: count, by: size).map { self[$0..<Swift.min($0 + size, count)] }
    }
}
