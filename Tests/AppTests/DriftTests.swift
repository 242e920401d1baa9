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
