import Foundation
import Ledger
import SQLKit
import Testing
import VaporTesting

@testable import Commands
@testable import Core
@testable import Web

/// The transaction log as served (SPEC §4, §5): one RFC 6962 tree over every transaction in chain
/// order, its head a C2SP signed checkpoint under the log's own key, consistency and inclusion
/// proofs read from the stored subtrees, and the store rebuilt for a chain written before it.
@Suite struct TransactionLogRouteTests {
    /// Every transaction id of the stored chain, in chain order, and the chain's profile.
    static func ids(_ d: DemoPlatform) async throws -> (ids: [[UInt8]], profile: CryptoProfile) {
        let replayed = try ChainReplayer.verify(export: try await LedgerStore(db: d.app.db).exportAll(), parallelism: 2).get()
        let export = try await LedgerStore(db: d.app.db).exportAll()
        let (blocks, _) = ChainReplayer.parse(export: export, parallelism: 2)
        return (blocks.flatMap { $0.block.transactions.map(\.id.bytes) }, replayed.state.profile)
    }

    static func checkpoint(_ d: DemoPlatform) async throws -> (note: String, checkpoint: Checkpoint) {
        let answer = try await d.call(nil, .GET, "/api/v1/log/checkpoint")
        #expect(answer.status == .ok && answer.headers.contentType?.description.hasPrefix("text/plain") == true)
        let (text, signatures) = try SignedNote.parse(answer.text)
        #expect(signatures.count == 1)
        return (answer.text, try Checkpoint(text: text))
    }

