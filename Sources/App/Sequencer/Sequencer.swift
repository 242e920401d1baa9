import Foundation
import Ledger
import NIOConcurrencyHelpers
import NIOCore

/// What a caller gets back once its transaction's block is committed: the effects, and every
/// object the transaction touched as it stood right after it.
public struct Outcome: Sendable {
    public var effects: TxEffects
    public var blockHeight: Int64
    public var tokens: [Token]
    public var receivable: Receivable?
    public var financings: [Financing]
    public var creditLine: CreditLine?
}

/// A time source the sequencer and the jobs read; tests move it by hand.
public protocol LedgerClock: Sendable {
    func nowMs() -> Int64
}

public struct SystemClock: LedgerClock {
    public init() {}
    public func nowMs() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }
}

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
public actor Sequencer {
    struct Waiter {
        let tx: Transaction
        let continuation: CheckedContinuation<Outcome, any Error>
    }

    private var state: LedgerState
    public private(set) var height: Int64
    private var lastHash: String
    private var lastTime: Int64
    private let store: LedgerStore
    private let sealer: @Sendable () -> (any TransactionSigner)?
    private let clock: any LedgerClock
    private let maxBlockTx: Int
    private var queue: [Waiter] = []
    private var writing = false
    /// Set when the database could not be read back after a failed commit: nothing is accepted
    /// until the process restarts from what the database holds.
    private var broken: String?

    /// Blocks and transactions committed by this process, and the time spent writing them.
    public struct CommitStats: Sendable {
        public var blocks = 0
        public var transactions = 0
        public var writeSeconds = 0.0
    }
    public private(set) var commitStats = CommitStats()

    /// Failure injection for tests: called after a block is sealed and before it is written.
    var beforeCommit: (@Sendable (Block) async throws -> Void)?

    /// Every org's current key, as of the last transaction applied: requests check signatures
    /// with it without waiting for the writer. Replaced whenever a transaction changes an org.
    private nonisolated let keys: NIOLockedValueBox<SigningKeys>
    public nonisolated var signingKeys: SigningKeys { keys.withLockedValue { $0 } }

    /// The writer's thread, where the database connection that writes blocks also lives.
    nonisolated let executor = WriterThread.loop.executor
    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    init(replayed: ChainReplayer, store: LedgerStore, sealer: @escaping @Sendable () -> (any TransactionSigner)?,
         clock: any LedgerClock, maxBlockTx: Int = 1_000) {
        state = replayed.state
        keys = NIOLockedValueBox(replayed.state.signingKeys)
        height = replayed.height
        lastHash = replayed.lastHash
        lastTime = replayed.lastTime
        self.store = store
        self.sealer = sealer
        self.clock = clock
        // A block replay would refuse for its size must never be sealed.
        self.maxBlockTx = min(max(maxBlockTx, 1), Limits.maxTransactionsPerBlock)
    }

    /// Rebuilds the state by replaying the stored chain, checking it on the way.
    static func load(store: LedgerStore, sealer: @escaping @Sendable () -> (any TransactionSigner)?, clock: any LedgerClock,
                     maxBlockTx: Int = 1_000) async throws -> Sequencer {
        Sequencer(replayed: try await replay(store), store: store, sealer: sealer, clock: clock, maxBlockTx: maxBlockTx)
    }

    static func replay(_ store: LedgerStore) async throws -> ChainReplayer {
        let export = try await store.exportAll()
        if export.isEmpty { return ChainReplayer() }
        return try ChainReplayer.verify(export: export, parallelism: ProcessInfo.processInfo.activeProcessorCount).get()
    }

    /// Reads the current state on the writer. Reach the state only through here: a copy taken
    /// out of the actor would make the next transaction copy every table it touches.
    public func read<T: Sendable>(_ body: (LedgerState) throws -> T) rethrows -> T {
        try body(state)
    }

    func setBeforeCommit(_ hook: (@Sendable (Block) async throws -> Void)?) { beforeCommit = hook }

    /// Transactions waiting for the next block, and whether a block is being written (tests).
    var queued: Int { queue.count }
    var isWriting: Bool { writing }
    var beforeCommitHook: (@Sendable (Block) async throws -> Void)? { beforeCommit }

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

    private func enqueue(_ tx: Transaction) async throws -> Outcome {
        if let broken { throw ConfigurationError("the ledger stopped accepting transactions: \(broken)") }
        return try await withCheckedThrowingContinuation { continuation in
            queue.append(Waiter(tx: tx, continuation: continuation))
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
        // Everything the batch changes can be put back: a failed commit never needs a replay.
        state.openUndo()
        var accepted: [(Waiter, Outcome)] = []
        for waiter in batch {
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
        let time = max(clock.nowMs(), lastTime, transactions.map(\.body.time).max()!)
        var sealed: Block?
        do {
            guard let sealer = sealer() else { throw ConfigurationError("no operator key to seal blocks with") }
            let block = try Block.seal(transactions, height: height + 1, prevHash: lastHash, time: time, sealer: sealer)
            sealed = block
            try await beforeCommit?(block)
            let started = ContinuousClock.now
            try await store.append(block, effects: accepted.map(\.1.effects), state: state)
            let elapsed = ContinuousClock.now - started
            commitStats.writeSeconds += Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            committed(block, accepted)
        } catch {
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
    }

    /// After a commit that failed, with the state already rolled back. If the database holds the
    /// block all the same (its answer was lost, not its write), the block stands. If one
    /// transaction's content made the database refuse the block, each transaction is written in a
    /// block of its own, so that only that one is refused. Otherwise every caller hears the error.
    private func failed(_ accepted: [(Waiter, Outcome)], sealed: Block?, error: any Error) async {
        if store.writerLost {
            for (waiter, _) in accepted { waiter.continuation.resume(throwing: error) }
            if broken == nil { stop(because: "the database connection holding the writer lock was lost; restart the writer") }
            return
        }
        var stored: String?
        if let sealed {
            do {
                stored = try await store.blockHash(at: sealed.header.height)
            } catch let readBack {
                // Neither written for sure nor refused for sure: no caller may be told either.
                for (waiter, _) in accepted { waiter.continuation.resume(throwing: error) }
                stop(because: "the database could not say whether block \(sealed.header.height) was written (\(readBack)); restart the writer")
                return
            }
        }
        if let sealed, stored == sealed.hash {
            // The write happened: apply the same transactions again (the rules are deterministic).
            state.openUndo()
            var again: [(Waiter, Outcome)] = []
            for (waiter, _) in accepted {
                guard case .success(let effects) = state.apply(waiter.tx) else {
                    for (w, _) in accepted { w.continuation.resume(throwing: error) }
                    stop(because: "block \(sealed.header.height) is stored but does not apply again")
                    return
                }
                if effects.orgId != nil { keys.withLockedValue { $0 = state.signingKeys } }
                again.append((waiter, outcome(effects)))
            }
            committed(sealed, again)
            return
        }
        if accepted.count > 1, LedgerStore.isContentFault(error) {
            for (waiter, _) in accepted { await commit([waiter]) }
            return
        }
        for (waiter, _) in accepted { waiter.continuation.resume(throwing: error) }
    }

    /// Accepts nothing more, and tells everyone waiting why.
    private func stop(because reason: String) {
        broken = reason
        for waiter in queue { waiter.continuation.resume(throwing: ConfigurationError(reason)) }
        queue.removeAll()
    }

    private func outcome(_ effects: TxEffects) -> Outcome {
        Outcome(effects: effects, blockHeight: -1, tokens: effects.tokens.compactMap { state.tokens[$0] },
                receivable: effects.receivableId.flatMap { state.receivables[$0] },
                financings: effects.financingIds.compactMap { state.financings[$0] },
                creditLine: effects.creditLineId.flatMap { state.creditLines[$0] })
    }
}
