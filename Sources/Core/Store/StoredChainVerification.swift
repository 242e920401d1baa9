import Foundation
import Ledger
import NIOPosix

/// The one verification of a stored chain, for `cascade verify`, `GET /chain/verify` and the
/// regulator's button alike: the chain read a page of blocks at a time and replayed — every hash,
/// signature, Merkle root and rule — then every projection table compared with the replayed
/// state. The first problem of the chain, or up to 100 differing rows.
package struct StoredChainVerification: Sendable {
    package var ok: Bool
    package var height: Int64
    package var blockCount: Int
    package var txCount: Int64
    package var tokenCount: Int
    package var head: String
    /// The chain's first problem, or up to 100 projection rows that differ from it.
    package var problems: [String]
    /// How many projection rows differ, all told.
    package var differingRows = 0
    package var seconds: String
    /// The replayed state, when the chain verified (for `--state-out`).
    package var state: LedgerState?

    package static let pageSize: Int64 = 500

    /// `report` hears the number of blocks replayed after each page. The chain is read a page at a
    /// time; each page is parsed and replayed on the thread pool, never on an event loop or the
    /// cooperative threads that serve requests.
    ///
    /// The chain and the tables are read at one moment (`LedgerStore.atOneMoment`): blocks the
    /// writer commits meanwhile are neither in the replay nor in the rows it is compared with.
    package static func run(_ store: LedgerStore, report: @escaping @Sendable (Int64) async -> Void = { _ in }) async -> StoredChainVerification {
        let started = Date()
        do {
            return try await store.atOneMoment { store in await run(atOneMoment: store, started: started, report: report) }
        } catch {
            return StoredChainVerification(ok: false, height: -1, blockCount: 0, txCount: 0, tokenCount: 0, head: "", problems: ["the stored chain could not be read: \(error)"],
                                           seconds: String(format: "%.3f", Date().timeIntervalSince(started)), state: nil)
        }
    }

    private static func run(atOneMoment store: LedgerStore, started: Date, report: @Sendable (Int64) async -> Void) async -> StoredChainVerification {
        let work = Work()
        func result(_ problems: [String], differing: Int = 0, state: LedgerState?) -> StoredChainVerification {
            let replayer = work.replayer
            return StoredChainVerification(ok: problems.isEmpty, height: replayer.height, blockCount: replayer.blockCount, txCount: Int64(replayer.state.transactionCount),
                                           tokenCount: replayer.state.tokens.count, head: replayer.lastHash, problems: Array(problems.prefix(100)), differingRows: differing,
                                           seconds: String(format: "%.3f", Date().timeIntervalSince(started)), state: state)
        }
        var page: [[UInt8]] = []
        do {
            func flush() async throws {
                guard work.failure == nil, !page.isEmpty else { return }
                let lines = page
                page.removeAll(keepingCapacity: true)
                try await NIOThreadPool.singleton.runIfActive { work.replay(lines) }
                await report(work.replayer.height + 1)
            }
            try await store.exportLines(pageSize: pageSize) { line in
                guard work.failure == nil else { return }
                page.append(line)
                if page.count >= Int(pageSize) { try await flush() }
            }
            try await flush()
            if let failure = work.failure { return result([failure.description], state: nil) }
            let problems = try await store.projectionProblems(against: work.replayer.state)
            return result(problems, differing: problems.count, state: problems.isEmpty ? work.replayer.state : nil)
        } catch {
            return result(["the stored chain could not be read: \(error)"], state: nil)
        }
    }

    /// The replay in progress, handed from page to page. Only one page is worked on at a time
    /// (each is awaited before the next is read), so it is never touched from two threads at once.
    private final class Work: @unchecked Sendable {
        package var replayer = ChainReplayer()
        package var failure: ChainFailure?
        private var index = 0

        package func replay(_ lines: [[UInt8]]) {
            var parsed: [ParsedBlock] = []
            parsed.reserveCapacity(lines.count)
            let first = Int(replayer.height) + 1
            let profile = replayer.state.profile(reading: lines.first)
            for line in lines {
                do throws(ChainFailure) {
                    parsed.append(try ParsedBlock(line: line, index: index, profile: profile))
                } catch {
                    failure = error
                    break
                }
                index += 1
            }
            do throws(ChainFailure) {
                try replayer.append(parsed, firstIndex: first, parallelism: ProcessInfo.processInfo.activeProcessorCount)
            } catch {
                // A rule or signature failure comes before a read failure later in the page.
                failure = error
            }
        }
    }
}
