import Foundation
import Ledger
import class Vapor.Application
import protocol Vapor.StorageKey

/// Signing in with an email and a password, for the API and the console alike: throttled, checked,
/// and written to the audit log whatever the outcome.
package enum SignInService {
    package enum Outcome {
        case signedIn(token: String, expiresMs: Int64, caller: Caller)
        case wrong
        case throttled(seconds: Int64)
        /// The password was right, and the user signs in with a second factor: ask for the code.
        case otpRequired(userId: String)
    }

    /// `via`: where the attempt came from, for the audit log (`api`, `console`). `otp`: the code
    /// from the authenticator app, or a recovery code, for a user who needs one.
    package static func attempt(email: String, password: String, otp: String? = nil, address: String?, via: String, app: Application) async throws -> Outcome {
        try await throttled(email: email, address: address, via: via, app: app) { now in
            guard let found = try await Accounts(sql: app.sql).credentials(email: email, password: password) else {
                return (.wrong, failed: true, detail: "wrong email or password")
            }
            guard found.needsCode else { return (try await signIn(found.caller, address: address, via: via, app: app, nowMs: now), failed: false, detail: "") }
            guard let otp, !otp.isEmpty else { return (.otpRequired(userId: found.caller.userId), failed: false, detail: "") }
            return try await second(found.caller, code: otp, address: address, via: via, app: app, nowMs: now)
        }
    }

    /// A signed-in person gives their password (and code, when they sign in with one) again: the
    /// session may change people and keys for a while. Wrong answers count toward throttling, as
    /// at sign-in.
    package static func confirmIdentity(_ caller: Caller, password: String, otp: String?, session: String, address: String?, app: Application) async throws {
        enum Confirmation { case confirmed, wrong, otpRequired }
        let outcome = try await refusingWhenThrottled(email: caller.email, address: address, via: "reauthenticate", app: app) { now -> (Confirmation, failed: Bool, detail: String) in
            guard let found = try await Accounts(sql: app.sql).credentials(email: caller.email, password: password), found.caller.userId == caller.userId else {
                return (.wrong, failed: true, detail: "wrong password")
            }
            if found.needsCode {
                guard let otp, !otp.isEmpty else { return (.otpRequired, failed: false, detail: "") }
                guard try await TwoFactor.useCode(userId: caller.userId, code: otp, app: app, nowMs: now) else {
                    return (.wrong, failed: true, detail: "wrong or used second-factor code")
                }
            }
            try await Accounts(sql: app.sql).reauthenticated(session: session, nowMs: now)
            return (.confirmed, failed: false, detail: "")
        }
        switch outcome {
        case .confirmed: return
        case .wrong: throw LedgerError(.unauthorized, "the password or the code is wrong")
        case .otpRequired: throw LedgerError(.otpRequired, "give the code from the authenticator app too, as otp")
        }
    }

    /// A signed-in person's current password, asked again before they change their credentials
    /// (their password, their second factor). A wrong one counts toward throttling, as at sign-in.
    package static func checkPassword(_ caller: Caller, password: String, address: String?, app: Application) async throws {
        let right = try await refusingWhenThrottled(email: caller.email, address: address, via: "password check", app: app) { _ -> (Bool, failed: Bool, detail: String) in
            let right = try await Accounts(sql: app.sql).credentials(email: caller.email, password: password)?.caller.userId == caller.userId
            return (right, failed: !right, detail: "wrong password")
        }
        guard right else { throw LedgerError(.unauthorized, "the current password is wrong") }
    }

    /// The console's second step: the code for the user its challenge names.
    package static func secondStep(challenge: String, code: String, address: String?, via: String, app: Application) async throws -> Outcome {
        let now = app.wallClock.nowMs()
        guard let userId = try TwoFactor.user(ofChallenge: challenge, nowMs: now, app: app),
              let caller = try await Accounts(sql: app.sql).caller(userId: userId) else { return .wrong }
        return try await throttled(email: caller.email, address: address, via: via, app: app) { now in
            try await second(caller, code: code, address: address, via: via, app: app, nowMs: now)
        }
    }

    private static func second(_ caller: Caller, code: String, address: String?, via: String, app: Application, nowMs: Int64) async throws -> (Outcome, failed: Bool, detail: String) {
        guard try await TwoFactor.useCode(userId: caller.userId, code: code, app: app, nowMs: nowMs) else {
            return (.wrong, failed: true, detail: "wrong or used second-factor code")
        }
        return (try await signIn(caller, address: address, via: via, app: app, nowMs: nowMs), failed: false, detail: "")
    }

    private static func signIn(_ caller: Caller, address: String?, via: String, app: Application, nowMs: Int64) async throws -> Outcome {
        let session = try await Accounts(sql: app.sql).openSession(for: caller, nowMs: nowMs)
        try await AuditLog.record(AuditLog.Entry(action: "login", orgId: caller.orgId, userId: caller.userId, email: caller.email,
                                                 address: address, detail: "signed in (\(via))"), nowMs: nowMs, on: app.sql)
        return .signedIn(token: session.token, expiresMs: session.expiresMs, caller: caller)
    }

    /// One attempt through the throttle: it counts as a failure when `body` says so (a wrong
    /// password or code), and not when it throws (a suspended org, a database fault: not a guess).
    package static func throttled(email: String, address: String?, via: String, app: Application,
                          _ body: (Int64) async throws -> (Outcome, failed: Bool, detail: String)) async throws -> Outcome {
        do {
            return try await throttledOrThrowing(email: email, address: address, via: via, app: app, body)
        } catch let wait as ThrottledFor {
            return .throttled(seconds: wait.seconds)
        }
    }

    /// `throttledOrThrowing` for a check made by a signed-in person: a throttled one is `429`.
    package static func refusingWhenThrottled<T>(email: String, address: String?, via: String, app: Application,
                                         _ body: (Int64) async throws -> (T, failed: Bool, detail: String)) async throws -> T {
        do {
            return try await throttledOrThrowing(email: email, address: address, via: via, app: app, body)
        } catch let wait as ThrottledFor {
            throw LedgerError(.rateLimited, "too many failed attempts; try again in \(wait.seconds) seconds")
        }
    }

    package struct ThrottledFor: Error { var seconds: Int64 }

    /// Every password and code check, whatever it answers, goes through here; throttled, it
    /// throws `ThrottledFor`.
    package static func throttledOrThrowing<T>(email: String, address: String?, via: String, app: Application,
                                       _ body: (Int64) async throws -> (T, failed: Bool, detail: String)) async throws -> T {
        let now = app.wallClock.nowMs(), sql = app.sql, who = email.lowercased()
        let attempt: LoginThrottle.Attempt
        switch await app.loginThrottle.begin(email: email, address: address, nowMs: now) {
        case .failure(let wait):
            try await AuditLog.record(AuditLog.Entry(action: "login.throttled", email: who, address: address, detail: "too many failed sign-ins (\(via))"), nowMs: now, on: sql)
            throw ThrottledFor(seconds: wait.seconds)
        case .success(let a):
            attempt = a
        }
        let result: (T, failed: Bool, detail: String)
        do {
            result = try await body(now)
        } catch {
            await app.loginThrottle.end(attempt, failed: false)
            throw error
        }
        await app.loginThrottle.end(attempt, failed: result.failed)
        if result.failed {
            try await AuditLog.record(AuditLog.Entry(action: "login.failed", email: who, address: address, detail: "\(result.detail) (\(via))"), nowMs: now, on: sql)
        }
        return result.0
    }
}
