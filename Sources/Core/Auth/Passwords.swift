import Crypto
import FluentKit
import Foundation
import Ledger
import NIOConcurrencyHelpers
import SQLKit
import class Vapor.Application
import var Vapor.Bcrypt
import protocol Vapor.StorageKey

/// bcrypt, on the thread pool: a hash takes a quarter of a second of CPU, which on an event loop
/// would hold up every request sharing that loop.
package enum Passwords {
    /// bcrypt's work factor: 2^12 rounds, as OWASP's password storage guidance asks at least.
    package static let productionCost = 12
    private static let chosenCost = NIOLockedValueBox(productionCost)

    /// The cost new hashes are made with. A hash keeps its own cost: checking it costs what it did.
    package static var cost: Int { chosenCost.withLockedValue { $0 } }

    /// For the test harness only, which makes thousands of accounts: bcrypt's lowest cost (4).
    /// Nothing in the product calls it.
    package static func useLowestCostForTests() { chosenCost.withLockedValue { $0 = 4 } }

    package static func hash(_ password: String) async throws -> String {
        let cost = cost
        return try await NIOThreadPool.singleton.runIfActive { try Bcrypt.hash(password, cost: cost) }
    }

    package static func verify(_ password: String, created hash: String) async throws -> Bool {
        try await NIOThreadPool.singleton.runIfActive { try Bcrypt.verify(password, created: hash) }
    }
}
