import Crypto
import FluentKit
import Foundation
import Ledger
import NIOConcurrencyHelpers
import SQLKit
import class Vapor.Application
import var Vapor.Bcrypt
import protocol Vapor.StorageKey

/// What a person may do inside their org. Viewers read; makers prepare operations (and perform
/// those that need no checker); checkers approve or reject what a maker prepared; admins manage
/// the org's people, keys and rules, and prepare like a maker. Nobody approves their own work.
package enum UserRole: String, CaseIterable, Sendable {
    case viewer, maker, checker, admin

    package var prepares: Bool { self == .maker || self == .admin }

    /// A stored role; `member`, the role before there were four, is a maker.
    package init(stored: String) {
        self = UserRole(rawValue: stored) ?? (stored == "member" ? .maker : .viewer)
    }
}
