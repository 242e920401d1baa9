import Foundation

/// One at a time, first come, first served: what must not overlap (this process's SQLite writes,
/// one wallet's balance checks) waits its turn without holding a thread. A waiter whose time runs
/// out leaves the line with 503.
package actor Turns {
    private var busy = false
    private var line: [(id: UInt64, continuation: CheckedContinuation<Void, any Error>)] = []
    private var next: UInt64 = 0

    package init() {}

    /// Runs `body` in its turn, waiting at most `limit` for it; `waiting` names what waited, for
    /// the 503.
    package nonisolated func run<T: Sendable>(within limit: Duration, waiting: String, _ body: @Sendable () async throws -> T) async throws -> T {
        try await enter(within: limit, waiting: waiting)
        do {
            let result = try await body()
            await leave()
            return result
        } catch {
            await leave()
            throw error
        }
    }

    private func enter(within limit: Duration, waiting: String) async throws {
        guard busy else { busy = true; return }
        next += 1
        let id = next
        let timer = Task { [weak self] in
            try await Task.sleep(for: limit)
            await self?.giveUp(id, after: limit, waiting: waiting)
        }
        defer { timer.cancel() }
        try await withCheckedThrowingContinuation { line.append((id, $0)) }
    }

    private func giveUp(_ id: UInt64, after limit: Duration, waiting: String) {
        guard let i = line.firstIndex(where: { $0.id == id }) else { return }
        line.remove(at: i).continuation.resume(throwing: Unavailable("\(waiting) waited \(limit) for its turn; try again shortly"))
    }

    private func leave() {
        if line.isEmpty { busy = false } else { line.removeFirst().continuation.resume() }
    }
}
