import Foundation
import Ledger
import SQLKit
import Testing
import Vapor

@testable import Core
@testable import Web
@testable import Commands

/// The writer starts from its latest snapshot and the blocks after it; a snapshot that fails
/// any check is refused, said so, and the whole chain replayed instead. A writer that retired
/// history decides every transaction as one holding everything would.
@Suite struct SnapshotTests {
    /// Lines a logger was given, kept for a test to read.
    final class Lines: LogHandler, @unchecked Sendable {
        private let lock = NSLock()
        private var kept: [String] = []
        var logLevel: Logger.Level = .trace
        var metadata: Logger.Metadata = [:]
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        var all: [String] { lock.withLock { kept } }
        func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String, file: String, function: String, line: UInt) {
            lock.withLock { kept.append("\(message)") }
        }
    }

    @Test func theSettingsFormerNamesStillWorkAndTheLogSaysTheNewOnes() {
        let lines = Lines()
        let logger = Logger(label: "test") { _ in lines }
        let old = Sequencer.SnapshotPolicy.fromEnvironment(["CASCADE_CHECKPOINT_TRANSACTIONS": "7", "CASCADE_CHECKPOINT_MINUTES": "3"], logger: logger)
        #expect(old.transactions == 7 && old.interval == .seconds(180))
        #expect(lines.all.contains { $0.contains("CASCADE_CHECKPOINT_TRANSACTIONS is now called CASCADE_SNAPSHOT_TRANSACTIONS") })
        #expect(lines.all.contains { $0.contains("CASCADE_CHECKPOINT_MINUTES is now called CASCADE_SNAPSHOT_MINUTES") })

        let both = Sequencer.SnapshotPolicy.fromEnvironment(["CASCADE_SNAPSHOT_TRANSACTIONS": "9", "CASCADE_CHECKPOINT_TRANSACTIONS": "7"], logger: logger)
        #expect(both.transactions == 9 && both.interval == .seconds(600))
        let quiet = Lines()
        let current = Sequencer.SnapshotPolicy.fromEnvironment(["CASCADE_SNAPSHOT_TRANSACTIONS": "11", "CASCADE_SNAPSHOT_MINUTES": "2"],
                                                               logger: Logger(label: "test") { _ in quiet })
        #expect(current.transactions == 11 && current.interval == .seconds(120) && quiet.all.isEmpty)
    }

    /// A few receivables moved about: spent tokens, an unanswered offer, a closed financing.
    static func history(_ c: Consortium) async throws -> (spent: TokenID, offer: TokenID, paid: Transaction) {
        let token = try await c.activeToken()
        let moved = try await c.submit("s1", .transfer(tokenId: token, toOrgId: c.ids["s2"]!, amountFen: 400_000, memo: nil))
        _ = try await c.submit("s2", .accept(tokenId: moved.effects.createdTokens[0]))
        let offer = try await c.submit("s1", .transfer(tokenId: moved.effects.createdTokens[1], toOrgId: c.ids["s3"]!, amountFen: 100_000, memo: nil))
        let body = TransactionBody(orgId: c.ids["s2"]!, keyId: c.signers["s2"]!.keyId, time: c.clock.nowMs(), nonce: UUID().uuidString,
                                   payload: .split(tokenId: moved.effects.createdTokens[0], amountsFen: [100_000, 300_000]))
        let split = try Transaction.sign(body, with: c.signers["s2"]!)
        _ = try await c.sequencer.submit(split)
        return (token, offer.effects.createdTokens[0], split)
    }

    static func load(_ app: Application, _ c: Consortium) async throws -> Sequencer {
        try await Sequencer.load(store: LedgerStore(db: app.db), sealer: { c.signers["op"]! }, clock: c.clock)
    }

    @Test func aWriterStartsFromItsSnapshotAndTheBlocksAfterIt() async throws {
        try await TestDatabase.with { app in
            let c = try await Consortium.make(app)
            _ = try await Self.history(c)
            try await c.sequencer.writeSnapshotNow()
            let at = await c.sequencer.height
            _ = try await c.activeToken(faceFen: 2_000_000)
            let restarted = try await Self.load(app, c)
            let after = await c.sequencer.height - at
            #expect(restarted.start == "from the snapshot at block \(at), then \(after) block(s)")
            #expect(await restarted.snapshotBytes == c.sequencer.snapshotBytes)
            #expect(await restarted.height == c.sequencer.height)
        }
    }

    @Test func aDamagedSnapshotIsRefusedAndTheWholeChainReplayed() async throws {
        try await TestDatabase.with { app in
            let c = try await Consortium.make(app)
            _ = try await Self.history(c)
            try await c.sequencer.writeSnapshotNow()
            let at = await c.sequencer.height
            let good = try await LedgerStore(db: app.db).latestSnapshot()!

            // One byte of the state changed.
            var bytes = good.state
            bytes[bytes.count / 2] ^= 0x01
            try await app.sql.raw("UPDATE snapshots SET state = \(bind: Data(bytes))").run()
            var restarted = try await Self.load(app, c)
            #expect(restarted.start.hasPrefix("by replaying the whole chain"))
            #expect(restarted.start.hasSuffix("because the snapshot at block \(at) is refused: its bytes do not hash to the stored state hash"))
            #expect(await restarted.snapshotBytes == c.sequencer.snapshotBytes)

            // The same change with its hash made to match: the operator's signature no longer does.
            try await app.sql.raw("UPDATE snapshots SET state_hash = \(bind: Hashing.sha256Hex(bytes))").run()
            restarted = try await Self.load(app, c)
            #expect(restarted.start.hasSuffix("is refused: its signature does not verify under the operator's key"))

            // Signed by another key.
            let forged = try StoredSnapshot.make(LedgerState.restore(snapshot: good.state).state, at: ChainTip(height: at, hash: good.blockHash, time: 0),
                                                   signer: c.signers["s1"]!)
            try await app.sql.raw("UPDATE snapshots SET state = \(bind: Data(forged.state)), state_hash = \(bind: forged.stateHash), key_id = \(bind: forged.keyId), signature = \(bind: forged.signature)").run()
            restarted = try await Self.load(app, c)
            #expect(restarted.start.hasSuffix("is refused: it is signed by key \(c.signers["s1"]!.keyId), not the operator's current key"))

            // A good snapshot naming a block the database does not hold.
            try await app.sql.raw("UPDATE snapshots SET state = \(bind: Data(good.state)), state_hash = \(bind: good.stateHash), key_id = \(bind: good.keyId), signature = \(bind: good.signature)").run()
            try await app.sql.raw("UPDATE blocks SET hash = \(bind: String(repeating: "0", count: 64)) WHERE height = \(bind: at)").run()
            await #expect(throws: (any Error).self) { _ = try await Self.load(app, c) }  // and the replay refuses the chain too
            try await app.sql.raw("UPDATE blocks SET hash = \(bind: good.blockHash) WHERE height = \(bind: at)").run()

            // Put back, it is used again.
            restarted = try await Self.load(app, c)
            #expect(restarted.start.hasPrefix("from the snapshot at block \(at)"))
        }
    }

    @Test func aWriterThatRetiredHistoryAnswersAsOneThatKeptIt() async throws {
        try await TestDatabase.with { app in
            let c = try await Consortium.make(app)
            let (spent, offer, split) = try await Self.history(c)
            await c.sequencer.retireNow()
            let held = await c.sequencer.read { $0.heldCounts }
            #expect(held.recentIds == 0 && held.seenIds > 0)
            #expect(await c.sequencer.read { $0.tokens[spent] } == nil, "a spent token is retired")

            // A spent token is refused as spent, not as unknown.
            await #expect(throws: LedgerError(.tokenNotActive, "token \(spent) is spent, not active")) {
                _ = try await c.submit("s1", .split(tokenId: spent, amountsFen: [1, 999_999]))
            }
            // A transaction sent again is refused as a repeat.
            await #expect(throws: LedgerError.invalid("id", "repeated transaction id \(split.id)")) {
                _ = try await c.sequencer.submit(split)
            }
            // The unanswered offer can still be rejected: its value goes back to its sender.
            let back = try await c.submit("s3", .reject(tokenId: offer))
            #expect(back.tokens.first?.holderId == c.ids["s1"], "a new token for the sender")
            await c.sequencer.retireNow()
            // What was retired and recalled is what a replay of the whole chain holds.
            let replayed = try await StartingPoint.find(in: LedgerStore(db: app.db), operatorKey: nil, signed: false)
            #expect(replayed.state.snapshotBytes(at: replayed.tip) == (await c.sequencer.snapshotBytes))
            let problems = try await LedgerStore(db: app.db).projectionProblems(against: try ChainReplayer.verify(export: try await LedgerStore(db: app.db).exportAll(), parallelism: 2).get().state)
            #expect(problems.isEmpty, "\(problems)")
        }
    }
}
