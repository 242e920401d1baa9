import FluentKit
import class Vapor.Application
import protocol Vapor.StorageKey
import FluentSQLiteDriver
import Foundation
import Ledger
import Logging
import PostgresKit
import PostgresNIO
import SQLKit

/// The chain and its projections in SQL. Writing a block is all or nothing: the block, its
/// transactions, every projection row they changed, its events and payments.
package struct LedgerStore: Sendable {
    package let db: any Database
    /// The writer's own PostgreSQL connection (the one holding the writer lock): when set, blocks
    /// are written through it and nowhere else.
    package var writer: PostgresConnection?
    /// Where reads go instead of the pool: one connection holding one snapshot (`atOneMoment`).
    package var reader: (any SQLDatabase)?
    /// How long a block's write may go unanswered before the writer gives its connection up.
    package var answerLimit = GuardedConnection.answerLimit

    package init(db: any Database, writer: PostgresConnection? = nil) {
        self.db = db
        self.writer = writer
    }

    /// The writer's connection is gone, and the writer lock with it: no block may be written.
    package var writerLost: Bool { writer?.isClosed ?? false }
    package var sql: any SQLDatabase { reader ?? SQLiteWrites.sql(db) }

    /// Rows for one table, written as they are (`upsert` false) or replacing the row with the
    /// same primary key (the first column).
    package struct RowSet {
        package var table: String
        package var columns: [String]
        package var rows: [[Cell]]
        package var upsert: Bool
    }

    /// The tables a block writes, in the order it writes them, with their columns.
    package static let shapes: [RowSet] = [
        RowSet(table: "blocks", columns: ["height", "hash", "prev_hash", "tx_root", "tx_count", "time_ms", "signature", "profile", "log_size"], rows: [], upsert: false),
        RowSet(table: "transactions", columns: ["id", "block_height", "position", "type", "org_id", "time_ms", "body", "signature"], rows: [], upsert: false),
        RowSet(table: "log_nodes", columns: ["level", "idx", "hash"], rows: [], upsert: false),
    ] + Projection.all.map { RowSet(table: $0.name, columns: $0.columns, rows: [], upsert: true) } + [
        RowSet(table: "events", columns: Feed.eventColumns, rows: [], upsert: false),
        RowSet(table: "payments", columns: Feed.paymentColumns, rows: [], upsert: false),
    ]

    /// Everything a block writes, table by table in the order of `shapes` (a table the block
    /// left alone has no rows): the block, its transactions, the transaction log's subtrees they
    /// complete (`logNodes`), every projection row they changed (as it stands in `state`, the
    /// state after the block, its log extended by the block), its events and payments. Event rows
    /// carry their order within the block in `seq`; the writer adds the feed's end.
    package static func rowSets(_ block: Block, effects: [TxEffects], state: LedgerState, logNodes: [(LogTree.Node, LogTree.Hash)]) -> [RowSet] {
        let h = block.header
        var rows: [String: [[Cell]]] = [
            "blocks": [[.int(h.height), .text(block.hash), .text(h.prevHash), .text(h.txRoot), .int(Int64(h.txCount)), .int(h.time),
                        .text(Base64.encode(block.signature)), h.profile.map { .text($0.rawValue) } ?? .null, .int(state.log.size)]],
            "log_nodes": logNodes.map { node, hash in [.int(Int64(node.level)), .int(node.index), .text(Hex.encode(hash))] },
            "transactions": block.transactions.enumerated().map { i, tx in
                [.text(tx.id.description), .int(h.height), .int(Int64(i)), .text(tx.body.type.rawValue), .text(tx.body.orgId.description),
                 .int(tx.body.time), .text(String(decoding: tx.canonicalBody, as: UTF8.self)), .text(Base64.encode(tx.signature))]
            },
        ]
        for (table, tableRows) in Projection.touchedRows(effects, in: state) { rows[table.name] = tableRows }
        (rows["events"], rows["payments"]) = Feed.rows(block, effects: effects, state: state)
        return shapes.map { shape in
            var set = shape
            set.rows = rows[shape.table] ?? []
            return set
        }
    }

    /// Writes a sealed block and everything it changed. All or nothing: through the writer's
    /// PostgreSQL connection one statement (one round trip, atomic by itself); without one (SQLite)
    /// one database transaction.
    package func append(_ block: Block, effects: [TxEffects], state: LedgerState, logNodes: [(LogTree.Node, LogTree.Hash)]) async throws {
        let sets = Self.rowSets(block, effects: effects, state: state, logNodes: logNodes)
        if let writer {
            // Through `GuardedConnection`: the statement is written from the connection's event
            // loop only while it is open (one written after it closed would never be answered;
            // this function does not run on that loop, so a check here and a write would race a
            // failover), and it must be answered within the answer limit, or the connection is
            // closed. Either way the writer hears that its connection is gone and recovers,
            // finding out from the database whether the block was written.
            try await GuardedConnection(connection: writer, limit: answerLimit, logger: db.logger)
                .raw(Self.appendQuery(sets)).run()
            return
        }
        try await db.sqlTransaction { db in
            for set in sets where !set.rows.isEmpty {
                var rows = set.rows
                if set.table == "events" {
                    let base = try await lastSeq(of: "events", on: db)
                    rows = rows.map { row in
                        guard case .int(let n) = row[0] else { return row }
                        return [.int(base + n)] + row.dropFirst()
                    }
                }
                for chunk in rows.chunked(200) {
                    try await Self.insert(set.table, set.columns, chunk, upsert: set.upsert, on: db)
                }
            }
        }
    }

    /// The hash of the stored block at `height`, if there is one.
    package func blockHash(at height: Int64) async throws -> String? {
        try await sql.raw("SELECT hash FROM blocks WHERE height = \(bind: height)").first()?.decode(column: "hash", as: String.self)
    }

    /// The audit path of transaction `id` in block `height`, from the block's header and its
    /// transactions' ids in order (by index): two reads, whatever the chain's length.
    package func inclusionProof(of id: TxID, inBlock height: Int64, profile: CryptoProfile) async throws -> InclusionProof? {
        guard let header = try await sql.raw("""
            SELECT height, hash, prev_hash, tx_root, tx_count, time_ms, signature, profile FROM blocks WHERE height = \(bind: height)
            """).first() else { return nil }
        let ids = try await sql.raw("SELECT id FROM transactions WHERE block_height = \(bind: height) ORDER BY position").all()
            .compactMap { TxID(try $0.decode(column: "id", as: String.self)) }
        guard let index = ids.firstIndex(of: id) else { return nil }
        let blockHeader = BlockHeader(height: height, prevHash: try header.decode(column: "prev_hash", as: String.self),
                                      txRoot: try header.decode(column: "tx_root", as: String.self),
                                      txCount: try header.decode(column: "tx_count", as: Int64.self), time: try header.decode(column: "time_ms", as: Int64.self),
                                      profile: try header.decode(column: "profile", as: String?.self).map { try CryptoProfile(named: $0) })
        return InclusionProof(transactionId: id.description, blockHeight: height, leafIndex: index,
                              auditPath: Merkle.auditPath(index: index, leaves: ids.map(\.bytes), profile: profile).map { Hex.encode($0) },
                              header: blockHeader, hash: try header.decode(column: "hash", as: String.self),
                              signature: try header.decode(column: "signature", as: String.self), profile: profile)
    }

    /// The last stored block, or nil for an empty chain.
    package func tip() async throws -> ChainTip? {
        guard let row = try await sql.raw("SELECT height, hash, time_ms FROM blocks ORDER BY height DESC LIMIT 1").first() else { return nil }
        return ChainTip(height: try row.decode(column: "height", as: Int64.self), hash: try row.decode(column: "hash", as: String.self),
                        time: try row.decode(column: "time_ms", as: Int64.self))
    }

    /// The stored blocks after `height`, read as a replay of `state`'s chain reads them.
    package func blocks(after height: Int64, of state: LedgerState) async throws -> [ParsedBlock] {
        var blocks: [ParsedBlock] = []
        var profile: CryptoProfile?
        try await exportLines(fromHeight: height + 1) { line in
            let chain = profile ?? state.profile(reading: line)
            profile = chain
            blocks.append(try ParsedBlock(line: line, index: Int(height) + 1 + blocks.count, profile: chain))
        }
        return blocks
    }

    /// A database error caused by what a block holds rather than by the database: a value it
    /// cannot store (PostgreSQL's class 22, data exceptions), a constraint (class 23, or SQLite's),
    /// a row too large (54). The block's other transactions may still be written without it.
    package static func isContentFault(_ error: any Error) -> Bool {
        if error is ContentFault { return true }
        if let e = error as? PSQLError, let state = e.serverInfo?[.sqlState] {
            return state.hasPrefix("22") || state.hasPrefix("23") || state.hasPrefix("54")
        }
        if let e = error as? any DatabaseError { return e.isConstraintFailure }
        return false
    }

    /// A refusal of a block's content, as the database would give it (tests inject it).
    package struct ContentFault: Error, CustomStringConvertible {
        package var description: String
    }

    package static func insert(_ table: String, _ columns: [String], _ rows: ArraySlice<[Cell]>, upsert: Bool, on db: any SQLDatabase) async throws {
        let insert = db.insert(into: table).columns(columns)
        for row in rows { insert.values(row.map(\.expression)) }
        if upsert {
            insert.onConflict(with: [columns[0]]) { update in
                var u = update
                for column in columns.dropFirst() { u = u.set(excludedValueOf: column) }
                return u
            }
        }
        try await insert.run()
    }

    /// The whole block as one PostgreSQL statement: each table's rows travel as one JSON
    /// parameter (`[]` when the block left the table alone), unpacked by
    /// `json_populate_recordset` in a data-modifying `WITH`. One statement is atomic by itself.
    package static func appendQuery(_ sets: [RowSet]) -> SQLQueryString {
        var clauses: [SQLQueryString] = []
        for set in sets {
            var selected = set.columns.map { "r.\($0)" }
            var from = SQLQueryString("json_populate_recordset(NULL::\(unsafeRaw: set.table), \(bind: jsonRows(set))::json) r")
            if set.table == "events" {
                // The feed's sequence continues from its end, read in this statement's snapshot.
                selected[0] = "m.base + r.seq"
                from = "(SELECT COALESCE(MAX(seq), 0) AS base FROM events) m, " + from
            }
            var clause = SQLQueryString("INSERT INTO \(unsafeRaw: set.table) (\(unsafeRaw: set.columns.joined(separator: ", "))) SELECT \(unsafeRaw: selected.joined(separator: ", ")) FROM ") + from
            if set.upsert {
                let updates = set.columns.dropFirst().map { "\($0) = EXCLUDED.\($0)" }.joined(separator: ", ")
                clause += " ON CONFLICT (\(unsafeRaw: set.columns[0])) DO UPDATE SET \(unsafeRaw: updates)"
            }
            clauses.append(clause)
        }
        // The last insert is the statement itself; the others run, to completion, in its WITH.
        let main = clauses.removeLast()
        var query = SQLQueryString("WITH ")
        for (k, clause) in clauses.enumerated() { query += (k > 0 ? ", " : "") + "s\(unsafeRaw: String(k)) AS (" + clause + ")" }
        return query + " " + main
    }

    /// A set's rows as a JSON array of objects keyed by column name.
    package static func jsonRows(_ set: RowSet) -> String {
        var rows: [UInt8] = [UInt8(ascii: "[")]
        for (i, row) in set.rows.enumerated() {
            if i > 0 { rows.append(UInt8(ascii: ",")) }
            rows.append(UInt8(ascii: "{"))
            for (c, (column, cell)) in zip(set.columns, row).enumerated() {
                if c > 0 { rows.append(UInt8(ascii: ",")) }
                JSON.writeCanonicalString(column, into: &rows)
                rows.append(UInt8(ascii: ":"))
                switch cell {
                case .text(let text): JSON.writeCanonicalString(text, into: &rows)
                case .int(let n): rows.append(contentsOf: String(n).utf8)
                case .null: rows.append(contentsOf: "null".utf8)
                }
            }
            rows.append(UInt8(ascii: "}"))
        }
        rows.append(UInt8(ascii: "]"))
        return String(decoding: rows, as: UTF8.self)
    }

    /// The stored chain from `fromHeight`, as export lines (one block's canonical JSON each),
    /// `pageSize` blocks at a time so a long chain is never all in memory.
    package func exportLines(fromHeight: Int64 = 0, pageSize: Int64 = 500, _ emit: ([UInt8]) async throws -> Void) async throws {
        var from = fromHeight
        while true {
            let to = from + pageSize
            let headers = try await sql.raw("""
                SELECT height, hash, prev_hash, tx_root, tx_count, time_ms, signature, profile FROM blocks
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
                var fields: [JSONKey: JSON] = [
                    "height": .int(height), "prevHash": .string(try row.decode(column: "prev_hash", as: String.self)),
                    "txRoot": .string(try row.decode(column: "tx_root", as: String.self)),
                    "txCount": .int(try row.decode(column: "tx_count", as: Int64.self)),
                    "time": .int(try row.decode(column: "time_ms", as: Int64.self)),
                ]
                // Block 0 of a chain in the 国密 profile names it.
                if let profile = try row.decode(column: "profile", as: String?.self) { fields["profile"] = .string(profile) }
                let header = JSON.object(fields)
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

    package func exportAll() async throws -> [UInt8] {
        var out: [UInt8] = []
        try await exportLines { line in
            out += line
            out.append(0x0A)
        }
        return out
    }

    /// Every projection row, table by table, keyed by primary key.
    package func projectionRows() async throws -> [String: [String: [Cell]]] {
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
    package func projectionProblems(against state: LedgerState) async throws -> [String] {
        let stored = try await projectionRows()
        let expected = Projection.rows(of: state)
        let summaries = (stored: try await Summaries.stored(on: sql), expected: Summaries.expected(of: state))
        return Projection.all.flatMap { Self.differences(in: $0.name, have: stored[$0.name] ?? [:], want: expected[$0.name] ?? [:]) }
            + summaries.expected.keys.sorted().flatMap { Self.differences(in: $0, have: summaries.stored[$0] ?? [:], want: summaries.expected[$0] ?? [:]) }
    }

    /// Every row of `table` the database holds otherwise than the chain says, by key: missing,
    /// different, or not in the chain at all.
    static func differences<Row: Equatable>(in table: String, have: [String: Row], want: [String: Row]) -> [String] {
        var problems: [String] = []
        for (key, row) in want.sorted(by: { $0.key < $1.key }) where have[key] != row {
            problems.append(have[key].map { "\(table) \(key): \($0) instead of \(row)" } ?? "\(table) \(key): missing")
        }
        for key in have.keys.sorted() where want[key] == nil { problems.append("\(table) \(key): not in the chain") }
        return problems
    }
}

extension Cell {
    package var expression: any SQLExpression {
        switch self {
        case .text(let s): SQLBind(s)
        case .int(let n): SQLBind(n)
        case .null: SQLLiteral.null
        }
    }
}

extension Array {
    package func chunked(_ size: Int) -> [ArraySlice<Element>] {
        stride(from: 0, to: count, by: size).map { self[$0..<Swift.min($0 + size, count)] }
    }
}

extension LedgerStore {
    /// Runs `body` with a store whose every read sees one moment of the database: the chain and
    /// the projection tables as one block's commit left them, however many blocks commit while
    /// it reads. Reading them one after the other instead, a block committed in between shows
    /// as rows the chain does not explain.
    ///
    /// PostgreSQL: one pooled connection in a read-only `REPEATABLE READ` transaction. SQLite: a
    /// connection of its own in a read transaction (write-ahead logging keeps its snapshot while
    /// the writer goes on), so that the pool's connections stay free for requests.
    package func atOneMoment<T: Sendable>(_ body: @escaping @Sendable (LedgerStore) async throws -> T) async throws -> T {
        let db = self.db
        if let postgres = db as? any PostgresDatabase {
            return try await postgres.withConnection { connection in
                connection.eventLoop.makeFutureWithTask {
                    let reader = GuardedConnection(connection: connection, limit: GuardedConnection.answerLimit, logger: db.logger)
                    return try await reader.inTransaction(begin: "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") { reader in
                        var store = LedgerStore(db: db)
                        store.reader = reader
                        return try await body(store)
                    }
                }
            }.get()
        }
        guard let file = try await sql.raw("SELECT file FROM pragma_database_list WHERE name = 'main'").first()?.decode(column: "file", as: String.self),
              !file.isEmpty else {
            // An in-memory database has no second connection to read from; nothing writes it concurrently.
            return try await body(self)
        }
        let connection = try await SQLiteConnection.open(storage: .file(path: file), logger: db.logger)
        do {
            let reader = connection.sql()
            _ = try await reader.raw("PRAGMA busy_timeout = \(unsafeRaw: String(Application.sqliteBusyTimeoutMs))").all()
            let result = try await reader.inTransaction(begin: "BEGIN") { reader in
                var store = LedgerStore(db: db)
                store.reader = reader
                return try await body(store)
            }
            try await connection.close()
            return result
        } catch {
            try? await connection.close()
            throw error
        }
    }
}

extension LedgerStore {
    /// A question every stored chain answers quickly: whether the connection still answers.
    package static func ping(_ sql: any SQLDatabase) async throws {
        try await sql.raw("SELECT height FROM blocks ORDER BY height DESC LIMIT 1").run()
    }

    /// The stored rows of `table` whose first column is one of `keys`, keyed by it.
    package func rows(of table: Projection.Table, keys: [String]) async throws -> [String: [Cell]] {
        var out: [String: [Cell]] = [:]
        let columns = table.columns.joined(separator: ", ")
        for chunk in keys.chunked(500) {
            let list = table.isInteger.contains(table.columns[0]) ? SQLList(chunk.compactMap { Int64($0) }.map { SQLBind($0) }) : SQLList(chunk.map { SQLBind($0) })
            for row in try await sql.raw("SELECT \(unsafeRaw: columns) FROM \(ident: table.name) WHERE \(ident: table.columns[0]) IN (\(list))").all() {
                let cells = try Projection.cells(row, of: table)
                out[Projection.key(of: cells)] = cells
            }
        }
        return out
    }
}
