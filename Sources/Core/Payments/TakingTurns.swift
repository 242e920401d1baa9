import Foundation

/// `Turns` per key: one wallet's balance checks and reservations one at a time, in the order they
/// came, while other wallets' go on.
package actor TakingTurns {
    /// Far beyond a balance check's length (the wallet service's own answer limit included).
    package static let limit: Duration = .seconds(120)
    private var lines: [String: Turns] = [:]

    package init() {}

    private func turns(for key: String) -> Turns {
        if let turns = lines[key] { return turns }
        let turns = Turns()
        lines[key] = turns
        return turns
    }

    package func inTurn<T: Sendable>(for key: String, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await turns(for: key).run(within: Self.limit, waiting: "the wallet is busy: a balance check", body)
    }
}
