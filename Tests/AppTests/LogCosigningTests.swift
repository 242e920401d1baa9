import Foundation
import Ledger
import Logging
import NIOConcurrencyHelpers
import SQLKit
import Testing
import VaporTesting

@testable import Commands
@testable import Core
@testable import Web

/// The writer sends its log's heads to two witnesses (each with its own database), collects their
/// cosignatures, follows a 409 to a witness's size, backs off from one it cannot reach, and when
/// its history is rewritten behind its back the witnesses refuse, nothing new is witnessed, and
/// the status and the regulator's console say so with both heads.
@Suite struct LogCosigningTests {
    /// Two witnesses of the demo's log, each on a database of its own, reached through `transport`.
    static func withWitnesses(_ d: DemoPlatform, _ body: (LogCosigning, [Witness], NIOLockedValueBox<Set<Int>>, NIOLockedValueBox<[Int]>) async throws -> Void) async throws {
        let log = try #require(d.app.transactionLog)
        // Each witness on an SQLite file of its own, as `cascade witness` keeps by default.
        try await TestDatabase.with(sqlite: true) { a in
            try await TestDatabase.with(sqlite: true) { b in
                var witnesses: [Witness] = []
                for (i, app) in [a, b].enumerated() {
                    try await WitnessHeads.prepare(app.sql)
                    witnesses.append(Witness(cosigner: try Cosigner(name: "witness\(i).test", seed: [UInt8](repeating: UInt8(10 + i), count: 32)),
                                             logs: [Witness.Log(key: log.signer.verifier, profile: .standard)], sql: app.sql, logger: Logger(label: "w\(i)"),
                                             now: { 1_800_000_000 }))
                }
                let down = NIOLockedValueBox<Set<Int>>([])
                let calls = NIOLockedValueBox<[Int]>([])
                let settings = WitnessSettings(witnesses: witnesses.enumerated().map { i, w in WitnessSettings.Entry(key: w.cosigner.key, url: "http://w\(i)/add-checkpoint") }, quorum: 2)
                let ws = witnesses
                let clock = d.clock
                let cosigning = LogCosigning(settings: settings, log: log, sql: { d.app.sql }, transport: { url, body in
                    let i = url.contains("w0") ? 0 : 1
                    if body != nil { calls.withLockedValue { $0.append(i) } }
                    if down.withLockedValue({ $0.contains(i) }) { throw URLError(.cannotConnectToHost) }
                    guard let body else { return (200, Array(try await ws[i].heads().canonicalBytes)) }
                    let answer = try await ws[i].addCheckpoint(body)
                    return (answer.status, Array(answer.body.utf8))
                }, logger: Logger(label: "cosigning"), nowMs: { clock.nowMs() })
                d.app.witnessSettings = settings
                d.app.logCosigning = cosigning
                try await body(cosigning, witnesses, down, calls)
            }
        }
    }

