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

/// `cascade witness`, C2SP `tlog-witness` exactly: it cosigns a head only when a consistency
/// proof shows that it extends the last one it cosigned, and answers every other request with its
/// status, storing nothing.
@Suite struct WitnessTests {
    /// A log of the test's own: leaves, their subtrees, and its note key.
    struct Log {
        var frontier = LogFrontier(profile: .standard)
        var nodes: [LogTree.Node: LogTree.Hash] = [:]
        let signer: NoteSigner
        var origin: String { signer.verifier.name }

        init(origin: String = "cascade.test/ledger", seed: UInt8 = 1) throws {
            signer = try NoteSigner(name: origin, seed: [UInt8](repeating: seed, count: 32))
        }

        mutating func grow(to size: Int64, tag: String = "") {
            while frontier.size < size {
                for (node, hash) in frontier.append(leafHash: Merkle.leafHash(Array("leaf \(frontier.size)\(tag)".utf8))) { nodes[node] = hash }
            }
        }

        func node(_ n: LogTree.Node) throws -> LogTree.Hash {
            guard let hash = nodes[n] else { throw LogTree.Refused(description: "no \(n)") }
            return hash
        }

        func head(_ size: Int64) throws -> (note: String, root: LogTree.Hash) {
            let root = try LogTree.root(size: size, profile: .standard, node: node)
            return (try signer.sign(Checkpoint(origin: origin, size: size, root: root).text), root)
        }

        func request(from old: Int64, to size: Int64) throws -> [UInt8] {
            let proof = old == 0 ? [] : try LogTree.consistencyProof(from: old, to: size, profile: .standard, node: node)
            return Array(AddCheckpoint.body(oldSize: old, proof: proof, note: try head(size).note).utf8)
        }
    }

    static func witness(_ app: Application, _ log: Log, clock: NIOLockedValueBox<UInt64> = NIOLockedValueBox(1_800_000_000)) async throws -> Witness {
        try await WitnessHeads.prepare(app.sql)
        return Witness(cosigner: try Cosigner(name: "bank.test/witness", seed: [UInt8](repeating: 9, count: 32)),
                       logs: [Witness.Log(key: log.signer.verifier, profile: .standard)], sql: app.sql, logger: Logger(label: "witness"),
                       now: { clock.withLockedValue { $0 } })
    }

    @Test func itCosignsHeadsThatExtendTheLastAndRefusesTheRest() async throws {
        try await TestDatabase.with { app in
            var log = try Log()
            log.grow(to: 100)
            let witness = try await Self.witness(app, log)
            let key = witness.cosigner.key
            #expect(try CosignatureKey(verifierKey: key.verifierKey) == key)

            // The first head, from size 0: no proof.
            let first = try await witness.addCheckpoint(try log.request(from: 0, to: 10))
            #expect(first.status == 200)
            let line = try #require(try SignedNote.parse(try log.head(10).note + first.body).signatures.last)
            #expect(key.cosigned(Checkpoint(origin: log.origin, size: 10, root: try log.head(10).root).text, in: [line]) == 1_800_000_000)
            // The next, with the proof from 10.
            #expect(try await witness.addCheckpoint(try log.request(from: 10, to: 57)).status == 200)
            #expect(try await witness.last(log.origin)?.size == 57)
            // The same head again: cosigned again, nothing moves.
            #expect(try await witness.addCheckpoint(try log.request(from: 57, to: 57)).status == 200)

            // Each refusal with its status, and the stored head unchanged.
            let stale = try await witness.addCheckpoint(try log.request(from: 10, to: 80))
            #expect(stale.status == 409 && stale.body == "57\n" && stale.contentType == "text/x.tlog.size")
            let ahead = try await witness.addCheckpoint(Array(AddCheckpoint.body(oldSize: 90, proof: [], note: try log.head(80).note).utf8))
            #expect(ahead.status == 400)
            var short = try LogTree.consistencyProof(from: 57, to: 80, profile: .standard, node: log.node)
            short.removeLast()
            #expect(try await witness.addCheckpoint(Array(AddCheckpoint.body(oldSize: 57, proof: short, note: try log.head(80).note).utf8)).status == 422)
            let badLine = Array("old 57\nAAAA\n\n\(try log.head(80).note)".utf8)
            #expect(try await witness.addCheckpoint(badLine).status == 400)
            let stranger = try Log(seed: 2)
            #expect(try await witness.addCheckpoint(try { var l = stranger; l.grow(to: 80); return try l.request(from: 57, to: 80) }()).status == 403)
            let spaced = try NoteSigner(name: "cascade.test/ledger", seed: [UInt8](repeating: 1, count: 32))
            let spacedNote = try spaced.sign(Checkpoint(origin: "cascade test", size: 80, root: try log.head(80).root).text)
            #expect(try await witness.addCheckpoint(Array(AddCheckpoint.body(oldSize: 57, proof: [], note: spacedNote).utf8)).status == 404)
            #expect(try await witness.addCheckpoint(Array("not a request".utf8)).status == 400)
            #expect(try await witness.addCheckpoint([UInt8](repeating: 0x41, count: AddCheckpoint.maxBytes + 1)).status == 400)

            // Another head of the cosigned size, with another root: a fork, refused.
            var fork = try Log()
            fork.grow(to: 57, tag: "'")
            #expect(try await witness.addCheckpoint(Array(AddCheckpoint.body(oldSize: 57, proof: [], note: try fork.head(57).note).utf8)).status == 409)
            // A longer fork: its proof from the cosigned head does not verify.
            fork.grow(to: 70, tag: "'")
            let forkProof = try LogTree.consistencyProof(from: 57, to: 70, profile: .standard, node: fork.node)
            #expect(try await witness.addCheckpoint(Array(AddCheckpoint.body(oldSize: 57, proof: forkProof, note: try fork.head(70).note).utf8)).status == 422)
            let stored = try #require(try await witness.last(log.origin))
            let root57 = try log.head(57).root
            #expect(stored.size == 57 && stored.root == root57, "no refusal stored anything")
            #expect(key.cosigned(try SignedNote.parse(stored.note).text, in: try SignedNote.parse(stored.note).signatures) != nil)
            #expect(log.signer.verifier.verifies(stored.note))
        }
    }

