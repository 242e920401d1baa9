import Foundation
import NIOConcurrencyHelpers
import class Vapor.Application
import Logging
import protocol Vapor.LifecycleHandler
import protocol Vapor.StorageKey

/// The work a process runs beside its requests: the jobs and the payments sweep, the rails'
/// inboxes, the drift check. Each runs as a task of its own. When the application shuts down
/// they are told to stop and waited for (a few seconds at most, so that a statement the database
/// never answers cannot hold the process) before the database connections close: a job must
/// never find the databases gone under it.
package final class BackgroundWork: Sendable {
    private let tasks = NIOLockedValueBox<[Task<Void, Never>]>([])
    private let stopped = NIOLockedValueBox(false)
    private let logger = Logger(label: "cascade.background")

    package init() {}

    /// Whether the process is shutting down: loops end at their next turn.
    package var isStopping: Bool { stopped.withLockedValue { $0 } }

    /// Runs `body` now and then every `interval` after it ends, until shutdown.
    package func every(_ interval: Duration, after initialDelay: Duration, _ body: @escaping @Sendable () async -> Void) {
        start {
            try? await Task.sleep(for: initialDelay)
            while !self.isStopping, !Task.isCancelled {
                await body()
                try? await Task.sleep(for: interval)
            }
        }
    }

    /// Runs `body` until it ends or shutdown cancels it.
    package func start(_ body: @escaping @Sendable () async -> Void) {
        let task = Task { await body() }
        let late = stopped.withLockedValue { $0 }
        if late { task.cancel() }
        tasks.withLockedValue { $0.append(task) }
    }

    /// Tells every task to stop and waits for them, up to `limit`.
    package func stop(within limit: Duration = .seconds(5)) async {
        stopped.withLockedValue { $0 = true }
        let running = tasks.withLockedValue { all in defer { all = [] }; return all }
        for task in running { task.cancel() }
        // Not a task group: a group waits for all its children when it ends, and waiting for a
        // task's value cannot be cancelled, so the limit would not hold.
        let finished = await withCheckedContinuation { (answer: CheckedContinuation<Bool, Never>) in
            let answered = NIOLockedValueBox(false)
            let once: @Sendable (Bool) -> Void = { value in
                if answered.withLockedValue({ was in defer { was = true }; return !was }) { answer.resume(returning: value) }
            }
            Task {
                for task in running { await task.value }
                once(true)
            }
            Task {
                try? await Task.sleep(for: limit)
                once(false)
            }
        }
        if !finished { logger.warning("shutdown: background work still running after \(limit); going on without it") }
    }

    package struct Stopper: LifecycleHandler {

        package init() {
        }
        package func shutdownAsync(_ app: Application) async {
            await app.background.stop()
        }
    }
}

extension Application {
    private struct BackgroundKey: StorageKey { typealias Value = BackgroundWork }

    /// Made in `configure`, with its stop at shutdown.
    package var background: BackgroundWork {
        get { storage[BackgroundKey.self]! }
        set { storage[BackgroundKey.self] = newValue }
    }
}
