import Foundation
import Ledger
import Testing
import Vapor

@testable import App

final class FakeClock: LedgerClock, @unchecked Sendable {
    private let lock = NSLock()
    private var ms: Int64
    init(_ date: String) { ms = BusinessDate(date)!.startEpochMs + 9 * 3_600_000 }
    func nowMs() -> Int64 { lock.withLock { ms } }
    func advance(days: Int64) { lock.withLock { ms += days * 86_400_000 } }
}

/// A consortium whose every org signs with its own key, submitting through a real sequencer
/// on a real database.
struct Consortium {
    let sequencer: Sequencer
    let clock: FakeClock
    let signers: [String: Ed25519Signer]
    let ids: [String: OrgID]
    static let names: [(String, OrgRole)] = [("op", .operator), ("core", .core), ("s1", .supplier), ("s2", .supplier), ("s3", .supplier), ("bank", .bank), ("reg", .regulator)]

    static func make(_ app: Application, maxBlockTx: Int = 1_000) async throws -> Consortium {
        var signers: [String: Ed25519Signer] = [:], ids: [String: OrgID] = [:]
        for (i, (name, _)) in names.enumerated() {
            signers[name] = try Ed25519Signer(seed: [UInt8](repeating: UInt8(40 + i), count: 32))
            ids[name] = OrgID("00000000-0000-4000-8000-0000000000\(10 + i)")!
        }
        let op = signers["op"]!
        let clock = FakeClock("2026-09-01")
        let sequencer = try await Sequencer.load(store: try await TestDatabase.writerStore(app), sealer: { op }, clock: clock, maxBlockTx: maxBlockTx)
        let c = Consortium(sequencer: sequencer, clock: clock, signers: signers, ids: ids)
        for (i, (name, role)) in names.enumerated() {
            _ = try await c.submit("op", .registerOrg(RegisterOrgPayload(orgId: ids[name]!, name: name, role: role,
                                                                         creditCode: CreditCode.complete("9131000000000010\(i)")!, publicKey: signers[name]!.publicKey)))
        }
        return c
    }

    func submit(_ org: String, _ payload: Payload, nonce: String = UUID().uuidString) async throws -> Outcome {
        let body = TransactionBody(orgId: ids[org]!, keyId: signers[org]!.keyId, time: clock.nowMs(), nonce: nonce, payload: payload)
        return try await sequencer.submit(try Transaction.sign(body, with: signers[org]!))
    }

    /// A line, a receivable of `faceFen` issued to s1 and accepted: returns its token.
    func activeToken(faceFen: Int64 = 1_000_000) async throws -> TokenID {
        let line = try await submit("bank", .grantCredit(coreId: ids["core"]!, limitFen: 1_000_000_000, rateBps: 365, expiresOn: BusinessDate("2028-12-31")!)).effects.creditLineId!
        let today = BusinessDate(epochMs: clock.nowMs())
        let issued = try await submit("core", .issue(IssuePayload(supplierId: ids["s1"]!, creditLineId: line, faceFen: faceFen, issueDate: today,
                                                                   dueDate: today.adding(days: 90), documents: [], memo: nil)))
        let token = issued.effects.createdTokens[0]
        _ = try await submit("s1", .accept(tokenId: token))
        return token
    }
}

