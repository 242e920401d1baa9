import Foundation
import Ledger

/// The one verification of a stored chain, for `cascade verify`, `GET /chain/verify` and the
/// regulator's button alike: the chain read a page of blocks at a time and replayed — every hash,
/// signature, Merkle root and rule — then every projection table compared with the replayed
/// state. The first problem of the chain, or up to 100 differing rows.
struct StoredChainVerification: Sendable {
    var ok: Bool
    var height: Int64
    var blockCount: Int
    var txCount: Int64
    var tokenCount: Int
    var head: String
    /// The chain's first problem, or up to 100 projection rows that differ from it.
    var problems: [String]
    /// How many projection rows differ, all told.
    var differingRows = 0
    var seconds: String
    /// The replayed state, when the chain verified (for `--state-out`).
    var state: LedgerState?

    static let pageSize: Int64 = 500

    /// `report` hears the number of blocks replayed after each page.
    static func run(_ store: LedgerStore, report: @Sendable (Int64) async -> Void = { _ in }) async -> StoredChainVerification {
        let started = Date()
        var replayer = ChainReplayer()
        func result(_ problems: [String], differing: Int = 0, state: LedgerState?) -> StoredChainVerification {
            StoredChainVerification(ok: problems.isEmpty, height: replayer.height, blockCount: replayer.blockCount, txCount: Int64(replayer.state.transactionCount),
                                    tokenCount: replayer.state.tokens.count, head: replayer.lastHash, problems: Array(problems.prefix(100)), differingRows: differing,
                                    seconds: String(format: "%.3f", Date().timeIntervalSince(started)), state: state)
        }
        var page: [ParsedBlock] = []
        do {
            var failure: ChainFailure?
            func flush() async {
                guard failure == nil, !page.isEmpty else { return }
                do throws(ChainFailure) {
                    try replayer.append(page, firstIndex: Int(replayer.height) + 1, parallelism: ProcessInfo.processInfo.activeProcessorCount)
                } catch {
                    failure = error
                }
                page.removeAll(keepingCapacity: true)
                await report(replayer.height + 1)
            }
            var index = 0
            try await store.exportLines(pageSize: pageSize) { line in
                guard failure == nil else { return }
                do throws(ChainFailure) {
                    page.append(try ParsedBlock(line: line, index: index))
                } catch {
                    failure = error
                }
                index += 1
                if page.count >= Int(pageSize) { await flush() }
            }
            await flush()
            if let failure { return result([failure.description], state: nil) }
            let problems = try await store.projectionProblems(against: replayer.state)
            return result(problems, differing: problems.count, state: problems.isEmpty ? replayer.state : nil)
        } catch {
            return result(["the stored chain could not be read: \(error)"], state: nil)
        }
    }
}
