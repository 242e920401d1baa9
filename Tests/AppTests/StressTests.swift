import Foundation
import NIOConcurrencyHelpers
import Ledger
import SQLKit
import Testing
import Vapor

@testable import Core
@testable import Web
@testable import Commands

/// The tables never drift from the chain, and what would look like drift is not reported as such.
@Suite struct DriftTests {
    /// The regulator's verification read the chain, then read the tables: a block committed in
    /// between (a settlement paying piece after piece, on a slow database) showed as rows "not in
    /// the chain", pieces settled that the replay left active, a line's `used_fen` off by the
    /// pieces paid meanwhile. The reads now see one moment of the database.
    @Test func verificationSeesTheChainAndTheTablesAtOneMoment() async throws {
        try await TestDatabase.with { app in
            // setup: a receivable paid piece by piece at maturity, as the rails record payments
            let c = try await Consortium.make(app)
            let token = try await c.activeToken(faceFen: 1_000_000)
            let pieces = try await c.submit("s1", .split(tokenId: token, amountsFen: Array(repeating: 100_000, count: 10))).effects.createdTokens
            let receivable = await c.sequencer.read { $0.tokens[token]!.receivableId }
            c.clock.advance(days: 90)
            _ = try await c.submit("core", .settle(receivableId: receivable, tokenIds: [pieces[0]], reference: "RAIL-1"))
            // act: the next piece is paid after the chain was read and before the tables are
            let paidMeanwhile = NIOLockedValueBox(false)
            let result = await StoredChainVerification.run(LedgerStore(db: app.db)) { _ in
                guard paidMeanwhile.withLockedValue({ paid in defer { paid = true }; return !paid }) else { return }
                _ = try? await c.submit("core", .settle(receivableId: receivable, tokenIds: [pieces[1]], reference: "RAIL-2"))
            }
            // check: the payment did land, and the verification saw the chain as it read it
            #expect(paidMeanwhile.withLockedValue { $0 })
            #expect(try await app.sql.raw("SELECT status FROM tokens WHERE id = \(bind: pieces[1].description)").first()!.decode(column: "status", as: String.self) == "settled")
            #expect(result.ok, "\(result.problems)")
            let after = await StoredChainVerification.run(LedgerStore(db: app.db))
            #expect(after.ok && after.height == result.height + 1, "\(after.problems)")
        }
    }
}

/// The paths a slow database exercises, all at once: blocks that fill while the one before is
/// written, several settlements of one receivable and one line in a block, the same piece
/// settled twice (the rail's callback and the sweep), trials of a whole settlement racing real
/// blocks, and blocks the database refuses for their content, written again one transaction at
/// a time. Whatever the writer's path, its state, the tables and a replay of the chain agree.
@Suite struct SlowDatabaseTests {
    @Test func aSettlementPaidPieceByPieceOnASlowDatabaseLeavesTablesAndChainAgreeing() async throws {
        try await TestDatabase.with { app in
            // setup: a receivable split into 300 pieces, at maturity; blocks of up to 40
            let c = try await Consortium.make(app, maxBlockTx: 40)
            let token = try await c.activeToken(faceFen: 3_000_000)
            let tenths = try await c.submit("s1", .split(tokenId: token, amountsFen: Array(repeating: 1_000_000, count: 3))).effects.createdTokens
            var split: [TokenID] = []
            for t in tenths { split += try await c.submit("s1", .split(tokenId: t, amountsFen: Array(repeating: 10_000, count: 100))).effects.createdTokens }
            let pieces = split
            let receivable = await c.sequencer.read { $0.tokens[token]!.receivableId }
            let line = await c.sequencer.read { $0.receivables[receivable]!.creditLineId }
            let usedBefore = await c.sequencer.read { $0.creditLines[line]!.usedFen }
            c.clock.advance(days: 90)
            // A slow database: each block waits while the queue fills; every third block's content
            // is refused once, so that its transactions are written again one by one.
            let sequencer = c.sequencer, blocks = NIOLockedValueBox(0)
            await sequencer.setBeforeCommit { block in
                for _ in 0..<200 where await sequencer.queued < 16 { await Task.yield() }
                let n = blocks.withLockedValue { n in n += 1; return n }
                if n % 3 == 0, block.transactions.count > 1 { throw LedgerStore.ContentFault(description: "simulated: a value the database cannot store") }
            }
            // act: every piece paid twice over (the callback and the sweep), and whole-settlement trials
            let (settled, refusedTwice, trials) = await withTaskGroup(of: (Int, Int, Int).self) { group in
                for (i, piece) in pieces.enumerated() {
                    for _ in 0..<2 {
                        group.addTask {
                            do { _ = try await c.submit("core", .settle(receivableId: receivable, tokenIds: [piece], reference: "RAIL-\(i)")); return (1, 0, 0) } catch let e as LedgerError where e.code == .tokenNotActive {
                                return (0, 1, 0)
                            } catch { return (0, 0, 0) }
                        }
                    }
                    if i % 50 == 0 {
                        group.addTask {
                            let body = TransactionBody(orgId: c.ids["core"]!, keyId: c.signers["core"]!.keyId, time: c.clock.nowMs(), nonce: UUID().uuidString,
                                                       payload: .settle(receivableId: receivable, tokenIds: pieces, reference: "TRIAL"))
                            do { _ = try await sequencer.trial(try Transaction.sign(body, with: c.signers["core"]!)); return (0, 0, 1) } catch { return (0, 0, 1) }
                        }
                    }
                }
                return await group.reduce((0, 0, 0)) { ($0.0 + $1.0, $0.1 + $1.1, $0.2 + $1.2) }
            }
            await sequencer.setBeforeCommit(nil)
            // check: each piece paid once, the receivable settled, the line restored to the fen
            #expect(settled == 300 && refusedTwice == 300 && trials == 6, "\(settled) \(refusedTwice) \(trials)")
            #expect(blocks.withLockedValue { $0 } > 20, "\(blocks.withLockedValue { $0 }) blocks")
            let (status, paid, used) = await sequencer.read { ($0.receivables[receivable]!.status, $0.receivables[receivable]!.paidFen, $0.creditLines[line]!.usedFen) }
            #expect(status == .settled && paid == 3_000_000 && used == usedBefore - 3_000_000)
            // and memory, the tables and a replay of the chain agree
            let verified = await StoredChainVerification.run(LedgerStore(db: app.db))
            #expect(verified.ok, "\(verified.problems)")
            #expect(verified.state?.snapshotJSON == (await sequencer.read(\.snapshotJSON)))
        }
    }
}

