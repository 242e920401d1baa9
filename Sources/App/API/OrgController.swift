import Foundation
import Ledger
import SQLKit
import Vapor

/// Onboarding: orgs (the operator registers and suspends them), their people and API keys,
/// and the policy.
enum OrgController {
    static let orgColumns = "id, name, role, credit_code, status"

    /// `GET /orgs?role=`: every signed-in org may know the others' names and roles.
    @Sendable static func list(req: Request) async throws -> Response {
        _ = try await req.viewer()
        let page = try Page(req, keyCount: 2)
        var query: SQLQueryString = "SELECT \(unsafeRaw: orgColumns) FROM orgs WHERE 1 = 1"
        if let role = try req.queryEnum("role", OrgRole.self) { query += " AND role = \(bind: role.rawValue)" }
        return try await page.run(query, keys: ["name", "id"], on: req.application.sql) { row in
            let org = try RowReader(row, "orgs").org
            return (org, [org["name"]!, org["id"]!])
        }.response()
    }

    static func role(of id: OrgID, on sql: any SQLDatabase) async throws -> OrgRole {
        guard let role = try await find(id, on: sql)["role"]?.stringValue.flatMap(OrgRole.init(rawValue:)) else { throw StoreDamage("org \(id) role") }
        return role
    }

    static func find(_ id: OrgID, on sql: any SQLDatabase) async throws -> JSON {
        guard let row = try await sql.raw("SELECT \(unsafeRaw: orgColumns) FROM orgs WHERE id = \(bind: id.description)").first() else {
            throw Problem(.notFound, "no such organisation")
        }
        return try RowReader(row, "orgs").org
    }

    @Sendable static func show(req: Request) async throws -> Response {
        _ = try await req.viewer()
        return try await find(try req.orgIdParameter(), on: req.application.sql).response()
    }

    /// `POST /orgs {name, role, creditCode, admin?: {email, name, password}}`: the operator
    /// registers an org. The platform makes its signing key and keeps it sealed; the first
    /// admin user is created with it when given.
    @Sendable static func create(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        var body = try StrictBody(req, allowed: ["name", "role", "creditCode", "admin"])
        let admin = try body.object("admin", optional: true).map { try NewUser(StrictBody(fields: $0, path: "admin", allowed: ["email", "name", "password"])) }
        body.fields["admin"] = nil
        let (tx, orgId, user) = try await OnboardingService.register(body, admin: admin, by: viewer, app: req.application, address: req.remoteAddress?.ipAddress)
        var result: [JSONKey: JSON] = ["transactionId": .string(tx.description), "org": try await find(orgId, on: req.application.sql)]
        if let user { result["user"] = user }
        return JSON.object(result).response(status: .created)
    }

    /// `POST /orgs/{id}/suspend` and `/activate`.
    static func setStatus(_ status: OrgStatus, _ req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        let orgId = try req.orgIdParameter()
        _ = try StrictBody(req, allowed: [])
        let outcome = try await OnboardingService.setStatus(of: orgId, to: status, by: viewer, app: req.application, address: req.remoteAddress?.ipAddress)
        return JSON.object(["transactionId": .string(outcome.effects.transactionId.description),
                            "org": try await find(orgId, on: req.application.sql)]).response()
    }

    @Sendable static func suspend(req: Request) async throws -> Response { try await setStatus(.suspended, req) }
    @Sendable static func activate(req: Request) async throws -> Response { try await setStatus(.active, req) }

    static func audit(_ req: Request, _ viewer: Viewer, _ action: String, _ org: OrgID?, _ detail: String) async throws {
        try await OnboardingService.audit(viewer, action, org, detail, app: req.application, address: req.remoteAddress?.ipAddress)
    }

    // MARK: - Policy

    @Sendable static func policy(req: Request) async throws -> Response {
        _ = try await req.viewer()
        guard let row = try await req.application.sql.raw("SELECT body FROM policy WHERE id = 1").first() else {
            return Policy().json.response()
        }
        return try JSON.parse(try row.decode(column: "body", as: String.self)).response()
    }

