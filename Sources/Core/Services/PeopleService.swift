import Foundation
import Ledger
import SQLKit
import class Vapor.Application
import protocol Vapor.StorageKey

/// An org's people and machine keys, for the API and the console: adding a user, making and
/// revoking API keys. An org's admins manage their own; the operator sees anyone's people.
/// Each leaves an entry in the audit log.
package enum PeopleService {
    /// A person as the API and the console show them.
    package static func userJSON(id: String, email: String, name: String, role: UserRole, createdMs: Int64) -> JSON {
        ["id": .string(id), "email": .string(email), "name": .string(name), "role": .string(role.rawValue), "createdAt": .string(Time.rfc3339(createdMs))]
    }

    /// Only an org's own admins change its people and keys. The operator creates an org's first
    /// admin when it registers the org, and never adds people afterwards: a person it added could
    /// sign with the org's custodial key.
    package static func requireAdmin(of org: OrgID, _ viewer: Viewer) throws {
        guard viewer.orgId == org && viewer.caller.isAdmin else {
            throw LedgerError(.forbidden, viewer.role == .operator && viewer.orgId != org
                ? "the operator does not add people to another organisation; its admins do"
                : "only an admin of the organisation manages its people and keys")
        }
    }

    /// Who may see an org's people: its admins, and the operator.
    package static func requireAdminOrOperator(of org: OrgID, _ viewer: Viewer) throws {
        guard viewer.role == .operator || (viewer.orgId == org && viewer.caller.isAdmin) else {
            throw LedgerError(.forbidden, "only an admin of the organisation, or the operator, sees its people")
        }
    }

    /// `registering`: the org's first admin, made by the operator as it registers the org (the
    /// one time anyone but the org's own admins adds a person to it).
    package static func createUser(_ user: NewUser, in org: OrgID, by viewer: Viewer, app: Application, address: String?, registering: Bool = false) async throws -> JSON {
        try viewer.caller.requireRecentSignIn(nowMs: app.wallClock.nowMs())
        if registering {
            guard viewer.role == .operator else { throw LedgerError(.forbidden, "only the platform operator registers organisations") }
        } else {
            try requireAdmin(of: org, viewer)
        }
        let sql = app.sql
        try await user.checkEmailFree(on: sql)
        let now = app.wallClock.nowMs()
        // A new checker or admin starts as a viewer until a second admin, or the operator, agrees.
        let held = !registering && Self.grantsControl(user.role)
        let role = held ? UserRole.viewer : user.role
        let id = try await Accounts(sql: sql).createUser(org: org, email: user.email, name: user.name, role: role, password: user.password, nowMs: now)
        try await OnboardingService.audit(viewer, "user.create", org, "added \(user.email) as \(role.rawValue)", app: app, address: address)
        guard case .object(var fields) = PeopleService.userJSON(id: id, email: user.email, name: user.name, role: role, createdMs: now) else { return .null }
        if held, let approval = try await ApprovalService.hold(.role(userId: id, email: user.email, role: user.role), by: viewer.caller, app: app, address: address) {
            fields["approval"] = approval.json
        }
        return .object(fields)
    }

    /// A key for the calling admin: its id and its secret, which is shown this once.
    package static func createAPIKey(named name: String, by viewer: Viewer, app: Application, address: String?) async throws -> (id: String, secret: String) {
        try viewer.caller.requireRecentSignIn(nowMs: app.wallClock.nowMs())
        try requireAdmin(of: viewer.orgId, viewer)
        let key = try await Accounts(sql: app.sql).createAPIKey(for: viewer.caller, name: name, nowMs: app.wallClock.nowMs())
        try await OnboardingService.audit(viewer, "apikey.create", viewer.orgId, "key \(key.id) \"\(name)\"", app: app, address: address)
        return key
    }

    package static func revokeAPIKey(_ id: String, by viewer: Viewer, app: Application, address: String?) async throws {
        try viewer.caller.requireRecentSignIn(nowMs: app.wallClock.nowMs())
        try requireAdmin(of: viewer.orgId, viewer)
        guard try await Accounts(sql: app.sql).revokeAPIKey(id, of: viewer.orgId, nowMs: app.wallClock.nowMs()) else {
            throw LedgerError(.notFound, "no such API key")
        }
        try await OnboardingService.audit(viewer, "apikey.revoke", viewer.orgId, "key \(id)", app: app, address: address)
    }
}

