import Foundation
import Tracing
import Ledger
import Logging
import NIOConcurrencyHelpers
import NIOCore
import class Vapor.Application
import protocol Vapor.StorageKey

/// The single writer. It owns the in-memory ledger state, applies each transaction with the
/// pure state machine, and commits the transactions it accepted as one block in one database
/// transaction. Callers are answered only after their block commits.
///
/// Group commit: while one block is being written, new transactions queue; when the write
/// finishes they form the next block (up to `maxBlockTx`). One fsync carries many transactions.
///
/// If a commit fails, the state goes back to where it stood before the block, from an undo record
/// kept in memory (no replay): a transaction whose content the database refused is refused
/// alone, and its block-mates are written without it; any other failure fails the block.
///
/// If the database goes away (the connection holding the writer lock closes, or nobody can say
/// whether a block was written), the writer reconnects with backoff, takes the lock again, takes
/// up whatever the database holds after its last block, and goes on. Meanwhile every caller
/// hears `503 unavailable`; those whose block's fate is unknown wait for it a while first.
public actor Sequencer {
    package struct Waiter {
        package let tx: Transaction
        package let continuation: CheckedContinuation<Outcome, any Error>
        /// Only asked whether the rules would take it now: applied, answered, and undone.
        package var trial = false
    }

    private var state: LedgerState
    public private(set) var height: Int64
    private var lastHash: String
    private var lastTime: Int64
    /// The time of the last block: the chain's own clock never runs behind it.
    package var tipTimeMs: Int64 { lastTime }
    private var store: LedgerStore
    private let sealer: @Sendable () -> (any TransactionSigner)?
    private let clock: any LedgerClock
    private let logger = Logger(label: "cascade.writer")
    private let maxBlockTx: Int
    private var queue: [Waiter] = []
    private var writing = false
    private let reconnect: Reconnect
    /// Set while the writer is getting its database back: nothing is accepted until it has.
    public private(set) var recovering: String?
    /// Set when what the database holds cannot be taken up (it lost blocks this writer committed,
    /// or holds blocks that do not verify): nothing is accepted until a person has looked.
    public private(set) var broken: String?

    /// How the writer gets its database back after losing it.
    public struct Reconnect: Sendable {
        /// A store to write through again: a new connection holding the writer lock (PostgreSQL),
        /// or the same store (SQLite). Throws while the database cannot be reached or is taken.
        package var connect: @Sendable (LedgerStore) async throws -> LedgerStore
        package var firstDelay: Duration = .milliseconds(50)
        package var maxDelay: Duration = .seconds(3)
        /// How long callers whose block's fate is unknown wait for the answer before they hear 503.
        package var fateWait: Duration = .seconds(8)
        /// Whether the process let the lock go on purpose (it is shutting down): nothing to recover.
        package var letGo: @Sendable () -> Bool = { false }

        /// Writes go on through the same store once it answers.
        package static let sameStore = Reconnect(connect: { store in
            _ = try await store.tip()
            return store
        })
    }

    /// Blocks and transactions committed by this process, and the time spent writing them.
    public struct CommitStats: Sendable {
        public var blocks = 0
        public var transactions = 0
        public var writeSeconds = 0.0
    }
    public private(set) var commitStats = CommitStats()

    /// How often the state is written down as a snapshot, and the last one written.
    public struct SnapshotPolicy: Sendable {
        /// After this many transactions since the last snapshot...
        public var transactions = 50_000
        /// ...or this long, whichever comes first (and only once a block was written since).
        public var interval: Duration = .seconds(600)

        public init(transactions: Int = 50_000, interval: Duration = .seconds(600)) {
            self.transactions = max(1, transactions)
            self.interval = interval
        }

        /// `CASCADE_SNAPSHOT_TRANSACTIONS` (default 50,000) and `CASCADE_SNAPSHOT_MINUTES` (default 10).
        /// The names these settings had before, `CASCADE_CHECKPOINT_TRANSACTIONS` and
        /// `CASCADE_CHECKPOINT_MINUTES`, still work (the new name wins), with a line in the log.
        public static func fromEnvironment(_ env: [String: String] = ProcessInfo.processInfo.environment,
                                           logger: Logger = Logger(label: "cascade.writer")) -> SnapshotPolicy {
            func setting(_ name: String, formerly old: String) -> Int? {
                if let value = env[name] { return Int(value) }
                guard let value = env[old] else { return nil }
                logger.notice("\(old) is now called \(name); the old name still works, but please rename it")
                return Int(value)
            }
            return SnapshotPolicy(transactions: setting("CASCADE_SNAPSHOT_TRANSACTIONS", formerly: "CASCADE_CHECKPOINT_TRANSACTIONS") ?? 50_000,
                                  interval: .seconds(60 * (setting("CASCADE_SNAPSHOT_MINUTES", formerly: "CASCADE_CHECKPOINT_MINUTES") ?? 10)))
        }
    }
    private let snapshots: SnapshotPolicy
    private var lastSnapshot: (height: Int64, transactions: Int, at: ContinuousClock.Instant)
    private var snapshotWriting = false
    /// How this writer came by its state: from a snapshot and the blocks after it, or by a
    /// replay of the whole chain (and then why the snapshot was not used).
    public nonisolated let start: String

    /// Failure injection for tests: called after a block is sealed and before it is written.
    package var beforeCommit: (@Sendable (Block) async throws -> Void)?

    /// Every org's current key, as of the last transaction applied: requests check signatures
    /// with it without waiting for the writer. Replaced whenever a transaction changes an org.
    private nonisolated let keys: NIOLockedValueBox<SigningKeys>
    public nonisolated var signingKeys: SigningKeys { keys.withLockedValue { $0 } }

    /// The writer's thread, where the database connection that writes blocks also lives.
    package nonisolated let executor = WriterThread.loop.executor
    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    package init(start: StartingPoint, store: LedgerStore, sealer: @escaping @Sendable () -> (any TransactionSigner)?,
         clock: any LedgerClock, maxBlockTx: Int = 1_000, reconnect: Reconnect = .sameStore, snapshots: SnapshotPolicy = SnapshotPolicy()) {
        self.reconnect = reconnect
        state = start.state
        keys = NIOLockedValueBox(start.state.signingKeys)
        height = start.tip.height
        lastHash = start.tip.hash
        lastTime = start.tip.time
        self.start = start.account
        self.snapshots = snapshots
        lastSnapshot = (start.snapshotHeight, start.snapshotTransactions, .now)
        self.store = store
        self.sealer = sealer
        self.clock = clock
        // A block replay would refuse for its size must never be sealed.
        self.maxBlockTx = min(max(maxBlockTx, 1), Limits.maxTransactionsPerBlock)
    }

    /// Starts from the latest snapshot and the blocks after it, or, when there is none or it is
    /// refused, by replaying and checking the whole stored chain.
    package static func load(store: LedgerStore, sealer: @escaping @Sendable () -> (any TransactionSigner)?, clock: any LedgerClock,
                     maxBlockTx: Int = 1_000, reconnect: Reconnect = .sameStore, snapshots: SnapshotPolicy = SnapshotPolicy()) async throws -> Sequencer {
        let start = try await StartingPoint.find(in: store, operatorKey: sealer()?.publicKey, signed: true)
        let sequencer = Sequencer(start: start, store: store, sealer: sealer, clock: clock, maxBlockTx: maxBlockTx, reconnect: reconnect, snapshots: snapshots)
        sequencer.logger.notice("writer: state \(start.account)")
        sequencer.watchConnection(of: store)
        return sequencer
    }

    /// The chain's crypto profile. An empty chain is created in `wanted` (nil: the standard
    /// profile); a chain that has begun keeps the profile block 0 named, and a different `wanted`
    /// is refused: nothing switches a chain's profile.
    package func settleProfile(_ wanted: CryptoProfile?) throws -> CryptoProfile {
        guard height < 0, state.operatorId == nil else {
            if let wanted, wanted != state.profile {
                throw ConfigurationError("CASCADE_CRYPTO_PROFILE is \(wanted.rawValue), but this chain was created in the \(state.profile.rawValue) profile (block 0 says so) and keeps it for life; unset CASCADE_CRYPTO_PROFILE or set it to \(state.profile.rawValue)")
            }
            return state.profile
        }
        state.create(in: wanted ?? .standard)
        keys.withLockedValue { $0 = state.signingKeys }
        return state.profile
    }

    /// Starts recovering as soon as the connection holding the writer lock closes, rather than
    /// at the next commit: requests read through the pool, and after a failover the pool moves to
    /// the new primary only once the writer has found it. Called once the sequencer is made, and
    /// again by each recovery for its new connection.
    package nonisolated func watchConnection(of store: LedgerStore) {
        guard let connection = store.writer else { return }
        let id = ObjectIdentifier(connection)
        connection.closeFuture.whenComplete { _ in
            Task { await self.connectionClosed(id) }
        }
    }

    private func connectionClosed(_ id: ObjectIdentifier) async {
        // Only the connection writes go through now counts (one a recovery replaced does not). A
        // block being written finds out for itself; a recovery under way has its own connection.
        guard let current = store.writer, ObjectIdentifier(current) == id else { return }
        guard !writing, recovering == nil, broken == nil, !reconnect.letGo() else { return }
        writing = true
        await recover(holding: [], sealed: nil, because: "the connection holding the writer lock closed")
        await drain()
    }

    /// Asks the connection holding the writer lock for the last block (within `limit`) while
    /// no block is being written, and recovers if it does not: a connection that died without
    /// the writer hearing of it, or a server that stopped answering, must not leave an idle
    /// writer (and the request pool it moves on a failover) on a dead primary. Called every
    /// few seconds.
    package func heartbeat(within limit: TimeAmount = .seconds(5)) async {
        guard !writing, recovering == nil, broken == nil, !reconnect.letGo(), let connection = store.writer else { return }
        writing = true  // no block starts while the connection is asked
        do {
            try await LedgerStore.ping(GuardedConnection(connection: connection, limit: limit, logger: logger))
        } catch {
            if !reconnect.letGo() { await recover(holding: [], sealed: nil, because: "the connection holding the writer lock does not answer (\(error))") }
        }
        await drain()
    }

    /// Reads the current state on the writer. Reach the state only through here: a copy taken
    /// out of the actor would make the next transaction copy every table it touches.
    public func read<T: Sendable>(_ body: (LedgerState) throws -> T) rethrows -> T {
        try body(state)
    }

    package func setBeforeCommit(_ hook: (@Sendable (Block) async throws -> Void)?) { beforeCommit = hook }
    /// Told of every block committed: how long sealing and writing it took, and its transactions.
    package private(set) var commitObserver: (@Sendable (Duration, Int) -> Void)?
    package func setCommitObserver(_ observer: (@Sendable (Duration, Int) -> Void)?) { commitObserver = observer }

    /// Transactions waiting for the next block, and whether a block is being written (tests).
    package var queued: Int { queue.count }
    package var isWriting: Bool { writing }
    package var beforeCommitHook: (@Sendable (Block) async throws -> Void)? { beforeCommit }

    /// Applies `tx` in its turn and returns once the block holding it is committed. A refused
    /// transaction fails at once with its ledger error and changes nothing.
    ///
    /// Every transaction passes the gate first, here in the caller's task, whatever its origin:
    /// it is read back as a replay will read it and its signature is checked, so nothing the
    /// writer commits can be refused by `cascade verify`.
    public nonisolated func submit(_ tx: Transaction) async throws -> Outcome {
        if let refusal = Gate.check(tx, keys: signingKeys) { throw refusal }
        return try await enqueue(tx)
    }

    /// What the rules would answer `tx` now, without committing it: its outcome, or its refusal
    /// (a prepared operation is held for a checker only if the ledger would take it today).
    public nonisolated func trial(_ tx: Transaction) async throws -> Outcome {
        if let refusal = Gate.check(tx, keys: signingKeys) { throw refusal }
        return try await enqueue(tx, trial: true)
    }

    private func enqueue(_ tx: Transaction, trial: Bool = false) async throws -> Outcome {
        if let broken { throw Unavailable("the ledger stopped accepting transactions: \(broken)") }
        if recovering != nil { throw Unavailable("the writer is reconnecting to its database; try again shortly") }
        return try await withCheckedThrowingContinuation { continuation in
            queue.append(Waiter(tx: tx, continuation: continuation, trial: trial))
            if !writing {
                writing = true
                Task { await self.drain() }
            }
        }
    }

    private func drain() async {
        while !queue.isEmpty {
            let batch = Array(queue.prefix(maxBlockTx))
            queue.removeFirst(batch.count)
            await commit(batch)
        }
        writing = false
    }

    private func commit(_ batch: [Waiter]) async {
        do {
            try await recallMissing(for: batch.map(\.tx), from: store)
        } catch {
            // Nothing is applied yet: the callers may simply try again.
            for waiter in batch { waiter.continuation.resume(throwing: Unavailable("the ledger could not read what these transactions refer to: \(error)")) }
            if store.writerLost { await recover(holding: [], sealed: nil, because: "the connection holding the writer lock was lost (\(error))") }
            return
        }
        // Trials first, each on its own and undone at once, before the block's changes begin.
        for waiter in batch where waiter.trial {
            state.openUndo()
            let answer = state.apply(waiter.tx).map(outcome)
            state.rollBack()
            waiter.continuation.resume(with: answer)
        }
        // Everything the batch changes can be put back: a failed commit never needs a replay.
        state.openUndo()
        var accepted: [(Waiter, Outcome)] = []
        for waiter in batch where !waiter.trial {
            switch state.apply(waiter.tx) {
            case .failure(let error):
                waiter.continuation.resume(throwing: error)
            case .success(let effects):
                if effects.orgId != nil { keys.withLockedValue { $0 = state.signingKeys } }
                accepted.append((waiter, outcome(effects)))
            }
        }
        guard !accepted.isEmpty else { state.dropUndo(); return }
        let transactions = accepted.map(\.0.tx)
        // The block's transactions join the transaction log (put back with the rest on failure).
        let logNodes = state.extendLog(with: transactions)
        let time = max(clock.nowMs(), lastTime, transactions.map(\.body.time).max()!)
        var sealed: Block?
        // The block's span (a no-op unless traces are configured).
        var span: (any Span)?
        do {
            guard let sealer = sealer() else { throw ConfigurationError("no operator key to seal blocks with") }
            let sealing = ContinuousClock.now
            span = startSpan("block.commit")
            span?.attributes["cascade.block.height"] = height + 1
            span?.attributes["cascade.block.transactions"] = transactions.count
            let block = try Block.seal(transactions, height: height + 1, prevHash: lastHash, time: time, sealer: sealer)
            sealed = block
            try await beforeCommit?(block)
            let started = ContinuousClock.now
            try await store.append(block, effects: accepted.map(\.1.effects), state: state, logNodes: logNodes)
            let elapsed = ContinuousClock.now - started
            commitStats.writeSeconds += Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            commitObserver?(ContinuousClock.now - sealing, transactions.count)
            span?.end()
            committed(block, accepted)
        } catch {
            span?.recordError(error)
            span?.setStatus(SpanStatus(code: .error))
            span?.end()
            // Back to the state before the block, from memory, before anyone hears of the failure.
            state.rollBack()
            keys.withLockedValue { $0 = state.signingKeys }
            await failed(accepted, sealed: sealed, error: error)
        }
    }

    /// The block is in the database: its callers hear of it, and the state moves on.
    private func committed(_ block: Block, _ accepted: [(Waiter, Outcome)]) {
        state.dropUndo()
        commitStats.blocks += 1
        commitStats.transactions += accepted.count
        height = block.header.height
        lastHash = block.hash
        lastTime = block.header.time
        for (waiter, var result) in accepted {
            result.blockHeight = block.header.height
            waiter.continuation.resume(returning: result)
        }
        if state.retireIsDue { state.retire() }
        if snapshotIsDue, let made = makeSnapshot() {
            snapshotWriting = true
            let store = self.store, nowMs = clock.nowMs(), logger = self.logger
            Task {
                do {
                    try await store.writeSnapshot(made, nowMs: nowMs)
                } catch {
                    logger.warning("writer: the snapshot at block \(made.height) was not written: \(error)")
                }
                self.snapshotWritten()
            }
        }
    }

    /// Before a batch is applied, what it refers to that the live state retired comes back from
    /// the database, and what that refers to in turn, until nothing new is asked for.
    private func recallMissing(for transactions: [Transaction], from store: LedgerStore) async throws {
        guard state.isLive else { return }
        var asked = Recall()
        while let fresh = state.missing(for: transactions).fresh(after: &asked) {
            state.recall(try await store.recall(fresh, upTo: height))
        }
    }

    private var snapshotIsDue: Bool {
        !snapshotWriting && height > lastSnapshot.height
            && (state.transactionCount - lastSnapshot.transactions >= snapshots.transactions || ContinuousClock.now - lastSnapshot.at >= snapshots.interval)
    }

    /// The snapshot of the state as it stands, signed with the operator's key (none without it).
    private func makeSnapshot() -> StoredSnapshot? {
        guard state.isLive, let signer = sealer() else { return nil }
        do {
            let made = try StoredSnapshot.make(state, at: ChainTip(height: height, hash: lastHash, time: lastTime), signer: signer)
            lastSnapshot = (height, state.transactionCount, .now)
            return made
        } catch {
            logger.warning("writer: no snapshot at block \(height): \(error)")
            return nil
        }
    }

    private func snapshotWritten() { snapshotWriting = false }

    /// Writes a snapshot of the state as it stands now and returns once it is stored (tests,
    /// the benchmark, and start-up after a whole replay).
    package func writeSnapshotNow() async throws {
        guard let made = makeSnapshot() else { return }
        try await store.writeSnapshot(made, nowMs: clock.nowMs())
    }

    /// After a commit that failed, with the state already rolled back. If the database holds the
    /// block all the same (its answer was lost, not its write), the block stands. If one
    /// transaction's content made the database refuse the block, each transaction is written in a
    /// block of its own, so that only that one is refused. If the database went away, or cannot
    /// say whether it holds the block, the writer gets it back first. Otherwise every caller
    /// hears the error.
    private func failed(_ accepted: [(Waiter, Outcome)], sealed: Block?, error: any Error) async {
        if store.writerLost {
            await recover(holding: accepted, sealed: sealed, because: "the connection holding the writer lock was lost (\(error))")
            return
        }
        var stored: String?
        if let sealed {
            do {
                stored = try await store.blockHash(at: sealed.header.height)
            } catch let readBack {
                // Neither written for sure nor refused for sure: no caller may be told either yet.
                await recover(holding: accepted, sealed: sealed, because: "the database could not say whether block \(sealed.header.height) was written (\(readBack))")
                return
            }
        }
        if let sealed, stored == sealed.hash {
            applyAgain(sealed, accepted)
            return
        }
        if accepted.count > 1, LedgerStore.isContentFault(error) {
            for (waiter, _) in accepted { await commit([waiter]) }
            return
        }
        for (waiter, _) in accepted { waiter.continuation.resume(throwing: error) }
    }

    /// The block was written though its commit seemed to fail: the same transactions apply again
    /// (the rules are deterministic) and their callers hear of it.
    private func applyAgain(_ sealed: Block, _ accepted: [(Waiter, Outcome)]) {
        state.openUndo()
        var again: [(Waiter, Outcome)] = []
        for (waiter, _) in accepted {
            guard case .success(let effects) = state.apply(waiter.tx) else {
                state.rollBack()
                for (w, _) in accepted { w.continuation.resume(throwing: Unavailable("block \(sealed.header.height) is stored but does not apply again")) }
                stop(because: "block \(sealed.header.height) is stored but does not apply again")
                return
            }
            if effects.orgId != nil { keys.withLockedValue { $0 = state.signingKeys } }
            again.append((waiter, outcome(effects)))
        }
        // The stored block's transactions are in the stored log: the writer's log takes them too.
        state.extendLog(with: sealed.transactions)
        committed(sealed, again)
    }

    /// Gets the database back: reconnects with backoff until it answers (taking the writer lock
    /// again), then takes up every block stored after the last one this writer knew, checked as a
    /// replay checks them. `held` are callers of the block `sealed`, whose fate is unknown: they
    /// hear the truth if it is known within `fateWait` (their block stands, or it was never
    /// written and their transactions queue again), and 503 after that. Everyone else hears 503
    /// until the writer is back.
    private func recover(holding held: [(Waiter, Outcome)], sealed: Block?, because reason: String) async {
        recovering = reason
        logger.warning("writer: \(reason); reconnecting")
        for waiter in queue { waiter.continuation.resume(throwing: Unavailable("the writer is reconnecting to its database; try again shortly")) }
        queue.removeAll()
        var held = held
        let started = ContinuousClock.now
        var delay = reconnect.firstDelay
        var attempts = 0
        while true {
            attempts += 1
            do {
                let fresh = try await reconnect.connect(store)
                watchConnection(of: fresh)
                let ours = height < 0 ? BlockHeader.genesisPrevHash : try await fresh.blockHash(at: height)
                let tail = try await fresh.blocks(after: height, of: state)
                store = fresh
                try await takeUp(tail, ours: ours, sealed: sealed, held: &held)
                break
            } catch let released as WriterLock.Released {
                giveUp(held, telling: released.description, because: released.description, level: .notice)
                return
            } catch let failure as Diverged {
                giveUp(held, telling: "the database holds blocks this writer cannot take up", because: "the database's chain cannot be taken up after block \(height): \(failure)")
                return
            } catch {
                if attempts == 1 || attempts % 20 == 0 { logger.warning("writer: reconnecting, attempt \(attempts): \(error)") }
                if !held.isEmpty, ContinuousClock.now - started >= reconnect.fateWait {
                    for (waiter, _) in held {
                        waiter.continuation.resume(throwing: Unavailable("the database went away while block \(sealed?.header.height ?? height + 1) was written; whether it holds transaction \(waiter.tx.id) is not known yet"))
                    }
                    held = []
                }
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, reconnect.maxDelay)
            }
        }
        keys.withLockedValue { $0 = state.signingKeys }
        recovering = nil
        logger.notice("writer: the database is back after \(attempts) attempt(s); writing from block \(height + 1)")
        // Callers still held whose block was never written: their transactions go first.
        queue.insert(contentsOf: held.map(\.0), at: 0)
    }

    /// Takes up the blocks the database holds after this writer's last one. The block `sealed`, if
    /// it is among them, answers `held` (emptied then). Throws `ChainFailure` when the stored
    /// chain does not continue this writer's: blocks it committed are gone, or do not verify.
    /// `ours`: the hash the database holds at this writer's last height.
    private func takeUp(_ tail: [ParsedBlock], ours: String?, sealed: Block?, held: inout [(Waiter, Outcome)]) async throws {
        guard let ours else {
            throw Diverged(description: "the database has no block \(height), which this writer committed: acknowledged blocks are missing (restore the database, or promote the standby that has them)")
        }
        guard ours == lastHash else { throw Diverged(description: "the database's block \(height) is not the one this writer committed") }
        var tip = ChainTip(height: height, hash: lastHash, time: lastTime)
        for parsed in tail {
            if let sealed, parsed.block.hash == sealed.hash, !held.isEmpty {
                applyAgain(sealed, held)
                held = []
                tip = ChainTip(height: height, hash: lastHash, time: lastTime)
                continue
            }
            try await recallMissing(for: parsed.block.transactions, from: store)
            state.openUndo()
            do throws(ChainFailure) {
                tip = try state.follow(parsed, after: tip)
            } catch {
                state.rollBack()
                throw Diverged(description: "a stored block does not verify: \(error)")
            }
            state.dropUndo()
            height = tip.height
            lastHash = tip.hash
            lastTime = tip.time
        }
        if state.retireIsDue { state.retire() }
    }

    /// The stored chain does not continue the one this writer holds.
    package struct Diverged: Error, CustomStringConvertible {
        package var description: String
    }

    /// A recovery that cannot go on: the callers it held hear `telling`, and the writer stops.
    private func giveUp(_ held: [(Waiter, Outcome)], telling answer: String, because reason: String, level: Logger.Level = .critical) {
        for (waiter, _) in held { waiter.continuation.resume(throwing: Unavailable(answer)) }
        stop(because: reason, level: level)
        recovering = nil
    }

    /// Stops accepting transactions because a check outside the writer found something wrong
    /// (the drift check): the first reason given stands.
    public func halt(because reason: String) {
        guard broken == nil else { return }
        stop(because: reason)
    }

    /// The last block this writer committed or took up.
    package var tip: ChainTip { ChainTip(height: height, hash: lastHash, time: lastTime) }

    /// The state and the block it stands at, read together: where the drift check starts.
    package func stateAndTip() -> (LedgerState, ChainTip) { (state, tip) }

    /// Accepts nothing more, and tells everyone waiting why.
    private func stop(because reason: String, level: Logger.Level = .critical) {
        broken = reason
        logger.log(level: level, "writer: \(reason)")
        for waiter in queue { waiter.continuation.resume(throwing: Unavailable(reason)) }
        queue.removeAll()
    }

    private func outcome(_ effects: TxEffects) -> Outcome {
        Outcome(effects: effects, blockHeight: -1, tokens: effects.tokens.compactMap { state.tokens[$0] },
                receivable: effects.receivableId.flatMap { state.receivables[$0] },
                financings: effects.financingIds.compactMap { state.financings[$0] },
                creditLine: effects.creditLineId.flatMap { state.creditLines[$0] },
                earlyPayments: effects.earlyPaymentIds.compactMap { state.earlyPayments[$0] })
    }
}

extension Sequencer {
    /// Applies `tx` to the writer's state and writes nothing: a writer whose state went wrong
    /// (tests of the drift check).
    package func applyWithoutWriting(_ tx: Transaction) throws {
        _ = try state.apply(tx).get()
    }

    /// Lets the state retire what the rules no longer need now, rather than when enough has
    /// piled up (tests).
    package func retireNow() { state.retire() }

    /// The state's bytes at the current block, as a snapshot would hold them (tests compare two
    /// writers' states with it).
    package var snapshotBytes: [UInt8] { state.snapshotBytes(at: ChainTip(height: height, hash: lastHash, time: lastTime)) }
}

extension Application {
    private struct SequencerKey: StorageKey {
        package typealias Value = Sequencer
    }

    /// The single writer, once the server has loaded it.
    package var sequencer: Sequencer? {
        get { storage[SequencerKey.self] }
        set { storage[SequencerKey.self] = newValue }
    }

    package func requireSequencer() throws -> Sequencer {
        guard let sequencer else { throw LedgerError(.forbidden, "this node is read-only; send transactions to the writer") }
        return sequencer
    }
}
