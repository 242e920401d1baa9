import Foundation
import Ledger
import Logging
import NIOConcurrencyHelpers
import NIOPosix
import SQLKit
import class Vapor.Application
import protocol Vapor.StorageKey

/// The writer's second opinion. It keeps a ledger state of its own, taken from the writer's when
/// the writer started (a snapshot and the blocks after it), and replays on it, in the
/// background, every block the database holds after the last one it checked. Then it compares
/// the projection rows those blocks touched with what its replay implies, reading the blocks and
/// the rows at one moment of the database.
///
/// A row that differs means the tables have drifted from the chain: a row the block writer wrote
/// wrong, or a writer whose own state went wrong (the rows are written from it). Either way the
/// writer must not go on writing on top of wrong tables: it stops accepting transactions, and
/// the log, `/node/status` and the regulator's chain page say which block, row, values and
/// transaction. A person looks, and restarts the writer once the cause is known (a restart
/// rebuilds the state from the last snapshot and the chain).
///
/// The rules are applied as the writer applies them; signatures, already checked by the gate,
/// are left to the full verification (`cascade verify`, the regulator's button).
package final class DriftCheck: Sendable {
    private struct Replay {
        package var state: LedgerState
        package var tip: ChainTip
        package var blocks = 0
    }

    /// How the check stands: the last block checked, and the drift found, if any.
    package struct Status: Sendable {
        package var height: Int64
        package var blocksChecked: Int
        package var drift: String?
    }

    /// The replay's state: reached by one check at a time only (`checking`).
    private final class Held: @unchecked Sendable {
        package var replay: Replay
        package init(_ replay: Replay) { self.replay = replay }
    }

    private let held: Held
    private let status: NIOLockedValueBox<Status>
    /// One check at a time: the loop's and a caller's (tests) take turns.
    private let turn = Turn()
    /// The database as it is now (after a failover, the new primary).
    private let store: @Sendable () -> LedgerStore
    private let halt: @Sendable (String) async -> Void
    private let logger = Logger(label: "cascade.drift")
    /// Blocks replayed per check at most, so that one check's reads stay bounded.
    package static let defaultBlocksPerCheck: Int64 = 5_000
    package let blocksPerCheck: Int64

    /// `state` at `tip`: the writer's state as it started. `halt` stops the writer with the reason.
    package init(state: LedgerState, tip: ChainTip, store: @escaping @Sendable () -> LedgerStore, halt: @escaping @Sendable (String) async -> Void,
                 blocksPerCheck: Int64 = DriftCheck.defaultBlocksPerCheck) {
        held = Held(Replay(state: state, tip: tip))
        status = NIOLockedValueBox(Status(height: tip.height, blocksChecked: 0, drift: nil))
        self.store = store
        self.halt = halt
        self.blocksPerCheck = blocksPerCheck
    }

    package var current: Status { status.withLockedValue { $0 } }

    /// Checks the blocks stored since the last check (up to `blocksPerCheck` of them), and stops
    /// the writer on drift. Returns the drift, if any (found now or before).
    @discardableResult
    package func check() async throws -> String? {
        await turn.enter()
        do {
            let found = try await checkInTurn()
            await turn.leave()
            return found
        } catch {
            await turn.leave()
            throw error
        }
    }

    private func checkInTurn() async throws -> String? {
        if let drift = current.drift { return drift }
        let held = self.held
        // What the last check compared may be let go now.
        if held.replay.state.retireIsDue { held.replay.state.retire() }
        let limit = Int(blocksPerCheck), page = min(500, blocksPerCheck), logger = self.logger
        let found: String? = try await store().atOneMoment { store in
            let from = held.replay.tip
            var parsed: [ParsedBlock] = []
            var profile: CryptoProfile?
            // Every block up to this moment's tip: the rows read at this moment are what those
            // blocks left, so comparing them with a replay that stopped short of the tip would
            // see a row a later block changed as drift (a burst of blocks between two checks).
            var beyond = false
            try await store.exportLines(fromHeight: from.height + 1, pageSize: page) { line in
                guard parsed.count < limit else { beyond = true; return }
                let chain = profile ?? held.replay.state.profile(reading: line)
                profile = chain
                parsed.append(try ParsedBlock(line: line, index: Int(from.height) + 1 + parsed.count, profile: chain))
            }
            guard !parsed.isEmpty else { return nil }
            // What the blocks refer to that the state retired comes back first, as of the last
            // block checked; then the blocks apply, off the request threads.
            try await store.prepare(&held.replay.state, at: from.height, for: parsed.flatMap(\.block.transactions))
            let blocks = parsed
            switch try await NIOThreadPool.singleton.runIfActive({ Self.apply(blocks, to: &held.replay) }) {
            case .failure(let refusal): return refusal.reason
            case .success(let touched):
                guard !beyond else {
                    // More blocks than one check reads were written since the last: these are
                    // replayed, and compared when the check has caught up (the full verification
                    // compares every row).
                    logger.notice("drift check: more than \(limit) blocks since the last check; blocks \(from.height + 1)–\(held.replay.tip.height) replayed, their rows compared from the next check on")
                    return nil
                }
                return try await Self.compare(touched, with: held.replay.state, on: store)
            }
        }
        let checked = (held.replay.tip.height, held.replay.blocks)
        status.withLockedValue { $0.height = checked.0; $0.blocksChecked = checked.1 }
        if let found {
            status.withLockedValue { $0.drift = found }
            logger.critical("drift: \(found)")
            await halt("the tables drifted from the chain: \(found)")
        }
        return found
    }

    /// Checks every `interval` until `stop()` is called; a check that cannot read the database
    /// is logged and tried again at the next one.
    package func loop(every interval: Duration, until stopped: @escaping @Sendable () -> Bool) async {
        var failures = 0
        while !stopped(), !Task.isCancelled, current.drift == nil {
            do {
                try await check()
                failures = 0
            } catch {
                failures += 1
                if failures == 1 || failures % 20 == 0 { logger.warning("drift check: the database could not be read (\(error)); trying again") }
            }
            try? await Task.sleep(for: interval)
        }
    }

    /// Callers in the order they came, one at a time.
    private actor Turn {
        private var busy = false
        private var waiting: [CheckedContinuation<Void, Never>] = []

        package func enter() async {
            guard busy else { busy = true; return }
            await withCheckedContinuation { waiting.append($0) }
        }

        package func leave() {
            if waiting.isEmpty { busy = false } else { waiting.removeFirst().resume() }
        }
    }

    /// Where each touched row was last changed: the block and the transaction.
    package struct Touch: Sendable {
        package var height: Int64
        package var transaction: TxID
        package var type: TxType
    }

    /// The rows the blocks touched, table by table, keyed as `Projection.key` keys them.
    package struct Touched: Sendable {
        package var rows: [String: [String: Touch]] = [:]
        /// The transaction log's subtrees the blocks complete, with the block that completes each.
        package var logNodes: [(node: LogTree.Node, hash: LogTree.Hash, height: Int64)] = []

        package mutating func add(_ effects: TxEffects, at touch: Touch) {
            func mark(_ table: Projection.Table, _ key: some CustomStringConvertible) { rows[table.name, default: [:]][key.description] = touch }
            for t in effects.tokens { mark(Projection.tokens, t) }
            if let r = effects.receivableId, effects.receivableChanged { mark(Projection.receivables, r) }
            for f in effects.financingIds { mark(Projection.financings, f) }
            for e in effects.earlyPaymentIds { mark(Projection.earlyPayments, e) }
            if let l = effects.creditLineId { mark(Projection.creditLines, l) }
            if let o = effects.orgId { mark(Projection.orgs, o) }
            if effects.policyChanged { mark(Projection.policy, 1) }
        }
    }

    /// Applies the blocks in order, each after the one before it, and says what they touched; or
    /// why one does not apply (the stored chain itself is then wrong: also a stop).
    /// Why a stored block does not apply on the check's replay.
    private struct Refusal: Error {
        var reason: String
    }

    private static func apply(_ blocks: [ParsedBlock], to replay: inout Replay) -> Result<Touched, Refusal> {
        var touched = Touched()
        for parsed in blocks {
            let h = parsed.block.header
            guard h.height == replay.tip.height + 1, h.prevHash == replay.tip.hash else {
                return .failure(Refusal(reason: "block \(h.height) does not follow block \(replay.tip.height) as the check last saw it"))
            }
            let transactions = parsed.block.transactions
            // Block 0 fixes the chain's profile before its transactions apply.
            if h.height == 0, replay.state.operatorId == nil { replay.state.create(in: h.profile ?? .standard) }
            var position = 0
            if let refused = replay.state.apply(contentsOf: transactions, onEffects: { effects in
                let tx = transactions[position]
                touched.add(effects, at: Touch(height: h.height, transaction: tx.id, type: tx.body.type))
                position += 1
            }) {
                let tx = transactions[refused.index]
                return .failure(Refusal(reason: "block \(h.height), transaction \(tx.id) (\(tx.body.type.rawValue)), does not apply on a replay: \(refused.error.message)"))
            }
            touched.logNodes += replay.state.extendLog(with: transactions).map { ($0.0, $0.1, h.height) }
            replay.tip = ChainTip(height: h.height, hash: parsed.block.hash, time: h.time)
            replay.blocks += 1
        }
        return .success(touched)
    }

    /// The first touched row the database holds otherwise than the replay implies, described; nil
    /// when all agree.
    private static func compare(_ touched: Touched, with state: LedgerState, on store: LedgerStore) async throws -> String? {
        // The transaction log's subtrees: each as the chain gives it.
        let stored = try await LogQueries.nodes(Set(touched.logNodes.map(\.node)), on: store.sql)
        if let drifted = touched.logNodes.first(where: { stored[$0.node] != $0.hash }) {
            return "log_nodes \(drifted.node) (block \(drifted.height)): the database holds \(stored[drifted.node].map { Hex.encode($0) } ?? "no row"), the chain gives \(Hex.encode(drifted.hash))"
        }
        let expected = Projection.touched(touched.rows.mapValues { Array($0.keys) }, in: state)
        for table in Projection.all {
            guard let touches = touched.rows[table.name] else { continue }
            let stored = try await store.rows(of: table, keys: touches.keys.sorted())
            for key in touches.keys.sorted() {
                let want = expected[table.name]?[key], have = stored[key]
                guard want != have else { continue }
                let touch = touches[key]!
                return "block \(touch.height), transaction \(touch.transaction) (\(touch.type.rawValue)): \(table.name) \(key) is "
                    + "\(have.map { "\($0)" } ?? "missing") in the database, where the chain gives \(want.map { "\($0)" } ?? "no row")"
            }
        }
        return nil
    }
}

