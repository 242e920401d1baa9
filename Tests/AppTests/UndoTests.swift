import Foundation
import Ledger
import NIOConcurrencyHelpers
import Testing
import Vapor

@testable import Core
@testable import Web
@testable import Commands

/// A failed commit goes back to the state before its block from memory, and a transaction whose
/// content the database refuses fails alone.
@Suite struct UndoTests {
    /// A gate a block's commit waits at until the test opens it.
    final class Gate: Sendable {
        private let opened = NIOLockedValueBox(false)
        func open() { opened.withLockedValue { $0 = true } }
        func wait() async throws {
            let deadline = ContinuousClock.now + .seconds(30)
            while !opened.withLockedValue({ $0 }) {
                guard ContinuousClock.now < deadline else { throw ConfigurationError("the gate was never opened") }
                await Task.yield()
            }
        }
    }

    /// Holds the writer on a first block until `count` more transactions wait, so that they all
    /// share the next block.
    static func queueBehindOneBlock(_ c: Consortium, count: Int, _ submit: @escaping @Sendable (Int) async throws -> Outcome) async throws -> [Result<Outcome, any Error>] {
        let gate = Gate()
        let hook = await c.sequencer.beforeCommitHook
        await c.sequencer.setBeforeCommit { block in
            if block.transactions.count == 1, block.transactions[0].body.nonce == "hold" { try await gate.wait() }
            try await hook?(block)
        }
        let line = try await c.submit("bank", .grantCredit(coreId: c.ids["core"]!, limitFen: 1_000_000, rateBps: 100, expiresOn: BusinessDate("2028-12-31")!))
        async let held = c.submit("bank", .updateCredit(UpdateCreditPayload(creditLineId: line.effects.creditLineId!, rateBps: 101)), nonce: "hold")
        let deadline = ContinuousClock.now + .seconds(30)
        while true {
            let queued = await c.sequencer.queued, writing = await c.sequencer.isWriting
            if queued == 0 && writing { break }
            guard ContinuousClock.now < deadline else { throw ConfigurationError("the first block never started") }
            await Task.yield()
        }
        let results = try await withThrowingTaskGroup(of: (Int, Result<Outcome, any Error>).self) { group in
            for i in 0..<count {
                group.addTask {
                    do { return (i, .success(try await submit(i))) } catch { return (i, .failure(error)) }
                }
            }
            while await c.sequencer.queued < count {
                guard ContinuousClock.now < deadline else { throw ConfigurationError("the transactions never queued") }
                await Task.yield()
            }
            gate.open()
            var out: [(Int, Result<Outcome, any Error>)] = []
            for try await r in group { out.append(r) }
            return out.sorted { $0.0 < $1.0 }.map(\.1)
        }
        _ = try await held
        return results
    }

