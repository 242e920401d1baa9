import Foundation

/// Work that must not overlap for one key (a wallet's balance check and its reservation) runs
/// one at a time per key, in the order it arrived; other keys go on meanwhile.
package actor TakingTurns {
    private var tails: [String: Task<Void, Never>] = [:]

    package init() {}

    package func inTurn<T: Sendable>(for key: String, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let previous = tails[key]
        let mine = Task { () -> Result<T, any Error> in
            await previous?.value
            do { return .success(try await body()) } catch { return .failure(error) }
        }
        let done = Task { _ = await mine.value }
        tails[key] = done
        let result = await mine.value
        if tails[key] == done { tails[key] = nil }
        return try result.get()
    }
}
