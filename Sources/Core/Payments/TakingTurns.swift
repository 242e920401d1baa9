import Foundation

/// `Turns` per key: one wallet's balance checks and reservations (one core's early-payment
/// clearings) one at a time, in the order they came, while other keys' go on.
package actor TakingTurns {
    /// Far beyond a balance check's length (the wallet service's own answer limit included).
    package static let limit: Duration = .seconds(120)
    private var lines: [String: Turns] = [:]

    private let waiting: String

    package init(waiting: String = "the wallet is busy: a balance check") { self.waiting = waiting }

    private func turns(for key: String) -> Turns {
        if let turns = lines[key] { return turns }
        let turns = Turns()
        lines[key] = turns
        return turns
    }

    package func inTurn<T: Sendable>(for key: String, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await turns(for: key).run(within: Self.limit, waiting: waiting, body)
    }
}
