import Foundation
import Ledger
import SQLKit
import Vapor

/// An org's people and machine keys, for the API and the console: adding a user, making and
/// revoking API keys. An org's admins manage their own; the operator sees anyone's people.
/// Each leaves an entry in the audit log.
enum PeopleService {
    /// Only an org's own admins change its people and keys. The operator creates an org's first
    /// admin when it registers the org, and never adds people afterwards: a person it added could
    /// sign with the org's custodial key.
    static func requireAdmin(of org: OrgID, _ viewer: Viewer) throws {
        guard viewer.orgId == org && viewer.caller.isAdmin else {
            throw Problem(.forbidden, viewer.role == .operator && viewer.orgId != org
                ? "the operator does not add people to another organisation; its admins do"
                : "only an admin of the organisation manages its people and keys")
        }
    }

    /// Who may see an org's people: its admins, and the operator.
    static func requireAdminOrOperator(of org: OrgID, _ viewer: Viewer) throws {
        guard viewer.role == .operator || (viewer.orgId == org && viewer.caller.isAdmin) else {
            throw Problem(.forbidden, "only an admin of the organisation, or the operator, sees its people")
        }
    }

    /// `registering`: the org's first admin, made by the operator as it registers the org (the
    /// one time anyone but the org's own admins adds a person to it).
    static func createUser(_ user: NewUser, in org: OrgID, by viewer: Viewer, app: Application, address: String?, registering: Bool = false) async throws -> JSON {
        if registering {
            guard viewer.role == .operator else { throw Problem(.forbidden, "only the platform operator registers organisations") }
        } else {
            try requireAdmin(of: org, viewer)
        }
        let sql = app.sql
        try await user.checkEmailFree(on: sql)
        let now = app.wallClock.nowMs()
        let id = try await Accounts(sql: sql).createUser(org: org, email: user.email, name: user.name, admin: user.admin, password: user.password, nowMs: now)
        try await OnboardingService.audit(viewer, "user.create", org, "added \(user.email) as \(user.admin ? "admin" : "member")", app: app, address: address)
        return UserController.json(id: id, email: user.email, name: user.name, admin: user.admin, createdMs: now)
    }

    /// A key for the calling admin: its id and its secret, which is shown this once.
    static func createAPIKey(named name: String, by viewer: Viewer, app: Application, address: String?) async throws -> (id: String, secret: String) {
        try requireAdmin(of: viewer.orgId, viewer)
        let key = try await Accounts(sql: app.sql).createAPIKey(for: viewer.caller, name: name, nowMs: app.wallClock.nowMs())
        try await OnboardingService.audit(viewer, "apikey.create", viewer.orgId, "key \(key.id) \"\(name)\"", app: app, address: address)
        return key
    }

    static func revokeAPIKey(_ id: String, by viewer: Viewer, app: Application, address: String?) async throws {
        try requireAdmin(of: viewer.orgId, viewer)
        let sql = app.sql
        guard try await sql.raw("SELECT id FROM api_keys WHERE id = \(bind: id) AND org_id = \(bind: viewer.orgId.description)").first() != nil else {
            throw Problem(.notFound, "no such API key")
        }
        try await sql.raw("UPDATE api_keys SET revoked_ms = \(bind: app.wallClock.nowMs()) WHERE id = \(bind: id) AND revoked_ms IS NULL").run()
        try await OnboardingService.audit(viewer, "apikey.revoke", viewer.orgId, "key \(id)", app: app, address: address)
    }
}

/// A user to add: `{email, name, password, role?}`.
struct NewUser {
    var email: String
    var name: String
    var password: String
    var admin: Bool

    init(_ body: StrictBody) throws {
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
        let role = try body.string("role", maxLength: 10, optional: true) ?? "member"
        guard role == "admin" || role == "member" else { throw LedgerError.invalid(body.name("role"), "must be admin or member") }
        admin = role == "admin" || body.path == "admin"
    }

    func checkEmailFree(on sql: any SQLDatabase) async throws {
        if try await sql.raw("SELECT id FROM users WHERE email = \(bind: email)").first() != nil {
            throw LedgerError.invalid("email", "is already in use")
        }
    }

    func create(in org: OrgID, by viewer: Viewer, app: Application, address: String?, registering: Bool = false) async throws -> JSON {
        try await PeopleService.createUser(self, in: org, by: viewer, app: app, address: address, registering: registering)
    }
}

