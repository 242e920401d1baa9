import Core
import Foundation
import Ledger
import SQLKit
import Vapor

/// Onboarding: orgs (the operator registers and suspends them), their people and API keys,
/// and the policy.
package enum OrgController {
    /// `GET /orgs?role=`: every signed-in org may know the others' names and roles.
    @Sendable package static func list(req: Request) async throws -> Response {
        _ = try await req.viewer()
        return try await OrgQueries.list(role: try req.queryEnum("role", OrgRole.self), page: try Page(req, keyCount: 2), on: req.application.sql)
            .json { $0 }.response()
    }

    @Sendable package static func show(req: Request) async throws -> Response {
        _ = try await req.viewer()
        return try await OrgQueries.find(try req.orgIdParameter(), on: req.application.sql).response()
    }

    /// `POST /orgs {name, role, creditCode, admin?: {email, name, password}}`: the operator
    /// registers an org. The platform makes its signing key and keeps it sealed; the first
    /// admin user is created with it when given.
    @Sendable package static func create(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        var body = try StrictBody(req, allowed: ["name", "role", "creditCode", "admin"])
        let admin = try body.object("admin", optional: true).map { try NewUser(StrictBody(fields: $0, path: "admin", allowed: ["email", "name", "password"])) }
        body.fields["admin"] = nil
        let (tx, orgId, user) = try await OnboardingService.register(body, admin: admin, by: viewer, app: req.application, address: req.remoteAddress?.ipAddress)
        var result: [JSONKey: JSON] = ["transactionId": .string(tx.description), "org": try await OrgQueries.find(orgId, on: req.application.sql)]
        if let user { result["user"] = user }
        return JSON.object(result).response(status: .created)
    }

    /// `POST /orgs/{id}/suspend` and `/activate`.
    package static func setStatus(_ status: OrgStatus, _ req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        let orgId = try req.orgIdParameter()
        _ = try StrictBody(req, allowed: [])
        let outcome = try await OnboardingService.setStatus(of: orgId, to: status, by: viewer, app: req.application, address: req.remoteAddress?.ipAddress)
        return JSON.object(["transactionId": .string(outcome.effects.transactionId.description),
                            "org": try await OrgQueries.find(orgId, on: req.application.sql)]).response()
    }

    @Sendable package static func suspend(req: Request) async throws -> Response { try await setStatus(.suspended, req) }
    @Sendable package static func activate(req: Request) async throws -> Response { try await setStatus(.active, req) }

    /// `POST /orgs/{id}/default {inDefault, reason}`: the operator records a core enterprise's
    /// default known outside the ledger, or lifts it (77号: it issues nothing while in default).
    @Sendable package static func recordDefault(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        let orgId = try req.orgIdParameter()
        let payload = try StrictBody(req, allowed: ["inDefault", "reason"]).payload(.recordDefault, adding: ["orgId": .string(orgId.description)])
        let outcome = try await OnboardingService.recordDefault(payload, by: viewer, app: req.application, address: req.remoteAddress?.ipAddress)
        return JSON.object(["transactionId": .string(outcome.effects.transactionId.description),
                            "org": try await OrgQueries.find(orgId, on: req.application.sql)]).response()
    }

    package static func audit(_ req: Request, _ viewer: Viewer, _ action: String, _ org: OrgID?, _ detail: String) async throws {
        try await OnboardingService.audit(viewer, action, org, detail, app: req.application, address: req.remoteAddress?.ipAddress)
    }

    // MARK: - Policy

    @Sendable package static func policy(req: Request) async throws -> Response {
        _ = try await req.viewer()
        return try await (OrgQueries.policy(on: req.application.sql) ?? Policy().json).response()
    }

    /// `PUT /policy`: the whole policy, every field of SPEC §2.
    @Sendable package static func setPolicy(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        let body = try StrictBody(req, allowed: Set(Policy.format2.json.objectValue?.keys.map(\.string) ?? []))
        let (tx, policy) = try await OnboardingService.setPolicy(body.fields, by: viewer, app: req.application, address: req.remoteAddress?.ipAddress)
        return JSON.object(["transactionId": .string(tx.description), "policy": policy.json]).response()
    }
}