    @Test(arguments: [CryptoProfile.ed25519Sha256, .sm2Sm3])
    func theLogIsOneTreeOverTheChainSignedByItsOwnKey(profile: CryptoProfile) async throws {
        try await DemoPlatform.with(profile: profile) { d in
            let (ids, chainProfile) = try await Self.ids(d)
            #expect(chainProfile == profile)
            let status = try await d.call(nil, .GET, "/api/v1/node/status")
            let key = try NoteVerifier(verifierKey: try #require(status["logKey"]?.stringValue))
            #expect(key.name == "cascade.test/ledger")
            let (note, head) = try await Self.checkpoint(d)
            #expect(key.verifies(note), "the head is signed by the key /node/status names")
            #expect(head.origin == "cascade.test/ledger" && head.size == Int64(ids.count))
            #expect(head.root == Merkle.root(leaves: ids, profile: profile), "the root of every transaction id in chain order, hashed from scratch")
            // The writer's state holds the same log.
            let state = await d.app.sequencer!.read { ($0.log.size, $0.log.root) }
            #expect(state.0 == head.size && state.1 == head.root)

            // Consistency between any two sizes.
            for (from, to) in [(1, head.size), (Int64(ids.count / 3), Int64(ids.count / 2)), (5, 5), (head.size - 1, head.size)] {
                let answer = try await d.call(nil, .GET, "/api/v1/log/consistency?from=\(from)&to=\(to)")
                #expect(answer.status == .ok && answer["from"] == .int(from) && answer["to"] == .int(to), "\(answer.json)")
                let proof = (answer["proof"]?.arrayValue ?? []).compactMap { $0.stringValue.flatMap(Base64.decode) }
                let old = Merkle.root(leaves: Array(ids.prefix(Int(from))), profile: profile), new = Merkle.root(leaves: Array(ids.prefix(Int(to))), profile: profile)
                #expect(LogTree.verifyConsistency(from: from, to: to, oldRoot: old, newRoot: new, proof: proof, profile: profile), "\(from) → \(to)")
            }

            // A transaction's proof carries its place in the log and the signed head.
            let token = try #require(try await d.call("tier1", .GET, "/api/v1/tokens?status=active").items.first { $0["amountFen"] == .int(600_000_00) }?["id"]?.stringValue)
            let paid = try await d.call("tier1", .POST, "/api/v1/tokens/\(token)/transfer", #"{"toOrgId":"\#(d.orgs["tier2"]!)","amountFen":100}"#)
            let txId = try #require(paid["transactionId"]?.stringValue)
            let proof = try await d.call("tier1", .GET, "/api/v1/transactions/\(txId)/proof")
            let index = try #require(proof["logIndex"]?.intValue), size = try #require(proof["logSize"]?.intValue)
            #expect(index == Int64(ids.count) && size == Int64(ids.count) + 1)
            let signed = try #require(proof["checkpoint"]?.stringValue)
            #expect(key.verifies(signed))
            let after = try Checkpoint(text: try SignedNote.parse(signed).text)
            #expect(after.size == size)
            let path = (proof["logProof"]?.arrayValue ?? []).compactMap { $0.stringValue.flatMap(Hex.decode) }
            #expect(LogTree.verifyInclusion(leafHash: Merkle.leafHash(Hex.decode(txId)!, profile: profile), index: index, size: size, proof: path, root: after.root, profile: profile))
            // The new head extends the old one.
            let grow = try await d.call(nil, .GET, "/api/v1/log/consistency?from=\(head.size)&to=\(size)")
            let growth = (grow["proof"]?.arrayValue ?? []).compactMap { $0.stringValue.flatMap(Base64.decode) }
            #expect(LogTree.verifyConsistency(from: head.size, to: size, oldRoot: head.root, newRoot: after.root, proof: growth, profile: profile))
        }
    }

    /// The drift check reads the log's subtrees too: one the database holds otherwise than the
    /// chain gives stops the writer, named.
    @Test func aDriftedSubtreeOfTheLogStopsTheWriter() async throws {
        try await DemoPlatform.with { d in
            let (state, tip) = await d.app.sequencer!.stateAndTip()
            let check = DriftCheck(state: state, tip: tip, store: { LedgerStore(db: d.app.db) }, halt: { reason in await d.app.sequencer!.halt(because: reason) })
            let token = try #require(try await d.call("tier1", .GET, "/api/v1/tokens?status=active").items.first { ($0["amountFen"]?.intValue ?? 0) > 1 })
            let split = #"{"amountsFen":[1,"# + "\(token["amountFen"]!.intValue! - 1)]}"
            #expect(try await d.call("tier1", .POST, "/api/v1/tokens/\(token["id"]!.stringValue!)/split", split).status == .created)
            #expect(try await check.check() == nil)
            let next = try #require(try await d.call("tier1", .GET, "/api/v1/tokens?status=active").items.first { ($0["amountFen"]?.intValue ?? 0) > 1 })
            #expect(try await d.call("tier1", .POST, "/api/v1/tokens/\(next["id"]!.stringValue!)/split", #"{"amountsFen":[1,"# + "\(next["amountFen"]!.intValue! - 1)]}").status == .created)
            let leaf = try await LogQueries.size(on: d.app.sql) - 1
            try await d.app.sql.raw("UPDATE log_nodes SET hash = \(bind: String(repeating: "cd", count: 32)) WHERE level = 0 AND idx = \(bind: leaf)").run()
            let reason = try await check.check()
            #expect(reason?.hasPrefix("log_nodes 0/\(leaf) (block \(await d.height)): the database holds cdcd") == true, "\(reason ?? "")")
            #expect(await d.app.sequencer!.broken != nil)
        }
    }

    @Test func badSizesAreRefusedWithTheField() async throws {
        try await DemoPlatform.with { d in
            let size = try await Self.checkpoint(d).checkpoint.size
            for (query, field) in [("from=3&to=2", "from"), ("from=1&to=\(size + 1)", "to"), ("to=3", "from"), ("from=1", "to"), ("from=-1&to=3", "from"),
                                   ("from=1&to=1e3", "to"), ("from=1&to=99999999999999999999", "to"), ("from=x&to=3", "from")] {
                let answer = try await d.call(nil, .GET, "/api/v1/log/consistency?\(query)")
                #expect(answer.status == .unprocessableEntity && answer["errors"]?.arrayValue?.first?["field"] == .string(field), "\(query): \(answer.json)")
            }
        }
    }

    /// A chain written before the log existed gets its stored log built at the writer's start,
    /// checked against the chain; a stored subtree that drifted stops the start.
    @Test func theStoredLogIsBuiltForAnOlderChainAndCheckedAgainstIt() async throws {
        try await DemoPlatform.with { d in
            let (_, head) = try await Self.checkpoint(d)
            let log = await d.app.sequencer!.read(\.log)
            try await d.app.sql.raw("DELETE FROM log_nodes").run()
            #expect(try await TransactionLog.catchUp(to: log, on: d.app.sql) == head.size)
            #expect(try await Self.checkpoint(d).checkpoint == head)
            #expect(try await TransactionLog.catchUp(to: log, on: d.app.sql) == 0)
            // Half of it lost: built from where it stops.
            try await d.app.sql.raw("DELETE FROM log_nodes WHERE idx >= \(bind: head.size / 2) AND level = 0").run()
            try await d.app.sql.raw("DELETE FROM log_nodes WHERE level > 0 AND (idx + 1) * (1 << level) > \(bind: head.size / 2)").run()
            #expect(try await TransactionLog.catchUp(to: log, on: d.app.sql) == head.size - head.size / 2)
            #expect(try await Self.checkpoint(d).checkpoint == head)
            // A subtree on the right edge changed: the start refuses.
            let level = head.size.trailingZeroBitCount
            try await d.app.sql.raw("UPDATE log_nodes SET hash = \(bind: String(repeating: "ab", count: 32)) WHERE level = \(bind: level) AND idx = \(bind: (head.size >> level) - 1)").run()
            await #expect(throws: ConfigurationError.self) { try await TransactionLog.catchUp(to: log, on: d.app.sql) }
        }
    }
}
