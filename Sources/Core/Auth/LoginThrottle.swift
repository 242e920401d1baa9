import Foundation
import Ledger
import class Vapor.Application
import protocol Vapor.StorageKey

/// Repeated failed sign-ins slow an attacker down. An account takes `maxFailures` failures within
/// `windowMs`; an address, from which a whole branch may sign in behind one NAT, takes
/// `maxAddressFailures`, many more. Past that, sign-ins for the account (or from the address) are
/// refused with `429 rate_limited` until the window has passed, even with the right password.
///
/// An attempt is counted from the moment it starts, not when its password check ends: each one
/// takes a place (`begin`) that counts as a failure until it ends well, so guesses sent all at
/// once cannot slip in before the first of them has failed. Kept in memory by the process that
/// serves the sign-ins; the audit log keeps every attempt.
package actor LoginThrottle {
    package let maxFailures: Int
    package let maxAddressFailures: Int
    package let windowMs: Int64
    private var failures: [String: [Int64]] = [:]
    private var running: [String: Int] = [:]

    package init(maxFailures: Int = 5, maxAddressFailures: Int = 100, windowMs: Int64 = 15 * 60_000) {
        self.maxFailures = maxFailures
        self.maxAddressFailures = maxAddressFailures
        self.windowMs = windowMs
    }

    /// One sign-in attempt's place, to be ended with its outcome.
    package struct Attempt: Sendable {
        fileprivate let keys: [(key: String, limit: Int)]
        fileprivate let nowMs: Int64
    }

    private func keys(email: String, address: String?) -> [(key: String, limit: Int)] {
        [("email:" + email.lowercased(), maxFailures)] + (address.map { [("address:" + $0, maxAddressFailures)] } ?? [])
    }

    /// A place for an attempt, or how many seconds to wait before one may be made.
    package func begin(email: String, address: String?, nowMs: Int64) -> Result<Attempt, Wait> {
        let keys = keys(email: email, address: address)
        var wait: Int64 = 0
        for (key, limit) in keys {
            let recent = (failures[key] ?? []).filter { nowMs - $0 < windowMs }
            failures[key] = recent.isEmpty ? nil : recent
            guard recent.count + running[key, default: 0] >= limit else { continue }
            // Attempts still running end soon: wait a second. Past failures leave with the window.
            let oldest = recent.count >= limit ? (recent[recent.count - limit] + windowMs - nowMs + 999) / 1000 : 1
            wait = max(wait, oldest, 1)
        }
        if wait > 0 { return .failure(Wait(seconds: wait)) }
        for (key, _) in keys { running[key, default: 0] += 1 }
        return .success(Attempt(keys: keys, nowMs: nowMs))
    }

    package struct Wait: Error {
        package var seconds: Int64
    }

    /// Ends an attempt: a failure stays counted for the window; a success clears the account's.
    package func end(_ attempt: Attempt, failed: Bool) {
        for (key, _) in attempt.keys {
            running[key, default: 1] -= 1
            if running[key] == 0 { running[key] = nil }
            if failed { failures[key, default: []].append(attempt.nowMs) }
        }
        if !failed { failures[attempt.keys[0].key] = nil }
    }
}

extension Application {
    private struct ThrottleKey: StorageKey { typealias Value = LoginThrottle }

    /// Made in `configure`, before any request can race to create it.
    package var loginThrottle: LoginThrottle {
        get { storage[ThrottleKey.self]! }
        set { storage[ThrottleKey.self] = newValue }
    }
}
