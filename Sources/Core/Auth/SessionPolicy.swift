import Crypto
import FluentKit
import Foundation
import Ledger
import NIOConcurrencyHelpers
import SQLKit
import class Vapor.Application
import var Vapor.Bcrypt
import protocol Vapor.StorageKey

/// A sensitive change asked for too long after the person last gave their password.
package struct ReauthenticationRequired: Error, CustomStringConvertible {
    package var minutes: Int64
    package var description: String {
        "give your password again first (POST /api/v1/auth/reauthenticate): people and keys change only within \(minutes) minutes of it"
    }
}

/// How long a session lasts: it ends after `idleMs` without use, and `lifetimeMs` after sign-in
/// however much it is used. `CASCADE_SESSION_IDLE_MINUTES` (default 30) and
/// `CASCADE_SESSION_HOURS` (default 12).
package struct SessionPolicy: Sendable {
    package var idleMs: Int64 = 30 * 60_000
    package var lifetimeMs: Int64 = 12 * 3_600_000
    /// How long after giving their password a person may change people, keys and second factors
    /// (`CASCADE_REAUTH_MINUTES`, default 15).
    package var reauthMs: Int64 = 15 * 60_000

    package static let configured: SessionPolicy = {
        let env = ProcessInfo.processInfo.environment
        var p = SessionPolicy()
        if let m = env["CASCADE_SESSION_IDLE_MINUTES"].flatMap(Int64.init), m > 0 { p.idleMs = m * 60_000 }
        if let h = env["CASCADE_SESSION_HOURS"].flatMap(Int64.init), h > 0 { p.lifetimeMs = h * 3_600_000 }
        if let m = env["CASCADE_REAUTH_MINUTES"].flatMap(Int64.init), m > 0 { p.reauthMs = m * 60_000 }
        return p
    }()

    /// A session's last use is written at most this often (not on every request).
    package static let touchEveryMs: Int64 = 60_000
}