/// A user to add: `{email, name, password, role?}`.
package struct NewUser {
    package var email: String
    package var name: String
    package var password: String
    package var role: UserRole

    package init(_ body: StrictBody) throws {
        email = try body.string("email", maxLength: Limits.maxEmailLength)!.lowercased()
        // One "@" with something on each side and no white space: what the OpenAPI document states.
        let parts = email.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty, email.unicodeScalars.count >= 3,
              !email.unicodeScalars.contains(where: { $0.properties.isWhitespace }) else {
            throw LedgerError.invalid(body.name("email"), "must be an email address")
        }
        name = try body.string("name", maxLength: Limits.maxNameLength)!
        password = try body.string("password", maxLength: 200)!
        guard password.count >= 10 else { throw LedgerError.invalid(body.name("password"), "must be at least 10 characters") }
        // An org's first admin, given at registration as `admin`, is an admin whatever it says.
        role = body.path == "admin" ? .admin : try NewUser.role(body, default: .maker)
    }

    package static func role(_ body: StrictBody, default fallback: UserRole? = nil) throws -> UserRole {
        let names = UserRole.allCases.map(\.rawValue)
        guard let text = try body.string("role", maxLength: 10, optional: fallback != nil) else { return fallback! }
        guard let role = UserRole(rawValue: text) else { throw LedgerError.invalid(body.name("role"), "must be one of \(names.joined(separator: ", "))") }
        return role
    }

    package func checkEmailFree(on sql: any SQLDatabase) async throws {
        if try await Accounts(sql: sql).emailTaken(email) {
            throw LedgerError.invalid("email", "is already in use")
        }
    }

    package func create(in org: OrgID, by viewer: Viewer, app: Application, address: String?, registering: Bool = false) async throws -> JSON {
        try await PeopleService.createUser(self, in: org, by: viewer, app: app, address: address, registering: registering)
    }
}


/// What an org's admins do to its people: disable and enable them, end their sessions, reset a
/// password to a temporary one; and what each person does for themselves: change their password.
/// Every step leaves an entry in the org's audit log.
extension PeopleService {
    /// Disables (or enables again) a user of the admin's org. Disabled, their sessions end and
    /// their keys stop working at once. An admin does not disable themselves.
    package static func setDisabled(_ userId: String, _ disabled: Bool, in org: OrgID, by viewer: Viewer, app: Application, address: String?) async throws -> JSON {
        try viewer.caller.requireRecentSignIn(nowMs: app.wallClock.nowMs())
        try requireAdmin(of: org, viewer)
        let sql = app.sql
        let person = try await PeopleQueries.member(userId, of: org, on: sql)
        if disabled, userId == viewer.caller.userId {
            throw LedgerError(.forbidden, "an admin does not disable themselves; another admin of the organisation can")
        }
        try await Accounts(sql: sql).setDisabled(userId, disabled, nowMs: app.wallClock.nowMs())
        try await OnboardingService.audit(viewer, disabled ? "user.disable" : "user.enable", org, "\(disabled ? "disabled" : "enabled") \(person.email)", app: app, address: address)
        return try await PeopleQueries.member(userId, of: org, on: sql).json
    }

    /// The roles that hold the four eyes: a checker decides what makers prepare, an admin names
    /// checkers and sets the rules. Nobody is given one on one person's word.
    package static func grantsControl(_ role: UserRole) -> Bool { role == .checker || role == .admin }

