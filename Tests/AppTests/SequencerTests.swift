import Foundation
import NIOConcurrencyHelpers
import Ledger
import PostgresNIO
import Testing
import Vapor

@testable import Core
@testable import Web
@testable import Commands

final class FakeClock: LedgerClock, @unchecked Sendable {
    private let lock = NSLock()
    private var ms: Int64
    init(_ date: String) { ms = BusinessDate(date)!.startEpochMs + 9 * 3_600_000 }
    func nowMs() -> Int64 { lock.withLock { ms } }
    func advance(days: Int64) { lock.withLock { ms += days * 86_400_000 } }
    func advance(minutes: Int64) { lock.withLock { ms += minutes * 60_000 } }
    func advance(ms step: Int64) { lock.withLock { ms += step } }
}

/// A consortium whose every org signs with its own key, submitting through a real sequencer
/// on a real database.
struct Consortium {
    let sequencer: Sequencer
    let clock: FakeClock
    let signers: [String: Ed25519Signer]
    let ids: [String: OrgID]
    static let names: [(String, OrgRole)] = [("op", .operator), ("core", .core), ("s1", .supplier), ("s2", .supplier), ("s3", .supplier), ("bank", .bank), ("reg", .regulator)]

    static func make(_ app: Application, maxBlockTx: Int = 1_000, store: LedgerStore? = nil) async throws -> Consortium {
        var signers: [String: Ed25519Signer] = [:], ids: [String: OrgID] = [:]
        for (i, (name, _)) in names.enumerated() {
            signers[name] = try Ed25519Signer(seed: [UInt8](repeating: UInt8(40 + i), count: 32))
            ids[name] = OrgID("00000000-0000-4000-8000-0000000000\(10 + i)")!
        }
        let op = signers["op"]!
        let clock = FakeClock("2026-09-01")
        let writerStore = if let store { store } else { try await TestDatabase.writerStore(app) }
        let sequencer = try await Sequencer.load(store: writerStore, sealer: { op }, clock: clock, maxBlockTx: maxBlockTx,
                                                 reconnect: TestDatabase.reconnect(app))
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
    /// When that connection is lost, the writer reconnects and takes the lock again before it
    /// writes anything; while someone else holds the lock it writes nothing and answers 503; once
    /// the lock is free it takes up what the database holds and goes on.
    @Test(.enabled(if: TestDatabase.postgresURL != nil)) func aWriterThatLosesItsLockGetsItBackBeforeWritingAgain() async throws {
        try await TestDatabase.with { app in
            // setup
            let c = try await Consortium.make(app)
            let token = try await c.activeToken()
            let (schema, key) = try await TestDatabase.writerLockKey(app)
            // act 1: someone else queues for the lock, and the writer's connection is ended: the
            // lock passes to the one waiting, before the writer can ask for it again
            let intruder = try await TestDatabase.connection()
            let queued = Task { try await intruder.query(PostgresQuery(unsafeSQL: "SELECT pg_advisory_lock(\(key))"), logger: app.logger) }
            try await poll("the intruder to wait for the lock") {
                try await app.sql.raw("SELECT 1 FROM pg_locks WHERE \(TestDatabase.lockRows(key, granted: false))").first() != nil
            }
            #expect(try await TestDatabase.endWriterLockHolder(app) == 1)
            _ = try await queued.value
            let height = await c.sequencer.height
            // check 1: nothing is written without the lock; callers hear 503 while it is taken
            let refused = await #expect(throws: Unavailable.self) { _ = try await c.submit("s1", .split(tokenId: token, amountsFen: [1, 999_999])) }
            #expect(refused != nil)
            #expect(await c.sequencer.recovering != nil)
            #expect(try await LedgerStore(db: app.db).tip()?.height == height)
            // act 2: the lock is let go
            try await intruder.close()
            try await poll("the writer to take its lock back") { await c.sequencer.recovering == nil }
            // check 2: the writer holds the lock again (a second writer cannot start) and writes
            await #expect(throws: WriterLock.Taken.self) {
                _ = try await WriterLock.acquire(.postgres(url: TestDatabase.postgresURL!, schema: schema), logger: app.logger)
            }
            let split = try await c.submit("s1", .split(tokenId: token, amountsFen: [1, 999_999]))
            #expect(split.blockHeight == height + 1)
            let replayed = try ChainReplayer.verify(export: try await LedgerStore(db: app.db).exportAll(), parallelism: 2).get()
            #expect(replayed.height == height + 1)
            #expect(await c.sequencer.read(\.snapshotJSON) == replayed.state.snapshotJSON)
        }
    }

