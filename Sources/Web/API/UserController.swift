import Core
import Foundation
import Ledger
import SQLKit
import Vapor

/// `GET/POST /orgs/{id}/users`, `POST/GET /api-keys`, `DELETE /api-keys/{id}`: an org's admins
/// manage its people and keys; the operator manages anyone's people.
package enum UserController {
    package static func requireAdmin(of org: OrgID, _ viewer: Viewer) throws { try PeopleService.requireAdmin(of: org, viewer) }

    @Sendable package static func list(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        let org = try req.orgIdParameter()
        try PeopleService.requireAdminOrOperator(of: org, viewer)
        _ = try await OrgQueries.find(org, on: req.application.sql)
        return try await PeopleQueries.people(of: org, visibleTo: viewer, page: try Page(req, keyCount: 1), on: req.application.sql).json(\.json).response()
    }

    @Sendable package static func create(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        let org = try req.orgIdParameter()
        try requireAdmin(of: org, viewer)
        _ = try await OrgQueries.find(org, on: req.application.sql)
        let user = try NewUser(StrictBody(req, allowed: ["email", "name", "password", "role"]))
        return try await user.create(in: org, by: viewer, app: req.application, address: req.remoteAddress?.ipAddress).response(status: .created)
    }

    /// `POST /orgs/{id}/users/{userId}/disable` and `/enable`.
    @Sendable package static func disable(req: Request) async throws -> Response { try await setDisabled(true, req) }
    @Sendable package static func enable(req: Request) async throws -> Response { try await setDisabled(false, req) }

    package static func setDisabled(_ disabled: Bool, _ req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        let (org, user) = try orgAndUser(req)
        _ = try StrictBody(req, allowed: [])
        return try await PeopleService.setDisabled(user, disabled, in: org, by: viewer, app: req.application, address: req.remoteAddress?.ipAddress).response()
    }

    /// `POST /orgs/{id}/users/{userId}/end-sessions`: `{ended}`.
    @Sendable package static func endSessions(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        let (org, user) = try orgAndUser(req)
        _ = try StrictBody(req, allowed: [])
        let ended = try await PeopleService.endSessions(user, in: org, by: viewer, app: req.application, address: req.remoteAddress?.ipAddress)
        return JSON.object(["ended": .int(Int64(ended))]).response()
    }

    /// `POST /orgs/{id}/users/{userId}/reset-password`: `{user, temporaryPassword}`, shown once
    /// (a replay with the same Idempotency-Key answers without it).
    /// `PATCH /orgs/{id}/users/{userId} {role}`.
    @Sendable package static func setRole(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        let (org, user) = try orgAndUser(req)
        let role = try NewUser.role(try StrictBody(req, allowed: ["role"]))
        switch try await PeopleService.setRole(user, to: role, in: org, by: viewer, app: req.application, address: req.remoteAddress?.ipAddress) {
        case .done(let person): return person.response()
        case .pending(let approval): return JSON.object(["approval": approval.json]).response(status: .accepted)
        }
    }

    @Sendable package static func resetPassword(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        let (org, user) = try orgAndUser(req)
        _ = try StrictBody(req, allowed: [])
        let (json, temporary) = try await PeopleService.resetPassword(user, in: org, by: viewer, app: req.application, address: req.remoteAddress?.ipAddress)
        let response = JSON.object(["user": json, "temporaryPassword": .string(temporary)]).response()
        response.storage[IdempotencyClaim.KeptAnswer.self] = JSON.object(["user": json, "temporaryPassword": .null]).canonicalString
        return response
    }

    package static func orgAndUser(_ req: Request) throws -> (OrgID, String) {
        let org = try req.orgIdParameter()
        // User ids are lowercase UUIDs, as org ids are.
        guard let text = req.parameters.get("userId"), OrgID(text) != nil else { throw LedgerError.invalid("userId", "must be a user id (a lowercase UUID)") }
        return (org, text)
    }

    /// `POST /api-keys {name}`: a key for the calling admin; the secret is shown this once.
    @Sendable package static func createKey(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        let name = try StrictBody(req, allowed: ["name"]).string("name", maxLength: 100)!
        let (id, secret) = try await PeopleService.createAPIKey(named: name, by: viewer, app: req.application, address: req.remoteAddress?.ipAddress)
        guard let key = try await PeopleQueries.key(id, visibleTo: viewer, on: req.application.sql), case .object(var fields) = key.json else {
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

    @Sendable package static func listKeys(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        return try await PeopleQueries.keys(visibleTo: viewer, page: try Page(req, keyCount: 1), on: req.application.sql).json(\.json).response()
    }

    @Sendable package static func revokeKey(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        try requireAdmin(of: viewer.orgId, viewer)
        guard let id = req.parameters.get("id"), UUID(uuidString: id) != nil, id == id.lowercased() else {
            throw LedgerError.invalid("id", "must be an API key id (a lowercase UUID)")
        }
        try await PeopleService.revokeAPIKey(id, by: viewer, app: req.application, address: req.remoteAddress?.ipAddress)
        return Response(status: .noContent)
    }
}