/// On SQLite a write waits for the one before it, however loaded the machine: `503` is for a
/// database that is really gone, never for one that is only busy.
@Suite struct SQLiteWaitTests {
    @Test(.enabled(if: TestDatabase.postgresURL == nil)) func concurrentWritesWaitTheirTurnOnALoadedMachine() async throws {
        try await TestDatabase.with { app in
            // setup: a counter, and the writer committing blocks at the same time
            try await app.sql.raw("CREATE TABLE wait_counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)").run()
            try await app.sql.raw("INSERT INTO wait_counter (id, n) VALUES (1, 0)").run()
            let c = try await Consortium.make(app)
            let token = try await c.activeToken(faceFen: 1_000_000)
            let pieces = try await c.submit("s1", .split(tokenId: token, amountsFen: Array(repeating: 10_000, count: 100))).effects.createdTokens
            // act: the blocking threads kept busy (a loaded machine), while 48 requests each read
            // the counter and write it back in one transaction, and 100 transfers commit blocks
            let load = Task.detached {
                for _ in 0..<40 {
                    try await NIOThreadPool.singleton.runIfActive { LoadGenerator.spin(milliseconds: 50) }
                }
            }
            let failures = await withTaskGroup(of: String?.self) { group in
                for _ in 0..<48 {
                    group.addTask {
                        do {
                            try await app.db.sqlTransaction { sql in
                                let n = try await sql.raw("SELECT n FROM wait_counter WHERE id = 1").first()!.decode(column: "n", as: Int.self)
                                try await sql.raw("UPDATE wait_counter SET n = \(bind: n + 1) WHERE id = 1").run()
                            }
                            return nil
                        } catch { return "request: \(error)" }
                    }
                }
                for piece in pieces {
                    group.addTask {
                        do { _ = try await c.submit("s1", .transfer(tokenId: piece, toOrgId: c.ids["s2"]!, amountFen: 10_000, memo: nil)); return nil } catch { return "transfer: \(error)" }
                    }
                }
                return await group.reduce(into: [String]()) { if let f = $1 { $0.append(f) } }
            }
            try await load.value
            // check: nobody was told the database is busy, and no increment was lost
            #expect(failures == [])
            #expect(try await app.sql.raw("SELECT n FROM wait_counter WHERE id = 1").first()!.decode(column: "n", as: Int.self) == 48)
            #expect(await StoredChainVerification.run(LedgerStore(db: app.db)).ok)
        }
    }
}

/// Busy work of a fixed length for a loaded machine in tests: it counts, it does not sleep.
enum LoadGenerator {
    static func spin(milliseconds: Int) {
        let end = DispatchTime.now().uptimeNanoseconds + UInt64(milliseconds) * 1_000_000
        var x: UInt64 = 1
        while DispatchTime.now().uptimeNanoseconds < end { x = x &* 6364136223846793005 &+ 1442695040888963407 }
        precondition(x != 0 || true)
    }
}