    /// 64 requests at once, each a head extending the stored one: exactly one moves it, the rest
    /// hear the new size; the head is never rolled back.
    @Test func sixtyFourAtOnceMoveTheHeadOnce() async throws {
        try await TestDatabase.with { app in
            var log = try Log()
            log.grow(to: 200)
            let witness = try await Self.witness(app, log)
            #expect(try await witness.addCheckpoint(try log.request(from: 0, to: 100)).status == 200)
            let bodies = try (1...64).map { try log.request(from: 100, to: Int64(100 + $0)) }
            let statuses = try await withThrowingTaskGroup(of: (Int64, Int).self) { group in
                for (i, body) in bodies.enumerated() { group.addTask { (Int64(101 + i), try await witness.addCheckpoint(body).status) } }
                return try await group.reduce(into: [(Int64, Int)]()) { $0.append($1) }
            }
            let won = statuses.filter { $0.1 == 200 }
            #expect(won.count == 1 && statuses.filter { $0.1 == 409 }.count == 63, "\(statuses.map(\.1))")
            #expect(try await witness.last(log.origin)?.size == won.first?.0)
        }
    }

    /// Over HTTP: the routes, a 10 MB body refused (413) with the witness still serving, and the
    /// heads it cosigned.
    @Test func overHTTPAHugeBodyIsRefusedAndTheWitnessKeepsServing() async throws {
        try await TestDatabase.with { app in
            var log = try Log()
            log.grow(to: 20)
            let witness = try await Self.witness(app, log)
            WitnessCommand.routes(witness, on: app)
            try await app.testing().test(.POST, "add-checkpoint", body: ByteBuffer(bytes: [UInt8](repeating: 0x41, count: 10 * 1024 * 1024))) { res in
                // Over a socket Vapor refuses it unread (413); handed over whole, the witness refuses it (400).
                #expect([.payloadTooLarge, .badRequest].contains(res.status))
            }
            try await app.testing().test(.POST, "add-checkpoint", body: ByteBuffer(bytes: try log.request(from: 0, to: 20))) { res in
                #expect(res.status == .ok && res.body.string.hasPrefix("\u{2014} bank.test/witness "))
            }
            try await app.testing().test(.POST, "add-checkpoint", body: ByteBuffer(bytes: try log.request(from: 5, to: 20))) { res in
                #expect(res.status == .conflict && res.headers.contentType?.description == "text/x.tlog.size" && res.body.string == "20\n")
            }
            try await app.testing().test(.GET, "heads") { res in
                let heads = try? JSON.parse(Array(res.body.readableBytesView))
                #expect(res.status == .ok && heads?.arrayValue?.first?["size"] == .int(20) && heads?.arrayValue?.first?["note"]?.stringValue?.hasPrefix("cascade.test/ledger\n20\n") == true)
            }
        }
    }

    @Test func theLogsOptionsAreTakenOutOfTheArguments() throws {
        var arguments = ["cascade", "witness", "--log", "a+00000000+AQ==", "--port", "8071", "--log", "b+00000000+AQ== sm2-sm3"]
        try takeWitnessLogOptions(&arguments)
        #expect(arguments == ["cascade", "witness", "--port", "8071"])
        #expect(ProcessInfo.processInfo.environment[WitnessCommand.logsVariable] == "a+00000000+AQ==\nb+00000000+AQ== sm2-sm3")
        let log = try Log()
        let parsed = try WitnessCommand.logs(from: "\(log.signer.verifier.verifierKey)\n\(log.signer.verifier.verifierKey) sm2-sm3")
        #expect(parsed.map(\.profile) == [.standard, .sm2Sm3])
        #expect(throws: ConfigurationError.self) { try WitnessCommand.logs(from: "not-a-key") }
        #expect(throws: ConfigurationError.self) { try WitnessCommand.logs(from: "\(log.signer.verifier.verifierKey) sm9") }
    }
}
