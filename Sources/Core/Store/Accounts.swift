import Crypto
import FluentKit
import Foundation
import Ledger
import NIOConcurrencyHelpers
import SQLKit
import class Vapor.Application
import var Vapor.Bcrypt
import protocol Vapor.StorageKey

/// Users, sessions and API keys in SQL. Secrets are random, shown once, stored hashed.
package struct Accounts: Sendable {
    package let sql: any SQLDatabase
    package var policy = SessionPolicy.configured

    package init(sql: any SQLDatabase, policy: SessionPolicy = .configured) {
        self.sql = sql
        self.policy = policy
    }

    /// The role of an org as the chain registered it (nil for an org the chain does not know).
    package static func role(of org: OrgID, on sql: any SQLDatabase) async throws -> OrgRole? {
        try await sql.raw("SELECT role FROM orgs WHERE id = \(bind: org.description)").first()
            .flatMap { OrgRole(rawValue: try $0.decode(column: "role", as: String.self)) }
    }

    package static func secretHash(_ secret: String) -> String { Hashing.sha256Hex(Array(secret.utf8)) }

    package static func newSecret(prefix: String) -> String {
        var bytes = [UInt8](repeating: 0, count: 32)
        var rng = SystemRandomNumberGenerator()
        for i in bytes.indices { bytes[i] = UInt8.random(in: 0...255, using: &rng) }
        return prefix + Hex.encode(bytes)
    }

    /// Adds a user; the password is stored as a bcrypt hash.
    @discardableResult
    package func createUser(org: OrgID, email: String, name: String, role: UserRole, password: String, nowMs: Int64) async throws -> String {
        let id = UUID().uuidString.lowercased()
        let hash = try await Passwords.hash(password)
        do {
            try await sql.insert(into: "users").columns("id", "org_id", "email", "name", "role", "password_hash", "created_ms")
                .values(SQLBind(id), SQLBind(org.description), SQLBind(email.lowercased()), SQLBind(name), SQLBind(role.rawValue),
                        SQLBind(hash), SQLBind(nowMs))
                .run()
        } catch let error as any DatabaseError where error.isConstraintFailure {
            // Two requests for one email at once: the database's unique index decides.
            throw LedgerError.invalid("email", "is already in use")
        }
        return id
    }

    /// The user the email and password name, and whether a second factor must follow; nil for a
    /// wrong pair (which of the two is not said). A suspended org's people and a disabled user are
    /// refused here, with the right password only.
    package func credentials(email: String, password: String) async throws -> (caller: Caller, needsCode: Bool)? {
        guard let row = try await sql.raw("""
            SELECT u.id, u.org_id, u.email, u.name, u.role, u.password_hash, u.disabled_ms, u.must_change_password, u.totp_enabled_ms,
                   o.status, o.role AS org_role
            FROM users u LEFT JOIN orgs o ON o.id = u.org_id
            WHERE u.email = \(bind: email.lowercased())
            """).first()
        else {
            _ = try? await Passwords.verify(password, created: Self.dummyHash)  // same work whether or not the email exists
            return nil
        }
        guard try await Passwords.verify(password, created: try row.decode(column: "password_hash", as: String.self)) else { return nil }
        let caller = try Self.caller(row, viaAPIKey: false)
        try Self.refuseStopped(row, caller)
        let orgRole = try row.decode(column: "org_role", as: String?.self), enabled = try row.decode(column: "totp_enabled_ms", as: Int64?.self)
        let needsCode = TwoFactor.required(orgRole: orgRole, isAdmin: caller.isAdmin) && enabled != nil
        return (caller, needsCode)
    }

    /// The user `id` as a caller, for the console's second step (nil when there is none).
    package func caller(userId: String) async throws -> Caller? {
        guard let row = try await sql.raw("""
            SELECT u.id, u.org_id, u.email, u.name, u.role, u.disabled_ms, u.must_change_password, o.status
            FROM users u LEFT JOIN orgs o ON o.id = u.org_id WHERE u.id = \(bind: userId)
            """).first() else { return nil }
        let caller = try Self.caller(row, viaAPIKey: false)
        try Self.refuseStopped(row, caller)
        return caller
    }

    /// A new session for `caller`.
    package func openSession(for caller: Caller, nowMs: Int64) async throws -> (token: String, expiresMs: Int64, caller: Caller) {
        let token = Self.newSecret(prefix: "cas_l_")
        let expires = nowMs + policy.lifetimeMs
        try await sql.insert(into: "sessions").columns("secret_hash", "user_id", "expires_ms", "created_ms", "last_used_ms", "authenticated_ms")
            .values(SQLBind(Self.secretHash(token)), SQLBind(caller.userId), SQLBind(expires), SQLBind(nowMs), SQLBind(nowMs), SQLBind(nowMs)).run()
        return (token, expires, caller)
    }

    /// A session for the right email and password of a user who needs no second factor; nil
    /// otherwise (tests, and tools that sign in such users).
    package func login(email: String, password: String, nowMs: Int64) async throws -> (token: String, expiresMs: Int64, caller: Caller)? {
        guard let found = try await credentials(email: email, password: password), !found.needsCode else { return nil }
        return try await openSession(for: found.caller, nowMs: nowMs)
    }

    package static let dummyHash = (try? Bcrypt.hash("cascade-timing-equaliser", cost: Passwords.cost)) ?? ""

    package func logout(token: String) async throws {
        try await sql.delete(from: "sessions").where("secret_hash", .equal, SQLBind(Self.secretHash(token))).run()
    }

    /// The caller a bearer secret stands for: a live session, or an API key not revoked.
    package func caller(bearer: String, nowMs: Int64) async throws -> Caller? {
        let hash = Self.secretHash(bearer)
        if bearer.hasPrefix("cas_l_") {
            // Alive: within its lifetime, and used within the idle timeout.
            guard let row = try await sql.raw("""
                SELECT u.id, u.org_id, u.email, u.name, u.role, u.disabled_ms, u.must_change_password, u.totp_enabled_ms, o.status, o.role AS org_role,
                       COALESCE(t.last_used_ms, t.created_ms) AS last_used_ms, COALESCE(t.authenticated_ms, t.created_ms) AS authenticated_ms
                FROM sessions t JOIN users u ON u.id = t.user_id LEFT JOIN orgs o ON o.id = u.org_id
                WHERE t.secret_hash = \(bind: hash) AND t.expires_ms > \(bind: nowMs) AND COALESCE(t.last_used_ms, t.created_ms) > \(bind: nowMs - policy.idleMs)
                """).first() else { return nil }
            if try row.decode(column: "last_used_ms", as: Int64.self) <= nowMs - SessionPolicy.touchEveryMs {
                try await sql.raw("UPDATE sessions SET last_used_ms = \(bind: nowMs) WHERE secret_hash = \(bind: hash)").run()
            }
            var caller = try Self.caller(row, viaAPIKey: false)
            try Self.refuseStopped(row, caller)
            let orgRole = try row.decode(column: "org_role", as: String?.self), enabled = try row.decode(column: "totp_enabled_ms", as: Int64?.self)
            caller.mustEnrolTwoFactor = TwoFactor.required(orgRole: orgRole, isAdmin: caller.isAdmin) && enabled == nil
            caller.authenticatedMs = try row.decode(column: "authenticated_ms", as: Int64.self)
            return caller
        }
        guard let row = try await sql.raw("""
            SELECT u.id, u.org_id, u.email, u.name, u.role, u.disabled_ms, o.status
            FROM api_keys k JOIN users u ON u.id = k.user_id LEFT JOIN orgs o ON o.id = u.org_id
            WHERE k.key_hash = \(bind: hash) AND k.revoked_ms IS NULL
            """).first() else { return nil }
        let caller = try Self.caller(row, viaAPIKey: true)
        try Self.refuseStopped(row, caller)
        return caller
    }

    /// A suspended org's people, and a user its admin disabled, can neither sign in nor use their
    /// sessions and keys: it stops them at once, whatever they were about to read or change.
    package static func refuseStopped(_ row: any SQLRow, _ caller: Caller) throws {
        if try row.decode(column: "status", as: String?.self) == OrgStatus.suspended.rawValue {
            throw LedgerError(.forbidden, "organisation \(caller.orgId) is suspended: its people cannot sign in or use their keys until it is reactivated")
        }
        if try row.decode(column: "disabled_ms", as: Int64?.self) != nil {
            throw LedgerError(.forbidden, "this user was disabled by an admin of the organisation")
        }
    }

    /// Notes that the person gave their password (or second factor) again in this session.
    package func reauthenticated(session: String, nowMs: Int64) async throws {
        try await sql.raw("UPDATE sessions SET authenticated_ms = \(bind: nowMs) WHERE secret_hash = \(bind: Self.secretHash(session))").run()
    }

    /// Whether a user, of any org, has this email.
    package func emailTaken(_ email: String) async throws -> Bool {
        try await sql.raw("SELECT id FROM users WHERE email = \(bind: email)").first() != nil
    }

    /// Disables a user: their sessions end, and their keys stop working (the check of a key reads
    /// its user). Enabling them again brings no session back.
    package func setDisabled(_ userId: String, _ disabled: Bool, nowMs: Int64) async throws {
        if disabled {
            try await sql.raw("UPDATE users SET disabled_ms = \(bind: nowMs) WHERE id = \(bind: userId) AND disabled_ms IS NULL").run()
            try await sql.raw("DELETE FROM sessions WHERE user_id = \(bind: userId)").run()
        } else {
            try await sql.raw("UPDATE users SET disabled_ms = NULL WHERE id = \(bind: userId)").run()
        }
    }

    package func setRole(_ userId: String, _ role: UserRole) async throws {
        try await sql.raw("UPDATE users SET role = \(bind: role.rawValue) WHERE id = \(bind: userId)").run()
    }

    /// Sets a password (a bcrypt hash) and ends the user's sessions but `keeping` (a session's
    /// secret, or none). `temporary`: the next sign-in with it may only change it.
    package func setPassword(_ userId: String, hash: String, temporary: Bool, keeping session: String?) async throws {
        try await sql.raw("UPDATE users SET password_hash = \(bind: hash), must_change_password = \(bind: temporary ? 1 : 0) WHERE id = \(bind: userId)").run()
        try await sql.raw("DELETE FROM sessions WHERE user_id = \(bind: userId) AND secret_hash <> \(bind: session.map(Self.secretHash) ?? "")").run()
    }

    /// Ends every session of a user; answers how many there were.
    package func endSessions(of userId: String) async throws -> Int {
        let count = try await sql.raw("SELECT COUNT(*) AS n FROM sessions WHERE user_id = \(bind: userId)").first()?.decode(column: "n", as: Int.self) ?? 0
        try await sql.raw("DELETE FROM sessions WHERE user_id = \(bind: userId)").run()
        return count
    }

    /// Revokes `org`'s API key `id`; false when the org has no such key (another org's is not found).
    /// A key revoked already stays revoked when it was.
    package func revokeAPIKey(_ id: String, of org: OrgID, nowMs: Int64) async throws -> Bool {
        guard try await sql.raw("SELECT id FROM api_keys WHERE id = \(bind: id) AND org_id = \(bind: org.description)").first() != nil else { return false }
        try await sql.raw("UPDATE api_keys SET revoked_ms = \(bind: nowMs) WHERE id = \(bind: id) AND revoked_ms IS NULL").run()
        return true
    }

    /// Creates an API key for a user; the secret is returned once and stored only as a hash.
    package func createAPIKey(for caller: Caller, name: String, nowMs: Int64) async throws -> (id: String, secret: String) {
        let id = UUID().uuidString.lowercased()
        let secret = Self.newSecret(prefix: "cas_k_")
        try await sql.insert(into: "api_keys").columns("id", "org_id", "user_id", "name", "key_hash", "prefix", "created_ms")
            .values(SQLBind(id), SQLBind(caller.orgId.description), SQLBind(caller.userId), SQLBind(name), SQLBind(Self.secretHash(secret)),
                    SQLBind(String(secret.prefix(12))), SQLBind(nowMs)).run()
        return (id, secret)
    }

    package static func caller(_ row: any SQLRow, viaAPIKey: Bool) throws -> Caller {
        guard let org = OrgID(try row.decode(column: "org_id", as: String.self)) else { throw LedgerError(.unauthorized, "the user's org id is malformed") }
        return Caller(userId: try row.decode(column: "id", as: String.self), orgId: org, email: try row.decode(column: "email", as: String.self),
                      name: try row.decode(column: "name", as: String.self), userRole: UserRole(stored: try row.decode(column: "role", as: String.self)),
                      viaAPIKey: viaAPIKey, mustChangePassword: !viaAPIKey && ((try? row.decode(column: "must_change_password", as: Int.self)) ?? 0) != 0)
    }
}