/// Drift is loud: a row the block writer wrote wrong, or a writer whose own state went wrong,
/// stops the writer at the next check, and says where.
@Suite struct DriftCheckTests {
    static func check(_ app: Application, _ c: Consortium) async -> DriftCheck {
        let (state, tip) = await c.sequencer.stateAndTip()
        return DriftCheck(state: state, tip: tip, store: { LedgerStore(db: app.db) }, halt: { reason in await c.sequencer.halt(because: reason) })
    }

    @Test func aRowThatDriftedFromTheChainStopsTheWriter() async throws {
        try await TestDatabase.with { app in
            // setup: a writer, its check, a transfer that checks out
            let c = try await Consortium.make(app)
            let check = await Self.check(app, c)
            let token = try await c.activeToken(faceFen: 1_000_000)
            let moved = try await c.submit("s1", .transfer(tokenId: token, toOrgId: c.ids["s2"]!, amountFen: 400_000, memo: nil))
            let accepted = try await c.submit("s2", .accept(tokenId: moved.effects.createdTokens[0]))
            #expect(try await check.check() == nil)
            #expect(check.current.blocksChecked > 0 && check.current.height == accepted.blockHeight)
            // act: a row the next block writes is stored wrong
            let next = try await c.submit("s2", .split(tokenId: moved.effects.createdTokens[0], amountsFen: [100_000, 300_000]))
            let piece = next.effects.createdTokens[1]
            try await app.sql.raw("UPDATE tokens SET amount_fen = 300001 WHERE id = \(bind: piece.description)").run()
            let drift = try await check.check()
            // check: the writer stopped, and the reason names the block, the row, both values, the transaction
            let reason = try #require(drift)
            #expect(reason.contains("block \(next.blockHeight)") && reason.contains("tokens \(piece)") && reason.contains("300001") && reason.contains("300000"))
            #expect(reason.contains("transaction \(next.effects.transactionId) (split)"))
            #expect(await c.sequencer.broken?.contains(reason) == true)
            await #expect(throws: Unavailable.self) { _ = try await c.submit("s1", .transfer(tokenId: moved.effects.createdTokens[1], toOrgId: c.ids["s3"]!, amountFen: 1, memo: nil)) }
            #expect(try await check.check() == reason)
        }
    }

    /// A burst of more blocks than one check reads, each moving the same credit line: the rows
    /// read at the check's moment are what the whole burst left, so the check replays to that
    /// moment's tip before it compares, and finds no drift where there is none. (A check that
    /// stopped at its limit and compared saw the line's later use as drift, and stopped the
    /// writer: a batch import of 10,000 rows did.)
    @Test func aBurstOfBlocksBetweenTwoChecksIsNotDrift() async throws {
        try await TestDatabase.with { app in
            let c = try await Consortium.make(app)
            let (state, tip) = await c.sequencer.stateAndTip()
            let check = DriftCheck(state: state, tip: tip, store: { LedgerStore(db: app.db) }, halt: { reason in await c.sequencer.halt(because: reason) },
                                   blocksPerCheck: 3)
            for _ in 0..<3 { _ = try await c.activeToken(faceFen: 1_000_000) }  // six blocks, three of them moving the line
            #expect(try await check.check() == nil, "no drift: the rows are what all six blocks left")
            let height = await c.sequencer.height
            var rounds = 0
            while check.current.height < height, rounds < 5 {
                #expect(try await check.check() == nil)
                rounds += 1
            }
            #expect(check.current.height == height, "caught up in \(rounds) more checks")
            #expect(await c.sequencer.broken == nil)
            // Caught up, a row written wrong is found as before.
            let token = try await c.activeToken(faceFen: 1_000_000)
            try await app.sql.raw("UPDATE tokens SET amount_fen = 999999 WHERE id = \(bind: token.description)").run()
            let found = try await check.check()
            #expect(found?.contains("999999") == true, "\(String(describing: found))")
        }
    }