extension Application {
    private struct DriftCheckKey: StorageKey { typealias Value = DriftCheck }

    /// The writer's drift check, once the writer has started.
    package var driftCheck: DriftCheck? {
        get { storage[DriftCheckKey.self] }
        set { storage[DriftCheckKey.self] = newValue }
    }
}

extension Projection {
    /// The rows `state` implies for the given keys, table by table (a key the state does not
    /// hold has no row).
    package static func touched(_ keys: [String: [String]], in state: LedgerState) -> [String: [String: [Cell]]] {
        var out: [String: [String: [Cell]]] = [:]
        func put(_ table: Table, _ row: [Cell]?) {
            guard let row else { return }
            out[table.name, default: [:]][key(of: row)] = row
        }
        for k in keys[tokens.name] ?? [] { put(tokens, TokenID(k).flatMap { state.tokens[$0] }.map(row)) }
        for k in keys[receivables.name] ?? [] { put(receivables, TxID(k).flatMap { state.receivables[$0] }.map(row)) }
        for k in keys[financings.name] ?? [] { put(financings, TxID(k).flatMap { state.financings[$0] }.map(row)) }
        for k in keys[earlyPayments.name] ?? [] { put(earlyPayments, TxID(k).flatMap { state.earlyPayments[$0] }.map(row)) }
        for k in keys[creditLines.name] ?? [] { put(creditLines, TxID(k).flatMap { state.creditLines[$0] }.map(row)) }
        for k in keys[orgs.name] ?? [] { put(orgs, OrgID(k).flatMap { state.orgs[$0] }.map(row)) }
        if keys[policy.name] != nil { put(policy, row(state.policy)) }
        return out
    }
}
