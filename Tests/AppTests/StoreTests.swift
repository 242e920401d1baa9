import FluentKit
import Foundation
import Ledger
import SQLKit
import Testing
import Vapor

@testable import Core
@testable import Web
@testable import Commands

/// The chain and its projections in SQL, on SQLite and (with CASCADE_TEST_POSTGRES_URL) PostgreSQL.
@Suite struct StoreTests {
    /// Applies the shared conformance chain block by block and stores each block with its rows.
    static func storeVectorChain(_ store: LedgerStore) async throws -> LedgerState {
        let text = try String(contentsOf: TestDatabase.vectors.appendingPathComponent("chain-valid.jsonl"), encoding: .utf8)
        var state = LedgerState()
        for (i, line) in text.split(separator: "\n").enumerated() {
            let block = try ParsedBlock(line: Array(line.utf8), index: i, profile: .standard).block
            var effects: [TxEffects] = []
            for tx in block.transactions { effects.append(try state.apply(tx).get()) }
            let logNodes = state.extendLog(with: block.transactions)
            try await store.append(block, effects: effects, state: state, logNodes: logNodes)
        }
        return state
    }

    @Test func migrationsRunOnceAndAreRecorded() async throws {
        try await TestDatabase.with { app in
            // setup: migrated by the harness; act: migrate again
            try await app.autoMigrate()
            // check: each file recorded once, the tables there
            let names = try await app.sql.raw("SELECT name FROM _fluent_migrations").all().map { try $0.decode(column: "name", as: String.self) }
            #expect(names.filter { $0 == "0001_ledger" }.count == 1)
            for table in ["blocks", "transactions", "orgs", "credit_lines", "receivables", "tokens", "financings", "policy"] {
                _ = try await app.sql.raw("SELECT COUNT(*) AS n FROM \(ident: table)").first()
            }
        }
    }

    @Test func storedChainExportsAndVerifiesAgainstItsProjections() async throws {
        try await TestDatabase.with { app in
            let store = LedgerStore(db: app.db)
            let state = try await Self.storeVectorChain(store)
            // The export replays to the expected state…
            let export = try await store.exportAll()
            let replayed = try ChainReplayer.verify(export: export, parallelism: 2).get()
            let expected = try JSON.parse(Array(Data(contentsOf: TestDatabase.vectors.appendingPathComponent("expected-state.json"))))
            #expect(replayed.state.snapshotJSON.differences(from: expected) == [])
            #expect(replayed.state.snapshotJSON == state.snapshotJSON)
            // …and every projection row is what the replay implies.
            #expect(try await store.projectionProblems(against: replayed.state) == [])
            // An export from a later height holds only the later blocks.
            var later = 0
            try await store.exportLines(fromHeight: 45) { _ in later += 1 }
            #expect(later == 5)
        }
    }

    @Test func aTamperedProjectionIsFound() async throws {
        try await TestDatabase.with { app in
            let store = LedgerStore(db: app.db)
            let state = try await Self.storeVectorChain(store)
            let token = state.tokens.values.first { $0.status == .active }!
            try await app.sql.raw("UPDATE tokens SET amount_fen = amount_fen + 1 WHERE id = \(bind: token.id.description)").run()
            try await app.sql.raw("DELETE FROM financings WHERE status = 'rejected'").run()
            let problems = try await store.projectionProblems(against: state)
            #expect(problems.contains { $0.hasPrefix("tokens \(token.id)") })
            #expect(problems.contains { $0.hasPrefix("financings") && $0.hasSuffix("missing") })
        }
    }

    @Test func aBlockThatCannotBeWrittenLeavesNothingBehind() async throws {
        try await TestDatabase.with { app in
            let store = LedgerStore(db: app.db)
            let state = try await Self.storeVectorChain(store)
            let before = try await app.sql.raw("SELECT COUNT(*) AS n FROM transactions").first()!.decode(column: "n", as: Int.self)
            // A block at a height already stored: its transactions and rows must not half-land.
            var bogus = try await {
                var out: [UInt8] = []
                try await store.exportLines(fromHeight: 49) { out = $0 }
                return try ParsedBlock(line: out, index: 49, profile: .standard).block
            }()
            bogus.transactions = bogus.transactions.map { var t = $0; t.id = TxID(String(repeating: "e", count: 64))!; return t }
            await #expect(throws: (any Error).self) { try await store.append(bogus, effects: [], state: state, logNodes: []) }
            let after = try await app.sql.raw("SELECT COUNT(*) AS n FROM transactions").first()!.decode(column: "n", as: Int.self)
            #expect(after == before)
        }
    }
}

/// `cascade migrate`, `export` and `verify` against a database.
@Suite struct StoreCommandTests {
    func run(_ arguments: [String], _ prepare: @escaping (Application) async throws -> Void = { _ in }) async throws {
        try await TestDatabase.with(arguments: arguments) { app in
            try await prepare(app)
            try await configure(app)
            try await app.execute()
        }
    }

    @Test func verifyReplaysTheStoredChainAndChecksTheProjections() async throws {
        try await run(["verify"]) { app in _ = try await StoreTests.storeVectorChain(LedgerStore(db: app.db)) }
    }

    @Test func verifyFailsWhenAProjectionWasEdited() async throws {
        await #expect(throws: CommandFailure.self) {
            try await run(["verify"]) { app in
                _ = try await StoreTests.storeVectorChain(LedgerStore(db: app.db))
                try await app.sql.raw("UPDATE credit_lines SET used_fen = 0").run()
            }
        }
    }

    @Test func exportWritesTheChainThatVerifies() async throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("export-\(UUID()).jsonl")
        defer { try? FileManager.default.removeItem(at: out) }
        try await run(["export", "--out", out.path]) { app in _ = try await StoreTests.storeVectorChain(LedgerStore(db: app.db)) }
        let replayed = try ChainReplayer.verify(export: Array(Data(contentsOf: out)), parallelism: 2).get()
        #expect(replayed.blockCount == 50)
    }

    @Test func migrateIsIdempotent() async throws {
        try await run(["migrate"])
    }
}