    @Test func aFailedBlockOfEveryKindOfChangeGoesBackFromMemory() async throws {
        try await TestDatabase.with { app in
            // setup: a token to move, a line to change, an org to register — one block of them all.
            let c = try await Consortium.make(app)
            let token = try await c.activeToken()
            let line = try await c.submit("bank", .grantCredit(coreId: c.ids["core"]!, limitFen: 5_000_000, rateBps: 200, expiresOn: BusinessDate("2028-12-31")!)).effects.creditLineId!
            let today = BusinessDate(epochMs: c.clock.nowMs())
            let before = await c.sequencer.read(\.snapshotJSON)
            let keysBefore = await c.sequencer.read { $0.orgs.count }
            let height = await c.sequencer.height
            await c.sequencer.setBeforeCommit { block in
                if block.transactions.count > 1 { throw ConfigurationError("simulated loss of the database") }
            }
            let newOrg = OrgID("00000000-0000-4000-8000-000000000099")!
            let payloads: [(String, Payload)] = [
                ("s1", .split(tokenId: token, amountsFen: [400_000, 600_000])),
                ("core", .issue(IssuePayload(supplierId: c.ids["s2"]!, creditLineId: line, faceFen: 70_000, issueDate: today, dueDate: today.adding(days: 60),
                                             documents: [Document(kind: .invoice, sha256: String(repeating: "a", count: 64), number: "INV-U-1", fileName: nil)], memo: "undo"))),
                ("bank", .updateCredit(UpdateCreditPayload(creditLineId: line, limitFen: 6_000_000))),
                ("op", .registerOrg(RegisterOrgPayload(orgId: newOrg, name: "new", role: .supplier, creditCode: CreditCode.complete("91310000000000999")!,
                                                       publicKey: try Ed25519Signer(seed: [UInt8](repeating: 9, count: 32)).publicKey))),
                ("op", .setPolicy({ var p = Policy(); p.maxTier = 7; return p }())),
            ]
            // act
            let results = try await Self.queueBehindOneBlock(c, count: payloads.count) { i in try await c.submit(payloads[i].0, payloads[i].1) }
            // check: every caller heard the failure, and the state is exactly as before, new org's key included
            #expect(results.allSatisfy { if case .failure = $0 { true } else { false } })
            await c.sequencer.setBeforeCommit(nil)
            let afterHold = await c.sequencer.read(\.snapshotJSON)
            #expect(afterHold["receivables"] == before["receivables"] && afterHold["tokens"] == before["tokens"] && afterHold["financings"] == before["financings"])
            #expect(await c.sequencer.read { $0.orgs.count } == keysBefore)
            #expect(await c.sequencer.read { $0.policy } == Policy())
            #expect(await c.sequencer.read { $0.openInvoices["INV-U-1"] } == nil)
            #expect(await c.sequencer.height == height + 2)  // the line granted and the held block, nothing of the failed one
            // The same operations go through once the database is back, and a replay agrees.
            for (who, payload) in payloads { _ = try await c.submit(who, payload) }
            let replayed = try ChainReplayer.verify(export: try await LedgerStore(db: app.db).exportAll(), parallelism: 2).get()
            #expect(replayed.state.snapshotJSON == (await c.sequencer.read(\.snapshotJSON)))
        }
    }

    @Test func aTransactionWhoseContentTheDatabaseRefusesFailsAloneAndItsBlockMatesCommit() async throws {
        try await TestDatabase.with { app in
            let c = try await Consortium.make(app)
            let line = try await c.submit("bank", .grantCredit(coreId: c.ids["core"]!, limitFen: 1_000_000_000, rateBps: 200, expiresOn: BusinessDate("2028-12-31")!)).effects.creditLineId!
            let today = BusinessDate(epochMs: c.clock.nowMs())
            let shared = NIOLockedValueBox(0)
            await c.sequencer.setBeforeCommit { block in
                guard block.transactions.contains(where: { if case .issue(let p) = $0.body.payload { p.memo == "poison" } else { false } }) else { return }
                if block.transactions.count > 1 { shared.withLockedValue { $0 = max($0, block.transactions.count) } }
                throw LedgerStore.ContentFault(description: "simulated: a value the database cannot store")
            }
            let results = try await Self.queueBehindOneBlock(c, count: 10) { i in
                try await c.submit("core", .issue(IssuePayload(supplierId: c.ids["s1"]!, creditLineId: line, faceFen: 10_000 + Int64(i), issueDate: today,
                                                                dueDate: today.adding(days: 30), documents: [], memo: i == 4 ? "poison" : "good \(i)")))
            }
            #expect(shared.withLockedValue { $0 } == 10, "the ten shared one block")
            for (i, r) in results.enumerated() {
                switch r {
                case .success: #expect(i != 4)
                case .failure(let e): #expect(i == 4 && e is LedgerStore.ContentFault, "\(i): \(e)")
                }
            }
            await c.sequencer.setBeforeCommit(nil)
            let replayed = try ChainReplayer.verify(export: try await LedgerStore(db: app.db).exportAll(), parallelism: 2).get()
            #expect(replayed.state.snapshotJSON == (await c.sequencer.read(\.snapshotJSON)))
            #expect(try await LedgerStore(db: app.db).projectionProblems(against: replayed.state).isEmpty)
        }
    }
}
