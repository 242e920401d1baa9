import Foundation
import NIOConcurrencyHelpers
import Ledger
import SQLKit
import Testing
import Vapor

@testable import App

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
