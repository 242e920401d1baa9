import Foundation
import Ledger

/// The state a writer or an observer starts from, and how it came by it.
package struct StartingPoint: Sendable {
    package var state: LedgerState
    /// The last block applied (height −1 before genesis).
    package var tip: ChainTip
    /// "from the snapshot at block H, then N blocks", or "by replaying the whole chain …, because …".
    package var account: String
    /// The snapshot it started from (−1 for none), and the transactions the state held then.
    package var snapshotHeight: Int64 = -1
    package var snapshotTransactions = 0

    package static let empty = StartingPoint(state: { var s = LedgerState(); s.goLive(); return s }(),
                                     tip: ChainTip(height: -1, hash: BlockHeader.genesisPrevHash, time: 0), account: "empty: the chain has no block yet")

    /// From the latest snapshot and the blocks after it, each checked as a replay checks it; or,
    /// when there is no usable snapshot, by replaying and checking the whole chain. `signed`: the
    /// snapshot must carry the signature of `operatorKey` (a writer's); an observer's own
    /// database holds unsigned ones. A refused snapshot is reported, never used.
    package static func find(in store: LedgerStore, operatorKey: [UInt8]?, signed: Bool) async throws -> StartingPoint {
        var why = "there is no snapshot"
        if let stored = try await store.latestSnapshot() {
            do {
                return try await resume(from: stored, in: store, operatorKey: operatorKey, signed: signed)
            } catch let refused as SnapshotRefused {
                why = "the snapshot at block \(stored.height) is refused: \(refused)"
            }
        }
        let export = try await store.exportAll()
        if export.isEmpty { return .empty }
        let cores = ProcessInfo.processInfo.activeProcessorCount
        var replayer = try ChainReplayer.verify(export: export, parallelism: cores, live: true).get()
        replayer.state.retire()
        return StartingPoint(state: replayer.state, tip: ChainTip(height: replayer.height, hash: replayer.lastHash, time: replayer.lastTime),
                             account: "by replaying the whole chain (\(replayer.blockCount) blocks), because \(why)")
    }

    package static func resume(from stored: StoredSnapshot, in store: LedgerStore, operatorKey: [UInt8]?, signed: Bool) async throws -> StartingPoint {
        if signed, operatorKey == nil { throw SnapshotRefused("the operator's key, which must have signed it, is not at hand") }
        let (state, tip) = try stored.open(operatorKey: signed ? operatorKey : nil, storedHash: try await store.blockHash(at: stored.height))
        var replayer = ChainReplayer(resuming: state, at: tip)
        let tail = try await store.blocks(after: tip.height, of: state)
        try await store.prepare(&replayer.state, at: tip.height, for: tail.flatMap(\.block.transactions))
        do throws(ChainFailure) {
            try replayer.append(tail, firstIndex: Int(tip.height) + 1, parallelism: ProcessInfo.processInfo.activeProcessorCount)
        } catch {
            throw SnapshotRefused("a block after it does not apply to it: \(error)")
        }
        replayer.state.retire()
        return StartingPoint(state: replayer.state, tip: ChainTip(height: replayer.height, hash: replayer.lastHash, time: replayer.lastTime),
                             account: "from the snapshot at block \(tip.height), then \(tail.count) block(s)",
                             snapshotHeight: tip.height, snapshotTransactions: state.transactionCount)
    }
}