    @Test func headsAreCosignedByTheQuorumAndReceiptsCarryAWitnessedHead() async throws {
        try await DemoPlatform.with { d in
            try await Self.withWitnesses(d) { cosigning, witnesses, down, calls in
                await cosigning.round()
                let size = try await LogQueries.size(on: d.app.sql)
                #expect(await cosigning.standings().map(\.cosignedSize) == [size, size])
                let status = try await d.call(nil, .GET, "/api/v1/node/status")
                #expect(status["witnesses"]?.arrayValue?.compactMap { $0["cosignedSize"]?.intValue } == [size, size])
                // The head, with the log's signature and both cosignatures.
                let note = try await d.call(nil, .GET, "/api/v1/log/checkpoint").text
                let (text, signatures) = try SignedNote.parse(note)
                #expect(signatures.count == 3)
                for w in witnesses { #expect(w.cosigner.key.cosigned(text, in: signatures) == 1_800_000_000) }

                // More transactions: the witnesses follow with consistency proofs.
                let token = try #require(try await d.call("tier1", .GET, "/api/v1/tokens?status=active").items.first { $0["amountFen"] == .int(600_000_00) }?["id"]?.stringValue)
                let paid = try await d.call("tier1", .POST, "/api/v1/tokens/\(token)/transfer", #"{"toOrgId":"\#(d.orgs["tier2"]!)","amountFen":100}"#)
                let txId = try #require(paid["transactionId"]?.stringValue)
                // Before the witnesses have it, the receipt names the newest head, unwitnessed.
                #expect(try await d.call("tier1", .GET, "/api/v1/transactions/\(txId)/proof")["witnessed"] == .bool(false))
                await cosigning.round()
                #expect(await cosigning.standings().map(\.cosignedSize) == [size + 1, size + 1])
                let proof = try await d.call("tier1", .GET, "/api/v1/transactions/\(txId)/proof")
                #expect(proof["witnessed"] == .bool(true) && proof["logSize"] == .int(size + 1))
                let head = try SignedNote.parse(try #require(proof["checkpoint"]?.stringValue))
                #expect(head.signatures.count == 3 && witnesses.allSatisfy { $0.cosigner.key.cosigned(head.text, in: head.signatures) != nil })

                // One witness unreachable: the other goes on, and the first is tried again only after a backoff.
                down.withLockedValue { $0 = [1] }
                let change = try #require(try await d.call("tier1", .GET, "/api/v1/tokens?status=active").items.first { ($0["amountFen"]?.intValue ?? 0) > 100 }?["id"]?.stringValue)
                #expect(try await d.call("tier1", .POST, "/api/v1/tokens/\(change)/transfer", #"{"toOrgId":"\#(d.orgs["tier2"]!)","amountFen":100}"#).status == .created)
                calls.withLockedValue { $0 = [] }
                await cosigning.round()
                await cosigning.round()
                #expect(calls.withLockedValue { $0 } == [0, 1], "the unreachable witness is not asked again at once")
                #expect(await cosigning.standings().map(\.cosignedSize) == [size + 2, size + 1])
                // Only one of two: the head is not witnessed, and the receipt says so.
                let unwitnessed = try await d.call("tier1", .GET, "/api/v1/transactions/\(txId)/proof")
                #expect(unwitnessed["logSize"] == .int(size + 1), "the newest head the quorum cosigned")
                down.withLockedValue { $0 = [] }
                d.clock.advance(minutes: 1)
                await cosigning.round()
                #expect(await cosigning.standings().map(\.cosignedSize) == [size + 2, size + 2])
            }
        }
    }

    /// The history rewritten in the database behind the writer's back — its last block, which the
    /// witnesses cosigned, removed — and the writer restarted on it: its next block is another
    /// block at that height. Both witnesses refuse the head (409: another head of a size they
    /// cosigned), nothing new is witnessed, and the status and the console say so with both heads.
    @Test func anotherBlockAtACosignedHeightAfterARestartIsRefused() async throws {
        try await DemoPlatform.with { d in
            try await Self.withWitnesses(d) { cosigning, witnesses, _, _ in
                let tokens = try await d.call("tier1", .GET, "/api/v1/tokens?status=active").items.filter { ($0["amountFen"]?.intValue ?? 0) > 1 }
                try #require(tokens.count >= 2)
                func split(_ token: JSON) async throws {
                    let answer = try await d.call("tier1", .POST, "/api/v1/tokens/\(token["id"]!.stringValue!)/split", #"{"amountsFen":[1,"# + "\(token["amountFen"]!.intValue! - 1)]}")
                    #expect(answer.status == .created, "\(answer.json)")
                }
                try await split(tokens[0])
                await cosigning.round()
                let size = try await LogQueries.size(on: d.app.sql), height = await d.height
                let cosignedRoot = try await LogQueries.root(size: size, profile: .standard, on: d.app.sql)
                #expect(await cosigning.standings().map(\.cosignedSize) == [size, size])
                // Behind the writer's back: the last block, its transactions and its leaf of the log go.
                try await d.app.sql.raw("DELETE FROM log_nodes WHERE (idx + 1) * (1 << level) > \(bind: size - 1)").run()
                try await d.app.sql.raw("DELETE FROM transactions WHERE block_height = \(bind: height)").run()
                try await d.app.sql.raw("DELETE FROM blocks WHERE height = \(bind: height)").run()
                // The writer starts again on what the database holds, and writes another block at that height.
                let op = try #require(try await d.app.keyVault!.signer(for: d.orgs["operator"]!, on: d.app.sql))
                let restarted = try await Sequencer.load(store: LedgerStore(db: d.app.db), sealer: { op }, clock: d.app.ledgerClock)
                #expect(try await TransactionLog.catchUp(to: await restarted.read(\.log), on: d.app.sql) == 0)
                d.app.sequencer = restarted
                try await split(tokens[1])
                let sizeAfter = try await LogQueries.size(on: d.app.sql)
                #expect(await d.height == height && sizeAfter == size)
                await cosigning.round()
                let standings = await cosigning.standings()
                let otherRoot = try await LogQueries.root(size: size, profile: .standard, on: d.app.sql)
                #expect(otherRoot != cosignedRoot)
                #expect(standings.allSatisfy { $0.problem?.contains("it cosigned another head of size \(size)") == true
                    && $0.problem?.contains("this log's head of size \(size) has root \(Base64.encode(otherRoot)); the witness's cosigned head of size \(size) has root \(Base64.encode(cosignedRoot))") == true },
                        "\(standings)")
                for w in witnesses { #expect(try await w.last(d.app.transactionLog!.origin)?.root == cosignedRoot, "nothing new witnessed") }
                let note = try await d.call(nil, .GET, "/api/v1/log/checkpoint").text
                #expect(try SignedNote.parse(note).signatures.count == 1, "the head carries the log's signature alone")
                let page = try await ConsoleTests.get(d, try await ConsoleTests.session(d, "regulator"), "/chain")
                #expect(page.html.contains("id=\"witness-fork\"") && page.html.contains(Base64.encode(cosignedRoot)))
            }
        }
    }

    /// An observer that trusts the witnesses checks the upstream's witnessed head against the
    /// chain it verified: a witnessed head of another history (the upstream showed the witnesses
    /// one log and the observer another) stops it, with both roots.
    @Test func anObserverStopsOnAWitnessedHeadThatContradictsItsChain() async throws {
        try await ObserverTests.twoNodes { d, observer, follower in
            _ = try await follower.poll()
            try await Self.withWitnesses(d) { cosigning, witnesses, _, _ in
                observer.witnessSettings = d.app.witnessSettings
                await cosigning.round()
                #expect(try await follower.checkWitnessedHead() == nil, "the witnessed head is the observer's own log")
                // The upstream's log rewritten (its blocks as they were): the witnesses, fresh for
                // this log, cosign the forged head; the observer has verified the blocks.
                let size = try await LogQueries.size(on: d.app.sql)
                var ids = try await LogQueries.transactionIds(from: 0, to: size, on: d.app.sql)
                ids[2] = TxID(digest: Hashing.sha256(Array("a split view".utf8)))
                var frontier = LogFrontier(profile: .standard)
                var made: [(LogTree.Node, LogTree.Hash)] = []
                for id in ids { made += frontier.append(id) }
                try await d.app.sql.raw("DELETE FROM log_nodes").run()
                try await LogQueries.insert(made, on: d.app.sql)
                try await d.app.sql.raw("DELETE FROM log_cosignatures").run()
                try await d.app.sql.raw("DELETE FROM witness_status").run()
                for w in witnesses { try await w.sql.raw("DELETE FROM witness_heads").run() }
                await cosigning.round()
                let evidence = try #require(try await follower.checkWitnessedHead())
                #expect(evidence.contains("contradicts the chain this observer verified") && evidence.contains(Base64.encode(frontier.root)), "\(evidence)")
                _ = try await follower.poll()
                #expect(await follower.status.state == .halted)
            }
        }
    }

    /// A witness whose record of the log is gone (a new database) answers 409 with size 0 to a
    /// request from the size it cosigned before: the writer follows it there.
    @Test func aWitnessesSizeIsFollowed() async throws {
        try await DemoPlatform.with { d in
            try await Self.withWitnesses(d) { cosigning, witnesses, _, _ in
                await cosigning.round()
                let size = try await LogQueries.size(on: d.app.sql)
                // As if the writer had last heard size 3 from it, and held no cosignature of the head.
                try await CosignatureQueries.stand(witness: witnesses[0].cosigner.key.verifierKey, at: 3, problem: nil, nowMs: 0, on: d.app.sql)
                try await CosignatureQueries.forget(witness: witnesses[0].cosigner.key.verifierKey, on: d.app.sql)
                let restarted = LogCosigning(settings: d.app.witnessSettings, log: d.app.transactionLog!, sql: { d.app.sql },
                                             transport: { url, body in
                                                 let w = witnesses[url.contains("w0") ? 0 : 1]
                                                 guard let body else { return (200, Array(try await w.heads().canonicalBytes)) }
                                                 let a = try await w.addCheckpoint(body)
                                                 return (a.status, Array(a.body.utf8))
                                             },
                                             logger: Logger(label: "c"), nowMs: { d.clock.nowMs() })
                await restarted.round()
                let standings = await restarted.standings()
                #expect(standings.map(\.cosignedSize) == [size, size] && standings.allSatisfy { $0.problem == nil })
            }
        }
    }

    /// The database's history rewritten behind the writer's back: a transaction the witnesses
    /// cosigned is replaced. They refuse (422, or 409 at the same size), nothing new is witnessed,
    /// and the status and the regulator's console name the refusal with both heads.
    @Test func aRewrittenHistoryIsRefusedByTheWitnesses() async throws {
        try await DemoPlatform.with { d in
            try await Self.withWitnesses(d) { cosigning, witnesses, _, _ in
                await cosigning.round()
                let size = try await LogQueries.size(on: d.app.sql)
                let witnessedRoot = try await LogQueries.root(size: size, profile: .standard, on: d.app.sql)
                // Another history: the log rebuilt with one transaction of an early block swapped.
                var ids = try await LogQueries.transactionIds(from: 0, to: size, on: d.app.sql)
                ids[5] = TxID(digest: Hashing.sha256(Array("another history".utf8)))
                var frontier = LogFrontier(profile: .standard)
                var made: [(LogTree.Node, LogTree.Hash)] = []
                for id in ids { made += frontier.append(id) }
                try await d.app.sql.raw("DELETE FROM log_nodes").run()
                try await LogQueries.insert(made, on: d.app.sql)
                // Same size: 409 from both.
                await cosigning.round()
                var standings = await cosigning.standings()
                #expect(standings.allSatisfy { $0.problem?.contains("it cosigned another head of size \(size)") == true }, "\(standings)")
                #expect(standings.allSatisfy { $0.problem?.contains("this log's head of size \(size) has root \(Base64.encode(frontier.root)); the witness's cosigned head of size \(size) has root \(Base64.encode(witnessedRoot))") == true }, "\(standings)")
                // The rewritten history grows; after the backoff both refuse its proof (422).
                _ = try await d.call("tier1", .POST, "/api/v1/tokens/\(try #require(try await d.call("tier1", .GET, "/api/v1/tokens?status=active").items.first?["id"]?.stringValue))/split",
                                     #"{"amountsFen":[1,"# + "\(try await d.call("tier1", .GET, "/api/v1/tokens?status=active").items.first!["amountFen"]!.intValue! - 1)]}")
                d.clock.advance(minutes: 2)
                await cosigning.round()
                standings = await cosigning.standings()
                #expect(standings.allSatisfy { $0.problem?.contains("does not verify: its head is not in this log's history") == true }, "\(standings)")
                // Nothing new witnessed: each witness still holds the head it cosigned.
                for w in witnesses {
                    let held = try #require(try await w.last(d.app.transactionLog!.origin))
                    #expect(held.size == size && held.root == witnessedRoot)
                }
                let status = try await d.call(nil, .GET, "/api/v1/node/status")
                #expect(status["witnesses"]?.arrayValue?.allSatisfy { $0["problem"]?.stringValue?.contains("witness witness") == true } == true)
                let page = try await ConsoleTests.get(d, try await ConsoleTests.session(d, "regulator"), "/chain")
                #expect(page.html.contains("id=\"witness-fork\"") && page.html.contains("its head is not in this log&#39;s history"))
            }
        }
    }
}