    /// A block in flight when the lock's connection goes is neither lost nor written twice: its
    /// caller waits while the writer reconnects and hears the block's true fate.
    @Test(.enabled(if: TestDatabase.postgresURL != nil)) func aBlockInFlightWhenTheConnectionGoesIsWrittenOnce() async throws {
        try await TestDatabase.with { app in
            let c = try await Consortium.make(app)
            let tokens = try await c.submit("s1", .split(tokenId: try await c.activeToken(), amountsFen: Array(repeating: 10_000, count: 100))).effects.createdTokens
            let height = await c.sequencer.height
            // The connection is ended while the next block is sealed and about to be written (once).
            let fired = NIOLockedValueBox(false)
            await c.sequencer.setBeforeCommit { _ in
                guard !fired.withLockedValue({ was in defer { was = true }; return was }) else { return }
                _ = try await TestDatabase.endWriterLockHolder(app)
                try await poll("the server to close the writer's connection") { Platform.heldLock(app)?.connection?.isClosed ?? true }
            }
            let first = try await c.submit("s1", .transfer(tokenId: tokens[0], toOrgId: c.ids["s2"]!, amountFen: 10_000, memo: nil))
            await c.sequencer.setBeforeCommit(nil)
            // Under load afterwards: every transfer is committed once.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for piece in tokens.dropFirst() {
                    group.addTask { _ = try await c.submit("s1", .transfer(tokenId: piece, toOrgId: c.ids["s2"]!, amountFen: 10_000, memo: nil)) }
                }
                try await group.waitForAll()
            }
            #expect(first.blockHeight == height + 1)
            let replayed = try ChainReplayer.verify(export: try await LedgerStore(db: app.db).exportAll(), parallelism: 2).get()
            let offered = try await app.sql.raw("SELECT COUNT(*) AS n FROM tokens WHERE holder_id = \(bind: c.ids["s2"]!.description) AND status = 'pending'").first()!
            #expect(try offered.decode(column: "n", as: Int.self) == 100)
            #expect(await c.sequencer.read(\.snapshotJSON) == replayed.state.snapshotJSON)
        }
    }

    /// A block the database does not answer (a server that stopped answering, a primary gone
    /// with its socket still open) must not hold the writer for ever: past the answer limit it
    /// gives the connection up and reconnects, and what the database did with the block decides.
    @Test(.enabled(if: TestDatabase.postgresURL != nil)) func aBlockTheDatabaseDoesNotAnswerMakesTheWriterReconnect() async throws {
        try await TestDatabase.with { app in
            // setup: a writer whose block writes must be answered within 2 s
            var store = try await TestDatabase.writerStore(app)
            store.answerLimit = .seconds(2)
            let c = try await Consortium.make(app, store: store)
            let tokens = try await c.submit("s1", .split(tokenId: try await c.activeToken(), amountsFen: [400_000, 600_000])).effects.createdTokens
            let height = await c.sequencer.height
            // act: another session holds the blocks table, so the next block's write is not answered
            let (schema, _) = try await TestDatabase.writerLockKey(app)
            let holder = try await TestDatabase.connection()
            let first: Task<Outcome, any Error>
            do {
                _ = try await holder.query("BEGIN", logger: app.logger).get()
                _ = try await holder.query("LOCK TABLE \"\(unescaped: schema)\".blocks IN ACCESS EXCLUSIVE MODE", logger: app.logger).get()
                first = Task { try await c.submit("s1", .transfer(tokenId: tokens[0], toOrgId: c.ids["s2"]!, amountFen: 400_000, memo: nil)) }
                try await poll("the writer to give up the unanswered connection and reconnect") { await c.sequencer.recovering != nil }
                _ = try await holder.query("COMMIT", logger: app.logger).get()
            } catch {
                try? await holder.close()
                throw error
            }
            try await holder.close()
            // check: the block the database wrote after all is taken up once; the writer goes on
            _ = try? await first.value
            try await poll("the writer to be back") { await c.sequencer.recovering == nil }
            _ = try await c.submit("s1", .transfer(tokenId: tokens[1], toOrgId: c.ids["s3"]!, amountFen: 600_000, memo: nil))
            #expect(await c.sequencer.height == height + 2)
            let replayed = try ChainReplayer.verify(export: try await LedgerStore(db: app.db).exportAll(), parallelism: 2).get()
            #expect(await c.sequencer.read(\.snapshotJSON) == replayed.state.snapshotJSON)
            #expect(try await LedgerStore(db: app.db).projectionProblems(against: replayed.state) == [])
        }
    }

    /// An idle writer asks its connection every few seconds: one that does not answer is given up
    /// and the writer reconnects, rather than sitting on a dead primary until a block fails.
    @Test(.enabled(if: TestDatabase.postgresURL != nil)) func anIdleWriterWhoseConnectionDoesNotAnswerReconnects() async throws {
        try await TestDatabase.with { app in
            // setup
            let c = try await Consortium.make(app)
            let token = try await c.activeToken()
            await c.sequencer.heartbeat(within: .seconds(1))
            #expect(await c.sequencer.recovering == nil)
            // act: the blocks table is held by another session while the writer asks
            let (schema, _) = try await TestDatabase.writerLockKey(app)
            let holder = try await TestDatabase.connection()
            do {
                _ = try await holder.query("BEGIN", logger: app.logger).get()
                _ = try await holder.query("LOCK TABLE \"\(unescaped: schema)\".blocks IN ACCESS EXCLUSIVE MODE", logger: app.logger).get()
                let asked = Task { await c.sequencer.heartbeat(within: .seconds(1)) }
                try await poll("the writer to give its connection up") { await c.sequencer.recovering != nil }
                _ = try await holder.query("COMMIT", logger: app.logger).get()
                await asked.value
            } catch {
                try? await holder.close()
                throw error
            }
            try await holder.close()
            // check: back, and writing
            #expect(await c.sequencer.recovering == nil)
            _ = try await c.submit("s1", .split(tokenId: token, amountsFen: [1, 999_999]))
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

/// The demo's business clock: moved forward by hand, never back, and after a restart never behind
/// the chain it writes (a restart at maturity stays at maturity).
@Suite struct AdjustableClockTests {
    @Test func itMovesForwardOnlyAndCatchesUpWithTheChain() throws {
        let base = FakeClock("2026-12-01")
        let clock = AdjustableClock(base: base)
        #expect(throws: LedgerError.self) { try clock.move(to: BusinessDate("2026-11-30")!) }
        try clock.move(to: BusinessDate("2027-03-02")!)
        #expect(BusinessDate(epochMs: clock.nowMs()) == BusinessDate("2027-03-02")!)
        // Started again: the system clock is back at 2026-12-01, the chain's last block at maturity.
        let restarted = AdjustableClock(base: base)
        let tip = clock.nowMs()
        restarted.catchUp(to: tip)
        #expect(restarted.nowMs() == tip)
        restarted.catchUp(to: tip - 86_400_000)  // never back
        #expect(restarted.nowMs() == tip)
        base.advance(minutes: 5)
        #expect(restarted.nowMs() == tip + 300_000)
    }
}