    /// `PUT /policy`: the whole policy, every field of SPEC §2.
    @Sendable static func setPolicy(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        let body = try StrictBody(req, allowed: Set(Policy().json.objectValue?.keys.map(\.string) ?? []))
        let (tx, policy) = try await OnboardingService.setPolicy(body.fields, by: viewer, app: req.application, address: req.remoteAddress?.ipAddress)
        return JSON.object(["transactionId": .string(tx.description), "policy": policy.json]).response()
    }
}

/// `GET/POST /orgs/{id}/users`, `POST/GET /api-keys`, `DELETE /api-keys/{id}`: an org's admins
/// manage its people and keys; the operator manages anyone's people.
enum UserController {
    static func json(id: String, email: String, name: String, role: UserRole, createdMs: Int64) -> JSON {
        ["id": .string(id), "email": .string(email), "name": .string(name), "role": .string(role.rawValue), "createdAt": .string(Time.rfc3339(createdMs))]
    }

    static func requireAdmin(of org: OrgID, _ viewer: Viewer) throws { try PeopleService.requireAdmin(of: org, viewer) }

    @Sendable static func list(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        let org = try req.orgIdParameter()
        try PeopleService.requireAdminOrOperator(of: org, viewer)
        _ = try await OrgController.find(org, on: req.application.sql)
        let page = try Page(req, keyCount: 1)
        return try await page.run("SELECT id, email, name, role, created_ms, disabled_ms, must_change_password FROM users WHERE org_id = \(bind: org.description)",
                                  keys: ["email"], on: req.application.sql) { row in
            (try PeopleService.userJSON(row), [.string(try row.decode(column: "email", as: String.self))])
        }.response()
    }

    @Sendable static func create(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        let org = try req.orgIdParameter()
        try requireAdmin(of: org, viewer)
        _ = try await OrgController.find(org, on: req.application.sql)
        let user = try NewUser(StrictBody(req, allowed: ["email", "name", "password", "role"]))
        return try await user.create(in: org, by: viewer, app: req.application, address: req.remoteAddress?.ipAddress).response(status: .created)
    }

    /// `POST /orgs/{id}/users/{userId}/disable` and `/enable`.
    @Sendable static func disable(req: Request) async throws -> Response { try await setDisabled(true, req) }
    @Sendable static func enable(req: Request) async throws -> Response { try await setDisabled(false, req) }

    static func setDisabled(_ disabled: Bool, _ req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        let (org, user) = try orgAndUser(req)
        _ = try StrictBody(req, allowed: [])
        return try await PeopleService.setDisabled(user, disabled, in: org, by: viewer, app: req.application, address: req.remoteAddress?.ipAddress).response()
    }

    /// `POST /orgs/{id}/users/{userId}/end-sessions`: `{ended}`.
    @Sendable static func endSessions(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        let (org, user) = try orgAndUser(req)
        _ = try StrictBody(req, allowed: [])
        let ended = try await PeopleService.endSessions(user, in: org, by: viewer, app: req.application, address: req.remoteAddress?.ipAddress)
        return JSON.object(["ended": .int(Int64(ended))]).response()
    }

    /// `POST /orgs/{id}/users/{userId}/reset-password`: `{user, temporaryPassword}`, shown once
    /// (a replay with the same Idempotency-Key answers without it).
    /// `PATCH /orgs/{id}/users/{userId} {role}`.
    @Sendable static func setRole(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        let (org, user) = try orgAndUser(req)
        let role = try NewUser.role(try StrictBody(req, allowed: ["role"]))
        return try await PeopleService.setRole(user, to: role, in: org, by: viewer, app: req.application, address: req.remoteAddress?.ipAddress).response()
    }

