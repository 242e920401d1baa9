import Foundation
import Ledger
import Vapor

/// The regulator's one-button verification, run in the background so a long chain does not hold
/// a request open: the stored chain is replayed a page of blocks at a time — every hash,
/// signature, Merkle root and rule — with progress to show, then every projection table is
/// compared with the replayed state. One run at a time; its last result stays to be read.
actor ChainVerification {
    struct Progress: Sendable {
        var running: Bool
        var blocksDone: Int64
        var blocksTotal: Int64
        var result: ChainController.Verification?
        var startedBy: String?
    }

    private var progress = Progress(running: false, blocksDone: 0, blocksTotal: 0, result: nil, startedBy: nil)
    private var task: Task<Void, Never>?
    static let pageSize: Int64 = 500

    var current: Progress { progress }

    /// Starts a run unless one is going; returns at once.
    func start(_ app: Application, by who: String) async throws {
        guard !progress.running else { return }
        let total = (try await NodeController.query(on: app.sql, nowMs: 0).height) + 1
        progress = Progress(running: true, blocksDone: 0, blocksTotal: total, result: nil, startedBy: who)
        task = Task {
            let result = await Self.run(app) { done in await self.advance(done) }
            self.finish(result)
        }
    }

    /// Waits for the run in progress, if any (tests; shutdown).
    func wait() async { await task?.value }

    private func advance(_ done: Int64) { progress.blocksDone = done }

    private func finish(_ result: ChainController.Verification) {
        progress.running = false
        progress.result = result
        progress.blocksDone = max(progress.blocksDone, result.height + 1)
    }

    static func run(_ app: Application, report: @Sendable (Int64) async -> Void) async -> ChainController.Verification {
        let started = Date()
        func seconds() -> String { String(format: "%.3f", Date().timeIntervalSince(started)) }
        let store = LedgerStore(db: app.db)
        var replayer = ChainReplayer()
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
            if let failure {
                return ChainController.Verification(ok: false, height: replayer.height, txCount: Int64(replayer.state.transactionCount), problems: [failure.description],
                                                    seconds: seconds())
            }
            let problems = try await store.projectionProblems(against: replayer.state)
            return ChainController.Verification(ok: problems.isEmpty, height: replayer.height, txCount: Int64(replayer.state.transactionCount),
                                                problems: Array(problems.prefix(100)), seconds: seconds())
        } catch {
            return ChainController.Verification(ok: false, height: replayer.height, txCount: Int64(replayer.state.transactionCount),
                                                problems: ["the stored chain could not be read: \(error)"], seconds: seconds())
        }
    }
}

extension Application {
    private struct VerificationKey: StorageKey { typealias Value = ChainVerification }

    /// Made in `configure`, before any request can race to create it.
    var chainVerification: ChainVerification {
        get { storage[VerificationKey.self]! }
        set { storage[VerificationKey.self] = newValue }
    }
}
