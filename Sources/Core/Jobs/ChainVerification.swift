import Foundation
import Ledger
import class Vapor.Application
import protocol Vapor.StorageKey

/// Verification of the stored chain (`StoredChainVerification`) on this node: the regulator's
/// button, which starts a run and returns at once, and `GET /chain/verify`, which waits for one.
/// One run at a time: whoever asks while a run is going joins it and sees its progress. The
/// work itself happens on the thread pool, off the event loops. The last result stays to be read.
package actor ChainVerification {
    package struct Progress: Sendable {
        package var running: Bool
        package var blocksDone: Int64
        package var blocksTotal: Int64
        package var result: StoredChainVerification?
        package var startedBy: String?
    }

    private var progress = Progress(running: false, blocksDone: 0, blocksTotal: 0, result: nil, startedBy: nil)
    private var task: Task<Void, Never>?
    /// Requests waiting for the run in progress.
    package private(set) var waiting = 0
    /// Called at the start of each run (tests hold a run open with it).
    private var beforeRun: (@Sendable () async -> Void)?

    package init() {}

    package var current: Progress { progress }

    package func setBeforeRun(_ hook: (@Sendable () async -> Void)?) { beforeRun = hook }

    /// Starts a run unless one is going; returns at once.
    package func start(_ app: Application, by who: String) async throws {
        guard !progress.running else { return }
        let total = (try await app.sql.storedHeight()) + 1
        progress = Progress(running: true, blocksDone: 0, blocksTotal: total, result: nil, startedBy: who)
        let hook = beforeRun
        task = Task {
            await hook?()
            let result = await StoredChainVerification.run(LedgerStore(db: app.db)) { done in await self.advance(done) }
            self.finish(result)
        }
    }

    /// The result of a run: the one going (joined), or a new one started for `who`.
    package func run(_ app: Application, by who: String) async throws -> StoredChainVerification {
        try await start(app, by: who)
        waiting += 1
        await task?.value
        waiting -= 1
        return progress.result!
    }

    /// Waits for the run in progress, if any (tests; shutdown).
    package func wait() async { await task?.value }

    private func advance(_ done: Int64) { progress.blocksDone = done }

    private func finish(_ result: StoredChainVerification) {
        progress.running = false
        progress.result = result
        progress.blocksDone = max(progress.blocksDone, result.height + 1)
    }
}

extension Application {
    private struct VerificationKey: StorageKey { typealias Value = ChainVerification }

    /// Made in `configure`, before any request can race to create it.
    package var chainVerification: ChainVerification {
        get { storage[VerificationKey.self]! }
        set { storage[VerificationKey.self] = newValue }
    }
}
