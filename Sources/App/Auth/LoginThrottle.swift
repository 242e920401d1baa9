import Foundation
import Ledger
import Vapor

/// Repeated failed sign-ins slow an attacker down. An account takes `maxFailures` failures within
/// `windowMs`; an address, from which a whole branch may sign in behind one NAT, takes
/// `maxAddressFailures`, many more. Past that, sign-ins for the account (or from the address) are
/// refused with `429 rate_limited` until the window has passed, even with the right password.
///
/// An attempt is counted from the moment it starts, not when its password check ends: each one
/// takes a place (`begin`) that counts as a failure until it ends well, so guesses sent all at
/// once cannot slip in before the first of them has failed. Kept in memory by the process that
/// serves the sign-ins; the audit log keeps every attempt.
actor LoginThrottle {
    let maxFailures: Int
    let maxAddressFailures: Int
    let windowMs: Int64
    private var failures: [String: [Int64]] = [:]
    private var running: [String: Int] = [:]

    init(maxFailures: Int = 5, maxAddressFailures: Int = 100, windowMs: Int64 = 15 * 60_000) {
        self.maxFailures = maxFailures
        self.maxAddressFailures = maxAddressFailures
        self.windowMs = windowMs
    }

    /// One sign-in attempt's place, to be ended with its outcome.
    struct Attempt: Sendable {
        fileprivate let keys: [(key: String, limit: Int)]
        fileprivate let nowMs: Int64
    }

    private func keys(email: String, address: String?) -> [(key: String, limit: Int)] {
        [("email:" + email.lowercased(), maxFailures)] + (address.map { [("address:" + $0, maxAddressFailures)] } ?? [])
    }

    /// A place for an attempt, or how many seconds to wait before one may be made.
    func begin(email: String, address: String?, nowMs: Int64) -> Result<Attempt, Wait> {
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

    struct Wait: Error {
        var seconds: Int64
    }

    /// Ends an attempt: a failure stays counted for the window; a success clears the account's.
    func end(_ attempt: Attempt, failed: Bool) {
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
    var loginThrottle: LoginThrottle {
        get { storage[ThrottleKey.self]! }
        set { storage[ThrottleKey.self] = newValue }
    }
}

/// Signing in with an email and a password, for the API and the console alike: throttled, checked,
/// and written to the audit log whatever the outcome.
enum SignInService {
    enum Outcome {
        case signedIn(token: String, expiresMs: Int64, caller: Caller)
        case wrong
        case throttled(seconds: Int64)
    }

    /// `via`: where the attempt came from, for the audit log (`api`, `console`).
    static func attempt(email: String, password: String, address: String?, via: String, app: Application) async throws -> Outcome {
        let now = app.wallClock.nowMs(), sql = app.sql, who = email.lowercased()
        let attempt: LoginThrottle.Attempt
        switch await app.loginThrottle.begin(email: email, address: address, nowMs: now) {
        case .failure(let wait):
            try await AuditLog.record(AuditLog.Entry(action: "login.throttled", email: who, address: address, detail: "too many failed sign-ins (\(via))"), nowMs: now, on: sql)
            return .throttled(seconds: wait.seconds)
        case .success(let a):
            attempt = a
        }
        let session: (token: String, expiresMs: Int64, caller: Caller)?
        do {
            session = try await Accounts(sql: sql).login(email: email, password: password, nowMs: now)
        } catch {
            // The password was right (a suspended org), or the database failed: not a guess.
            await app.loginThrottle.end(attempt, failed: false)
            throw error
        }
        await app.loginThrottle.end(attempt, failed: session == nil)
        guard let session else {
            try await AuditLog.record(AuditLog.Entry(action: "login.failed", email: who, address: address, detail: "wrong email or password (\(via))"), nowMs: now, on: sql)
            return .wrong
        }
        try await AuditLog.record(AuditLog.Entry(action: "login", orgId: session.caller.orgId, userId: session.caller.userId, email: session.caller.email,
                                                 address: address, detail: "signed in (\(via))"), nowMs: now, on: sql)
        return .signedIn(token: session.token, expiresMs: session.expiresMs, caller: session.caller)
    }
}