@Suite struct SequencerTests {
    @Test func sixtyFourConcurrentSpendsOfOneTokenHaveOneWinner() async throws {
        try await TestDatabase.with { app in
            // setup
            let c = try await Consortium.make(app)
            let token = try await c.activeToken(faceFen: 1_000_000)
            // act: 64 transfers of the same token at once, to s2 and s3 alternately
            let results = await withTaskGroup(of: Result<Outcome, any Error>.self) { group in
                for i in 0..<64 {
                    group.addTask {
                        do {
                            return .success(try await c.submit("s1", .transfer(tokenId: token, toOrgId: c.ids[i % 2 == 0 ? "s2" : "s3"]!, amountFen: Int64(1_000 + i), memo: nil)))
                        } catch { return .failure(error) }
                    }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            // check: one winner, 63 token_not_active, value conserved, chain and tables agree
            #expect(results.filter { if case .success = $0 { true } else { false } }.count == 1)
            let codes = results.compactMap { r -> ErrorCode? in if case .failure(let e as LedgerError) = r { e.code } else { nil } }
            #expect(codes.count == 63 && codes.allSatisfy { $0 == .tokenNotActive })
            let state = await c.sequencer.read { $0 }
            let live = state.tokens.values.filter { [.pending, .active, .locked].contains($0.status) }.reduce(0) { $0 + $1.amountFen }
            #expect(live == 1_000_000)
            let store = LedgerStore(db: app.db)
            let replayed = try ChainReplayer.verify(export: try await store.exportAll(), parallelism: 2).get()
            #expect(replayed.state.snapshotJSON == state.snapshotJSON)
            #expect(try await store.projectionProblems(against: replayed.state) == [])
        }
    }

    @Test func concurrentTransactionsShareBlocks() async throws {
        try await TestDatabase.with { app in
            let c = try await Consortium.make(app)
            let token = try await c.activeToken(faceFen: 1_000_000)
            let pieces = try await c.submit("s1", .split(tokenId: token, amountsFen: Array(repeating: 10_000, count: 100))).effects.createdTokens
            let heightBefore = await c.sequencer.height
            try await withThrowingTaskGroup(of: Void.self) { group in
                for piece in pieces { group.addTask { _ = try await c.submit("s1", .transfer(tokenId: piece, toOrgId: c.ids["s2"]!, amountFen: 10_000, memo: nil)) } }
                try await group.waitForAll()
            }
            let blocks = await c.sequencer.height - heightBefore
            #expect(blocks >= 1 && blocks < 100, "100 transfers took \(blocks) blocks")
        }
    }

    @Test func aFailedCommitLeavesNoTraceAndARestartAgrees() async throws {
        try await TestDatabase.with { app in
            // setup
            let c = try await Consortium.make(app)
            let token = try await c.activeToken()
            let before = await c.sequencer.read(\.snapshotJSON)
            let heightBefore = await c.sequencer.height
            // act: the database write fails after sequencing
            await c.sequencer.setBeforeCommit { _ in throw ConfigurationError("simulated crash between sequencing and commit") }
            await #expect(throws: ConfigurationError.self) {
                _ = try await c.submit("s1", .split(tokenId: token, amountsFen: [1, 999_999]))
            }
            // check: memory and disk as before; a restart from disk agrees; the same spend now succeeds
            #expect(await c.sequencer.read(\.snapshotJSON) == before)
            #expect(await c.sequencer.height == heightBefore)
            let restarted = try await Sequencer.load(store: LedgerStore(db: app.db), sealer: { c.signers["op"]! }, clock: c.clock)
            #expect(await restarted.read(\.snapshotJSON) == before)
            await c.sequencer.setBeforeCommit(nil)
            _ = try await c.submit("s1", .split(tokenId: token, amountsFen: [1, 999_999]))
        }
    }

    /// On PostgreSQL a block is written only through the connection that holds the writer lock.
    /// When that connection is lost, the block in hand is not written, memory goes back to what
    /// the database holds, and the writer accepts nothing more until it is restarted.
    @Test(.enabled(if: TestDatabase.postgresURL != nil)) func withoutItsLockTheWriterWritesNothing() async throws {
        try await TestDatabase.with { app in
            let c = try await Consortium.make(app)
            let token = try await c.activeToken()
            let before = await c.sequencer.read(\.snapshotJSON)
            let height = await c.sequencer.height
            let schema = try await app.sql.raw("SELECT current_schema() AS s").first()!.decode(column: "s", as: String.self)
            let key = UInt64(bitPattern: WriterLock.advisoryKey(schema: schema))
            let ended = try await app.sql.raw("""
                SELECT pg_terminate_backend(pid) AS ended FROM pg_locks WHERE locktype = 'advisory'
                AND classid::bigint = \(bind: Int64(key >> 32)) AND objid::bigint = \(bind: Int64(key & 0xFFFF_FFFF))
                """).all()
            #expect(ended.count == 1)

            await #expect(throws: (any Error).self) { _ = try await c.submit("s1", .split(tokenId: token, amountsFen: [1, 999_999])) }
            #expect(await c.sequencer.read(\.snapshotJSON) == before)
            let stored = try await app.sql.raw("SELECT MAX(height) AS h FROM blocks").first()!.decode(column: "h", as: Int64.self)
            #expect(stored == height)
            let refused = await #expect(throws: ConfigurationError.self) {
                _ = try await c.submit("s1", .split(tokenId: token, amountsFen: [1, 999_999]))
            }
            #expect(refused?.description == "the ledger stopped accepting transactions: the database connection holding the writer lock was lost; restart the writer")
        }
    }

    @Test func aRefusedTransactionIsAnsweredWithItsCodeAndChangesNothing() async throws {
        try await TestDatabase.with { app in
            let c = try await Consortium.make(app)
            let token = try await c.activeToken()
            let height = await c.sequencer.height
            await #expect(throws: LedgerError(.forbidden, "a regulator may not transfer; only a supplier may")) {
                _ = try await c.submit("reg", .transfer(tokenId: token, toOrgId: c.ids["s2"]!, amountFen: 1, memo: nil))
            }
            #expect(await c.sequencer.height == height)
        }
    }
}

@Suite struct WriterLockTests {
    @Test func aSecondWriterOnTheSameDatabaseRefusesToStart() async throws {
        let location: DatabaseLocation
        if let url = TestDatabase.postgresURL {
            location = .postgres(url: url, schema: nil)
        } else {
            location = .sqlite(path: FileManager.default.temporaryDirectory.appendingPathComponent("lock-\(UUID()).sqlite").path)
        }
        let logger = Logger(label: "test")
        let first = try await WriterLock.acquire(location, logger: logger)
        await #expect(throws: WriterLock.Taken.self) { _ = try await WriterLock.acquire(location, logger: logger) }
        await first.release()
        let again = try await WriterLock.acquire(location, logger: logger)
        await again.release()
    }
}