    @Sendable static func resetPassword(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        let (org, user) = try orgAndUser(req)
        _ = try StrictBody(req, allowed: [])
        let (json, temporary) = try await PeopleService.resetPassword(user, in: org, by: viewer, app: req.application, address: req.remoteAddress?.ipAddress)
        let response = JSON.object(["user": json, "temporaryPassword": .string(temporary)]).response()
        response.storage[IdempotencyClaim.KeptAnswer.self] = JSON.object(["user": json, "temporaryPassword": .null]).canonicalString
        return response
    }

    static func orgAndUser(_ req: Request) throws -> (OrgID, String) {
        let org = try req.orgIdParameter()
        // User ids are lowercase UUIDs, as org ids are.
        guard let text = req.parameters.get("userId"), OrgID(text) != nil else { throw LedgerError.invalid("userId", "must be a user id (a lowercase UUID)") }
        return (org, text)
    }

    static func keyJSON(_ row: any SQLRow) throws -> JSON {
        let revoked = try row.decodeNil(column: "revoked_ms") ? nil : try row.decode(column: "revoked_ms", as: Int64.self)
        return ["id": .string(try row.decode(column: "id", as: String.self)), "name": .string(try row.decode(column: "name", as: String.self)),
                "prefix": .string(try row.decode(column: "prefix", as: String.self)), "userId": .string(try row.decode(column: "user_id", as: String.self)),
                "createdAt": .string(Time.rfc3339(try row.decode(column: "created_ms", as: Int64.self))),
                "revokedAt": revoked.map { .string(Time.rfc3339($0)) } ?? .null]
    }

    /// `POST /api-keys {name}`: a key for the calling admin; the secret is shown this once.
    @Sendable static func createKey(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        let name = try StrictBody(req, allowed: ["name"]).string("name", maxLength: 100)!
        let (id, secret) = try await PeopleService.createAPIKey(named: name, by: viewer, app: req.application, address: req.remoteAddress?.ipAddress)
        guard let row = try await req.application.sql.raw("SELECT * FROM api_keys WHERE id = \(bind: id)").first(), case .object(var fields) = try keyJSON(row) else {
            throw StoreDamage("api key \(id) vanished")
        }
        // A replay with the same Idempotency-Key answers without the secret: it is shown once, and
        // never stored, not even in the kept answer.
        let kept = JSON.object(fields.merging(["secret": .null]) { $1 })
        fields["secret"] = .string(secret)
        let response = JSON.object(fields).response(status: .created)
        response.storage[IdempotencyClaim.KeptAnswer.self] = kept.canonicalString
        return response
    }

    @Sendable static func listKeys(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        try requireAdmin(of: viewer.orgId, viewer)
        let page = try Page(req, keyCount: 1)
        return try await page.run("SELECT * FROM api_keys WHERE org_id = \(bind: viewer.orgId.description)", keys: ["id"], on: req.application.sql) { row in
            (try keyJSON(row), [.string(try row.decode(column: "id", as: String.self))])
        }.response()
    }

    @Sendable static func revokeKey(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        try requireAdmin(of: viewer.orgId, viewer)
        guard let id = req.parameters.get("id"), UUID(uuidString: id) != nil, id == id.lowercased() else {
            throw LedgerError.invalid("id", "must be an API key id (a lowercase UUID)")
        }
        try await PeopleService.revokeAPIKey(id, by: viewer, app: req.application, address: req.remoteAddress?.ipAddress)
        return Response(status: .noContent)
    }
}

enum Time {
    /// `2026-11-22 17:05` in Asia/Shanghai (UTC+8, no daylight saving): how people read times.
    static func local(_ ms: Int64) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(secondsFromGMT: 8 * 3600)
        f.dateFormat = "yyyy-MM-dd HH:mm"
        return f.string(from: Date(timeIntervalSince1970: Double(ms) / 1000))
    }

    static func rfc3339(_ ms: Int64) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: Date(timeIntervalSince1970: Double(ms) / 1000))
    }
}
