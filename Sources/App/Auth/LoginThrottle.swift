import Foundation
import Ledger
import Vapor

/// Repeated failed sign-ins slow an attacker down: after `maxFailures` failures for one email,
/// or from one address, within `windowMs`, sign-ins for it are refused (`429 rate_limited`)
/// until the window has passed — even with the right password. Kept in memory by the process
/// that serves the sign-ins; the audit log keeps every attempt.
actor LoginThrottle {
    let maxFailures: Int
    let windowMs: Int64
    private var failures: [String: [Int64]] = [:]

    init(maxFailures: Int = 5, windowMs: Int64 = 15 * 60_000) {
        self.maxFailures = maxFailures
        self.windowMs = windowMs
    }

    static func keys(email: String, address: String?) -> [String] {
        ["email:" + email.lowercased()] + (address.map { ["address:" + $0] } ?? [])
    }

    /// Nil when a sign-in may be tried now; otherwise how many seconds to wait.
    func retryAfter(_ keys: [String], nowMs: Int64) -> Int64? {
        var wait: Int64 = 0
        for key in keys {
            let recent = (failures[key] ?? []).filter { nowMs - $0 < windowMs }
            failures[key] = recent.isEmpty ? nil : recent
            if recent.count >= maxFailures { wait = max(wait, (recent[recent.count - maxFailures] + windowMs - nowMs + 999) / 1000) }
        }
        return wait > 0 ? wait : nil
    }

    func failed(_ keys: [String], nowMs: Int64) {
        for key in keys { failures[key, default: []].append(nowMs) }
    }

    func succeeded(_ keys: [String]) {
        failures[keys[0]] = nil
    }
}

extension Application {
    private struct ThrottleKey: StorageKey { typealias Value = LoginThrottle }

    /// Made in `configure`, before any request can race to create it.
    var loginThrottle: LoginThrottle {
        get { storage[ThrottleKey.self]! }
        set { storage[ThrottleKey.self] = newValue }
    }
}