    /// Early payments are checked like every other row: their operations check out, and a row
    /// written wrong stops the writer.
    @Test func anEarlyPaymentRowThatDriftedStopsTheWriter() async throws {
        try await TestDatabase.with { app in
            let c = try await Consortium.make(app)
            let check = await Self.check(app, c)
            let token = try await c.activeToken(faceFen: 1_000_000)
            let offered = try await c.submit("s1", .requestEarlyPayment(tokenId: token, rateBps: 720))
            let id = offered.effects.earlyPaymentIds[0]
            _ = try await c.submit("core", .approveEarlyPayment(earlyPaymentId: id))
            _ = try await c.submit("core", .confirmEarlyPayment(earlyPaymentId: id, reference: "E-1"))
            #expect(try await check.check() == nil)
            let other = try await c.activeToken(faceFen: 500_000)
            let next = try await c.submit("s1", .requestEarlyPayment(tokenId: other, rateBps: 650))
            try await app.sql.raw("UPDATE early_payments SET payout_fen = payout_fen + 1 WHERE id = \(bind: next.effects.earlyPaymentIds[0].description)").run()
            let reason = try #require(try await check.check())
            #expect(reason.contains("early_payments \(next.effects.earlyPaymentIds[0])") && reason.contains("(requestEarlyPayment)"), "\(reason)")
        }
    }

    @Test func aWriterWhoseStateDriftedIsStoppedAtItsNextBlock() async throws {
        try await TestDatabase.with { app in
            // setup: a line with one receivable on it, checked
            let c = try await Consortium.make(app)
            let check = await Self.check(app, c)
            let token = try await c.activeToken(faceFen: 1_000_000)
            let line = await c.sequencer.read { $0.receivables[$0.tokens[token]!.receivableId]!.creditLineId }
            #expect(try await check.check() == nil)
            // act: the writer's state takes a receivable the chain never got, then writes a real one
            func issue(_ faceFen: Int64) throws -> Transaction {
                let today = BusinessDate(epochMs: c.clock.nowMs())
                let body = TransactionBody(orgId: c.ids["core"]!, keyId: c.signers["core"]!.keyId, time: c.clock.nowMs(), nonce: UUID().uuidString,
                                           payload: .issue(IssuePayload(supplierId: c.ids["s2"]!, creditLineId: line, faceFen: faceFen, issueDate: today,
                                                                        dueDate: today.adding(days: 60), documents: [], memo: nil)))
                return try Transaction.sign(body, with: c.signers["core"]!)
            }
            try await c.sequencer.applyWithoutWriting(try issue(77_000))
            let real = try await c.sequencer.submit(try issue(50_000))
            // check: the line's row was written from the wrong state, and the check says so
            let reason = try #require(try await check.check())
            #expect(reason.contains("block \(real.blockHeight)") && reason.contains("credit_lines \(line)") && reason.contains("transaction \(real.effects.transactionId) (issue)"))
            #expect(reason.contains("1127000") && reason.contains("1050000"), "\(reason)")
            #expect(await c.sequencer.broken != nil)
        }
    }

    @Test func theStatusAndTheRegulatorsChainPageSayWhyTheWriterStopped() async throws {
        try await DemoPlatform.with { d in
            // setup
            let (state, tip) = await d.app.sequencer!.stateAndTip()
            let check = DriftCheck(state: state, tip: tip, store: { LedgerStore(db: d.app.db) }, halt: { reason in await d.app.sequencer!.halt(because: reason) })
            #expect(try await check.check() == nil)
            #expect(try await d.call("regulator", .GET, "/api/v1/node/status")["state"]?.stringValue == "writing")
            // act: a split is written, and its spent piece's row then reads as active again
            let token = try #require(try await d.call("tier1", .GET, "/api/v1/tokens?status=active").items.first)
            let tokenId = token["id"]!.stringValue!, amount = token["amountFen"]!.intValue!
            let split = try await d.call("tier1", .POST, "/api/v1/tokens/\(tokenId)/split", #"{"amountsFen":[1,"# + "\(amount - 1)]}")
            #expect(split.status == .created, "\(split.json)")
            try await d.app.sql.raw("UPDATE tokens SET status = 'active', spent_tx = NULL WHERE id = \(bind: tokenId)").run()
            let reason = try #require(try await check.check())
            // check: the status and the chain page say so, and writes are refused with 503
            let status = try await d.call("regulator", .GET, "/api/v1/node/status")
            #expect(status["state"]?.stringValue == "stopped" && status["problem"]?.stringValue?.contains(reason) == true)
            let page = try await ConsoleTests.get(d, try await ConsoleTests.session(d, "regulator"), "/chain")
            #expect(page.html.contains("id=\"writer-stopped\"") && page.html.contains("The writer stopped accepting transactions"))
            #expect(page.html.contains("the tables drifted from the chain: block \(await d.height)") && reason.contains("tokens \(tokenId)"))
            let other = try #require(try await d.call("tier1", .GET, "/api/v1/tokens?status=active").items.first { $0["id"]?.stringValue != tokenId })
            let refused = try await d.call("tier1", .POST, "/api/v1/tokens/\(other["id"]!.stringValue!)/split", #"{"amountsFen":[1,1]}"#)
            #expect(refused.status == .serviceUnavailable)
        }
    }
}
