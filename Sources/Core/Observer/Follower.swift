import Foundation
import Ledger
import SQLKit
import class Vapor.Application
import struct Vapor.URI
import NIOHTTP1
import struct Vapor.BearerAuthorization
import protocol Vapor.StorageKey

/// An observer node's follower: pulls blocks from the upstream writer's chain export, verifies
/// every hash, signature, Merkle root and rule before storing anything, and keeps its own copy
/// in its own database. It trusts nobody: if the upstream serves a block that does not verify,
/// or a different block at a height already verified (a rewritten history), it stops following,
/// keeps its verified copy, and reports the evidence.
package actor Follower {
    package enum State: String, Sendable {
        case following, halted
    }

    package let app: Application
    package let upstream: String
    package let token: String
    package private(set) var replayer: ChainReplayer
    package private(set) var state: State = .following
    package private(set) var problem: String?
    package private(set) var lastPollMs: Int64?
    private var polling = false

    package init(app: Application, upstream: String, token: String, start: StartingPoint) {
        self.app = app
        self.upstream = upstream.hasSuffix("/") ? String(upstream.dropLast()) : upstream
        self.token = token
        replayer = ChainReplayer(resuming: start.state, at: start.tip)
        self.start = start.account
        snapshotedAt = start.snapshotHeight >= 0 ? start.snapshotTransactions : start.state.transactionCount
    }

    /// Starts from what the observer's own database holds: its own latest snapshot and the
    /// blocks after it, verified again, or the whole chain it holds when there is no usable one.
    package static func load(app: Application, upstream: String, token: String) async throws -> Follower {
        let start = try await StartingPoint.find(in: LedgerStore(db: app.db), operatorKey: nil, signed: false)
        app.logger.notice("observer: state \(start.account)")
        return Follower(app: app, upstream: upstream, token: token, start: start)
    }

    /// How this observer came by its state (see `StartingPoint`).
    package let start: String
    /// The transactions its state held at its last snapshot.
    private var snapshotedAt: Int
    /// Transactions between an observer's own snapshots, as for the writer's.
    package var snapshotEvery = Sequencer.SnapshotPolicy.fromEnvironment().transactions

    package var height: Int64 { replayer.height }

    package struct Status: Sendable {
        package var upstream: String
        package var height: Int64
        package var state: State
        package var problem: String?
    }

    package var status: Status { Status(upstream: upstream, height: replayer.height, state: state, problem: problem) }

    /// One round: fetch from the last verified height (that block again, to see it is unchanged),
    /// verify what is new, store it. Returns how many blocks were added.
    @discardableResult
    package func poll() async throws -> Int {
        // One round at a time: a round waits on the network and the database, and its blocks go
        // onto the state as they are stored.
        guard state == .following, !polling else { return 0 }
        polling = true
        defer { polling = false }
        lastPollMs = app.wallClock.nowMs()
        let from = max(replayer.height, 0)
        var headers = HTTPHeaders()
        headers.bearerAuthorization = BearerAuthorization(token: token)
        let response = try await app.client.get(URI(string: "\(upstream)/api/v1/chain/export?fromHeight=\(from)"), headers: headers)
        guard response.status == .ok, let body = response.body else {
            throw FollowError("upstream answered \(response.status.code) to the chain export")
        }
        var lines = Array(body.readableBytesView).split(separator: 0x0A, omittingEmptySubsequences: true)
        if replayer.height >= 0 {
            guard let first = lines.first else { return halt("upstream served nothing from height \(from), which this node has verified") }
            let parsed: ParsedBlock
            do { parsed = try ParsedBlock(line: first, index: Int(from), profile: replayer.state.profile) } catch { return halt("block \(from) as served again does not parse: \(error)") }
            guard parsed.block.header.height == replayer.height, parsed.block.hash == replayer.lastHash else {
                return halt("rewritten history: upstream now serves block \(parsed.block.header.height) with hash \(parsed.block.hash); "
                            + "the verified block \(replayer.height) has hash \(replayer.lastHash)")
            }
            // Byte for byte: a transaction edited under an unchanged header is a rewrite too.
            var kept: [UInt8]?
            try await LedgerStore(db: app.db).exportLines(fromHeight: replayer.height, pageSize: 1) { line in if kept == nil { kept = line } }
            guard let kept, kept.elementsEqual(first) else {
                return halt("rewritten history: upstream now serves block \(replayer.height) with different contents under the same header (\(parsed.badTransaction?.reason ?? "transactions changed"))")
            }
            lines.removeFirst()
        }
        guard !lines.isEmpty else { return try await checkWitnessedHead().map(halt) ?? 0 }
        var blocks: [ParsedBlock] = []
        let profile = replayer.state.profile(reading: lines.first)
        for (i, line) in lines.enumerated() {
            do { blocks.append(try ParsedBlock(line: line, index: Int(replayer.height) + 1 + i, profile: profile)) } catch { return halt("upstream served an unreadable block: \(error)") }
        }
        let store = LedgerStore(db: app.db)
        // What the blocks refer to that the live state retired comes back from this database.
        // The state is moved out while it is prepared (an actor's property is not passed inout
        // across a wait) and back in either way, so that it keeps one owner and is never copied.
        do {
            var state = replayer.state
            replayer.state = LedgerState()
            defer { replayer.state = state }
            try await store.prepare(&state, at: replayer.height, for: blocks.flatMap(\.block.transactions))
        }
        // Each block goes onto the state itself, as the writer's do, with an undo record: a block
        // that does not verify, or that the store does not take, puts the state back as it was
        // after the block before, which stands (verified and stored).
        var added = 0
        defer {
            replayer.collectsEffects = false
            replayer.effects = []
            replayer.logNodes = []
        }
        for parsed in blocks {
            replayer.collectsEffects = true
            replayer.effects = []
            replayer.logNodes = []
            replayer.openUndo()
            do {
                try replayer.append([parsed], firstIndex: Int(replayer.height) + 1, parallelism: ProcessInfo.processInfo.activeProcessorCount)
            } catch {
                replayer.rollBack()
                return halt("upstream served a block that does not verify: \(error.description)")
            }
            do {
                try await store.append(parsed.block, effects: replayer.effects, state: replayer.state, logNodes: replayer.logNodes)
            } catch {
                replayer.rollBack()
                throw error
            }
            replayer.dropUndo()
            added += 1
        }
        if replayer.state.retireIsDue { replayer.state.retire() }
        if replayer.state.transactionCount - snapshotedAt >= snapshotEvery { try await writeSnapshot() }
        if let contradiction = try await checkWitnessedHead() { return halt(contradiction) }
        return added
    }

    /// The upstream's head of the transaction log, when the quorum of the witnesses this observer
    /// trusts (`CASCADE_WITNESSES`, `CASCADE_WITNESS_QUORUM`) cosigned it, must be this observer's
    /// own log at that size: a witnessed head of another history means the upstream showed this
    /// observer a chain the witnesses never saw. Answers the evidence, or nil.
    func checkWitnessedHead() async throws -> String? {
        let trusted = app.witnessSettings
        guard !trusted.witnesses.isEmpty, trusted.quorum > 0 else { return nil }
        let response = try await app.client.get(URI(string: "\(upstream)/api/v1/log/checkpoint"))
        guard response.status == .ok, let body = response.body,
              let (text, signatures) = try? SignedNote.parse(String(decoding: body.readableBytesView, as: UTF8.self)),
              let head = try? Checkpoint(text: text) else { return nil }
        let vouched = trusted.witnesses.filter { $0.key.cosigned(text, in: signatures) != nil }.map(\.key.name)
        guard vouched.count >= trusted.quorum, head.size <= replayer.state.log.size, head.size > 0 else { return nil }
        let ours = try await LogQueries.root(size: head.size, profile: replayer.state.profile, on: app.sql)
        guard ours != head.root else { return nil }
        return "a head of the transaction log witnessed by \(vouched.joined(separator: ", ")) contradicts the chain this observer verified: "
            + "the witnessed head of size \(head.size) has root \(Base64.encode(head.root)); this observer's log at that size has root \(Base64.encode(ours))"
    }

    /// The observer's own snapshot, in its own database (unsigned: it trusts its database).
    package func writeSnapshot() async throws {
        let tip = ChainTip(height: replayer.height, hash: replayer.lastHash, time: replayer.lastTime)
        guard tip.height >= 0 else { return }
        try await LedgerStore(db: app.db).writeSnapshot(try StoredSnapshot.make(replayer.state, at: tip, signer: nil), nowMs: Int64(Date().timeIntervalSince1970 * 1000))
        snapshotedAt = replayer.state.transactionCount
    }

    private func halt(_ evidence: String) -> Int {
        state = .halted
        problem = evidence
        app.logger.critical("observer halted, keeping its verified copy at height \(replayer.height): \(evidence)")
        return 0
    }
}

package struct FollowError: Error, CustomStringConvertible {
    package var description: String
    package init(_ description: String) { self.description = description }
}

extension Application {
    private struct FollowerKey: StorageKey { typealias Value = Follower }

    private struct ReplicaKey: StorageKey { typealias Value = Bool }

    /// Set on a read-only replica (`CASCADE_READ_ONLY=true cascade serve`): no writer, and every
    /// write refused.
    package var readOnlyReplica: Bool {
        get { storage[ReplicaKey.self] ?? false }
        set { storage[ReplicaKey.self] = newValue }
    }

    /// Set on an observer node: every write is refused and the status says whom it follows.
    package var follower: Follower? {
        get { storage[FollowerKey.self] }
        set { storage[FollowerKey.self] = newValue }
    }
}
