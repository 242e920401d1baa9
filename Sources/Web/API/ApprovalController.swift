import Core
import Foundation
import Ledger
import SQLKit
import Vapor

/// `GET /approvals`, `GET /approvals/{id}`, `POST /approvals/{id}/approve`, `POST /approvals/{id}/reject
/// {reason}`, and each org's rules at `GET/PUT /orgs/{id}/approval-rules`.
package enum ApprovalController {
    /// `202 {approval}`: what a maker hears when the operation waits for a checker.
    package static func held(_ approval: Approval) -> Response {
        JSON.object(["approval": approval.json]).response(status: .accepted)
    }

    /// An org's own approvals, newest first; the regulator and the operator see every org's.
    @Sendable package static func list(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        let page = try Page(req, keyCount: 2)
        return try await ApprovalQueries.list(status: try req.queryEnum("status", ApprovalStatus.self), action: try req.queryEnum("action", ApprovalAction.self),
                                              visibleTo: viewer, page: page, on: req.application.sql).json(\.json).response()
    }

    @Sendable package static func show(req: Request) async throws -> Response {
        let approval = try await ApprovalService.find(req.parameters.get("id") ?? "", visibleTo: try await req.viewer(), app: req.application)
        return JSON.object(["approval": approval.json]).response()
    }

    /// `201` with the operation's usual answer, and the approval as it now stands.
    @Sendable package static func approve(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        let otp = try StrictBody(req, allowed: ["otp"]).string("otp", maxLength: 32, optional: true)
        let (approval, performed) = try await ApprovalService.approve(req.parameters.get("id") ?? "", by: viewer, otp: otp, app: req.application, address: req.remoteAddress?.ipAddress)
        guard case .object(var answer) = answer(performed, settlement: approval.operation.isSettlement) else { throw StoreDamage("approval answer") }
        answer["approval"] = approval.json
        return JSON.object(answer).response(status: .created)
    }

    package static func answer(_ performed: Performed, settlement: Bool) -> JSON {
        if let rules = performed.rules { return ["rules": .array(rules.map(\.json))] }
        if let person = performed.person { return ["user": person] }
        if let program = performed.program { return program.json }
        if !performed.payments.isEmpty { return ["payments": .array(performed.payments.map { $0.json() })] }
        return settlement ? ReceivableController.settlementAnswer(performed.outcomes) : DTO.outcome(performed.outcomes[0])
    }

    /// `POST /approvals/{id}/withdraw`: the maker takes back what they prepared, while it is pending.
    @Sendable package static func withdraw(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        _ = try StrictBody(req, allowed: [])
        let approval = try await ApprovalService.withdraw(req.parameters.get("id") ?? "", by: viewer, app: req.application, address: req.remoteAddress?.ipAddress)
        return JSON.object(["approval": approval.json]).response()
    }

    @Sendable package static func reject(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        let reason = try StrictBody(req, allowed: ["reason"]).string("reason", maxLength: Limits.maxMemoLength)!
        guard !reason.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw LedgerError.invalid("reason", "say why it is rejected") }
        let approval = try await ApprovalService.reject(req.parameters.get("id") ?? "", reason: reason, by: viewer, app: req.application, address: req.remoteAddress?.ipAddress)
        return JSON.object(["approval": approval.json]).response()
    }

    /// `{rules, actions}`: the org's rules, and the actions its role can have wait. Its own
    /// people read them; the regulator and the operator read anyone's.
    @Sendable package static func rules(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        let org = try req.orgIdParameter()
        guard viewer.seesAll || viewer.orgId == org else { throw Problem(.notFound, "no such organisation") }
        let role = try await OrgQueries.role(of: org, on: req.application.sql)
        return try await rulesAnswer(org, role: role, on: req.application.sql).response()
    }

    package static func rulesAnswer(_ org: OrgID, role: OrgRole, on sql: any SQLDatabase) async throws -> JSON {
        ["rules": .array(try await ApprovalQueries.rules(of: org, on: sql).map(\.json)),
         "actions": .array(ApprovalAction.configurable(for: role).map { .string($0.rawValue) })]
    }

    /// `PUT /orgs/{id}/approval-rules {rules}`: an admin of the org sets them. Tightening takes
    /// effect at once (`200 {rules, actions}`); loosening waits for a checker (`202 {approval}`).
    @Sendable package static func setRules(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        let org = try req.orgIdParameter()
        let role = try await OrgQueries.role(of: org, on: req.application.sql)
        let rules = try ApprovalRules.parse(try StrictBody(req, allowed: ["rules"]), role: role)
        switch try await ApprovalService.setRules(rules, of: org, by: viewer, app: req.application, address: req.remoteAddress?.ipAddress) {
        case .pending(let approval): return held(approval)
        case .done: return try await rulesAnswer(org, role: role, on: req.application.sql).response()
        }
    }
}

extension Prepared where Done == Outcome {
    /// The operation's answer when it was performed, `202 {approval}` when it waits for a checker.
    package func response(status: HTTPResponseStatus = .ok) -> Response {
        switch self {
        case .done(let outcome): DTO.outcome(outcome).response(status: status)
        case .pending(let approval): ApprovalController.held(approval)
        }
    }
}