    /// Gives a user of the admin's org another role; it holds from their next request. An admin
    /// does not change their own (an org keeps the admin who is doing it). Making someone a
    /// checker or an admin waits for a second admin of the org, or the operator.
    package static func setRole(_ userId: String, to role: UserRole, in org: OrgID, by viewer: Viewer, app: Application, address: String?) async throws -> Prepared<JSON> {
        try viewer.caller.requireRecentSignIn(nowMs: app.wallClock.nowMs())
        try requireAdmin(of: org, viewer)
        let person = try await PeopleQueries.member(userId, of: org, on: app.sql)
        guard userId != viewer.caller.userId else { throw LedgerError(.forbidden, "an admin does not change their own role; another admin does") }
        if grantsControl(role), role != person.role,
           let approval = try await ApprovalService.hold(.role(userId: userId, email: person.email, role: role),
                                                         by: viewer.caller, app: app, address: address) {
            return .pending(approval)
        }
        return .done(try await applyRole(userId, role, in: org, by: viewer, app: app, address: address))
    }

    /// Sets the role, with its entry in the org's audit log: an admin's change, or an approved one.
    package static func applyRole(_ userId: String, _ role: UserRole, in org: OrgID, by viewer: Viewer, app: Application, address: String? = nil) async throws -> JSON {
        let sql = app.sql
        let person = try await PeopleQueries.member(userId, of: org, on: sql)
        try await Accounts(sql: sql).setRole(userId, role)
        try await OnboardingService.audit(viewer, "user.role", org, "\(person.email): \(person.role.rawValue) → \(role.rawValue)", app: app, address: address)
        return try await PeopleQueries.member(userId, of: org, on: sql).json
    }

    /// Ends every session of a user of the admin's org (their API keys are revoked one by one).
    package static func endSessions(_ userId: String, in org: OrgID, by viewer: Viewer, app: Application, address: String?) async throws -> Int {
        try viewer.caller.requireRecentSignIn(nowMs: app.wallClock.nowMs())
        try requireAdmin(of: org, viewer)
        let person = try await PeopleQueries.member(userId, of: org, on: app.sql)
        let count = try await Accounts(sql: app.sql).endSessions(of: userId)
        try await OnboardingService.audit(viewer, "user.sessions.end", org, "ended \(count) session(s) of \(person.email)", app: app, address: address)
        return count
    }

    /// Sets a temporary password for a user of the admin's org, returned this once: their
    /// sessions end, and the next sign-in with it may only change it.
    package static func resetPassword(_ userId: String, in org: OrgID, by viewer: Viewer, app: Application, address: String?) async throws -> (user: JSON, temporary: String) {
        try viewer.caller.requireRecentSignIn(nowMs: app.wallClock.nowMs())
        try requireAdmin(of: org, viewer)
        let sql = app.sql
        let person = try await PeopleQueries.member(userId, of: org, on: sql)
        let temporary = temporaryPassword()
        try await Accounts(sql: sql).setPassword(userId, hash: try await Passwords.hash(temporary), temporary: true, keeping: nil)
        try await OnboardingService.audit(viewer, "user.password.reset", org, "temporary password for \(person.email)", app: app, address: address)
        return (try await PeopleQueries.member(userId, of: org, on: sql).json, temporary)
    }

    /// 16 characters from an alphabet without look-alikes (no 0/O, 1/l/I): 80 bits.
    package static func temporaryPassword() -> String {
        let alphabet = Array("abcdefghjkmnpqrstuvwxyzACDEFGHJKLMNPQRTUVWXY346789")
        var rng = SystemRandomNumberGenerator()
        return String((0..<16).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &rng)] })
    }

    /// A person changes their own password, giving the current one. Their other sessions end.
    package static func changePassword(of caller: Caller, current: String, new: String, keeping session: String?, app: Application, address: String?) async throws {
        guard !caller.viaAPIKey else { throw LedgerError(.forbidden, "an API key does not change a person's password; sign in") }
        guard new.count >= 10 else { throw LedgerError.invalid("newPassword", "must be at least 10 characters") }
        guard new != current else { throw LedgerError.invalid("newPassword", "must differ from the current password") }
        let sql = app.sql
        try await SignInService.checkPassword(caller, password: current, address: address, app: app)
        try await Accounts(sql: sql).setPassword(caller.userId, hash: try await Passwords.hash(new), temporary: false, keeping: session)
        try await AuditLog.record(AuditLog.Entry(action: "user.password.change", orgId: caller.orgId, userId: caller.userId, email: caller.email, address: address,
                                                 detail: "changed their password"), nowMs: app.wallClock.nowMs(), on: sql)
    }
}
