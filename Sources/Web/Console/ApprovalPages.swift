import Core
import Foundation
import Ledger
import Leaf
import SQLKit
import Vapor

/// Maker-checker on the console: what waits for a checker, with who prepared it; a checker's
/// approve and reject (with a reason); and the org's rules, which its admins set.
package enum ApprovalPages: ConsoleArea {
    package struct ApprovalView: Encodable {
        package var id: String
        package var action: String
        package var actionLabel: String
        package var status: String
        package var statusLabel: String
        package var amount: String
        package var summary: String
        package var preparedBy: String
        package var preparedAt: String
        package var decidedBy: String
        package var decidedAt: String
        package var reason: String
        package var lastError: String
        package var transactionIds: [String]
    }

    package struct ListPage: Encodable {
        package var items: [ApprovalView]
        package var status: String
        package var statuses: [Choice]
    }

    package struct DetailPage: Encodable {
        package var approval: ApprovalView
        /// The viewer may decide it: a checker of its org who did not prepare it, while it is pending.
        package var canDecide: Bool
        /// The viewer prepared it and it still waits: they may withdraw it.
        package var canWithdraw: Bool
        package var form: FormState
    }

    package static func view(_ a: Approval, _ p: Presenter) -> ApprovalView {
        ApprovalView(id: a.id, action: a.action.rawValue, actionLabel: p.tr("approval_action_\(a.action.rawValue)"), status: a.status.rawValue,
                     statusLabel: p.tr("approval_status_\(a.status.rawValue)"), amount: Money.format(a.amountFen),
                     summary: p.chinese ? a.summaryZh : a.summary, preparedBy: a.preparedEmail, preparedAt: Time.local(a.preparedMs),
                     decidedBy: a.decidedEmail ?? "", decidedAt: a.decidedMs.map(Time.local) ?? "", reason: a.reason ?? "", lastError: a.lastError ?? "",
                     transactionIds: a.transactionIds)
    }

    /// `/approvals?status=`: pending by default.
    @Sendable package static func list(req: Request) async throws -> Response {
        let viewer = try await viewer(req)
        let status = try req.queryEnum("status", ApprovalStatus.self) ?? .pending
        let items = try await ApprovalQueries.list(status: status, action: nil, visibleTo: viewer, slice: Slice(limit: 500), on: req.application.sql)
        return try await render(req, "common/approvals", title: "nav_approvals", page: model(items, status: status, presenter: try await Presenter.make(req)), notice: notice(req))
    }

    /// The org's approvals in one status, with the statuses to choose from.
    package static func model(_ approvals: [Approval], status: ApprovalStatus, presenter p: Presenter) -> ListPage {
        ListPage(items: approvals.map { view($0, p) }, status: status.rawValue,
                 statuses: [ApprovalStatus.pending, .approved, .rejected].map { Choice(value: $0.rawValue, label: p.tr("approval_status_\($0.rawValue)")) })
    }

    @Sendable package static func show(req: Request) async throws -> Response { try await detail(req, form: FormState(), error: nil) }

    package static func detail(_ req: Request, form: FormState, error: String?) async throws -> Response {
        let viewer = try await viewer(req)
        let approval = try await ApprovalService.find(req.parameters.get("id") ?? "", visibleTo: viewer, app: req.application)
        let canDecide = approval.status == .pending && (try? ApprovalService.requireChecker(approval, viewer)) != nil
        let canWithdraw = approval.status == .pending && (try? ApprovalService.requireWithdrawer(approval, viewer)) != nil
        return try await render(req, "common/approval", title: "approval_title",
                                page: DetailPage(approval: view(approval, try await Presenter.make(req)), canDecide: canDecide, canWithdraw: canWithdraw, form: form),
                                status: error == nil ? .ok : form.httpStatus, notice: notice(req), error: error)
    }

    @Sendable package static func approve(req: Request) async throws -> Response {
        let id = req.parameters.get("id") ?? ""
        return try await act(req, action: "approve", next: "/approvals/\(id)", done: "approval_approved", page: { try await detail(req, form: $0, error: $1) }) { viewer, v in
            let otp = v["otp"].flatMap { $0.isEmpty ? nil : $0 }
            _ = try await ApprovalService.approve(id, by: viewer, otp: otp, app: req.application, address: req.remoteAddress?.ipAddress)
        }
    }

    @Sendable package static func reject(req: Request) async throws -> Response {
        let id = req.parameters.get("id") ?? ""
        return try await act(req, action: "reject", next: "/approvals/\(id)", done: "approval_rejected", fieldNames: ["reason": "reason"],
                             page: { try await detail(req, form: $0, error: $1) }) { viewer, v in
            guard let reason = v["reason"]?.trimmingCharacters(in: .whitespacesAndNewlines), !reason.isEmpty else { throw LedgerError.invalid("reason", "say why it is rejected") }
            guard reason.count <= Limits.maxMemoLength else { throw LedgerError.invalid("reason", "must be at most \(Limits.maxMemoLength) characters") }
            _ = try await ApprovalService.reject(id, reason: reason, by: viewer, app: req.application, address: req.remoteAddress?.ipAddress)
        }
    }

    @Sendable package static func withdraw(req: Request) async throws -> Response {
        let id = req.parameters.get("id") ?? ""
        return try await act(req, action: "withdraw", next: "/approvals/\(id)", done: "approval_withdrawn", page: { try await detail(req, form: $0, error: $1) }) { viewer, _ in
            _ = try await ApprovalService.withdraw(id, by: viewer, app: req.application, address: req.remoteAddress?.ipAddress)
        }
    }

    package struct RuleRow: Encodable {
        package var action: String
        package var label: String
        package var on: Bool
        package var minAmount: String
    }

    package struct RulesPage: Encodable {
        package var rules: [RuleRow]
        package var canEdit: Bool
        package var form: FormState
    }

    /// `/approval-rules`: the org's rules; its admins change them.
    @Sendable package static func rules(req: Request) async throws -> Response { try await rulesPage(req, form: FormState(), error: nil) }

    package static func rulesPage(_ req: Request, form: FormState, error: String?) async throws -> Response {
        let viewer = try await viewer(req)
        let rules = try await ApprovalQueries.rules(of: viewer.orgId, on: req.application.sql)
        let page = model(rules, role: viewer.role, canEdit: viewer.caller.isAdmin, form: form, presenter: try await Presenter.make(req))
        return try await render(req, "common/approval_rules", title: "approval_rules_title", page: page,
                                status: error == nil ? .ok : form.httpStatus, notice: notice(req), error: error)
    }

    /// Every action an org of `role` may have wait for a checker, on or off, from which amount.
    package static func model(_ rules: [ApprovalRule], role: OrgRole, canEdit: Bool, form: FormState, presenter p: Presenter) -> RulesPage {
        RulesPage(rules: ApprovalAction.configurable(for: role).map { action in
            let rule = rules.first { $0.action == action }
            return RuleRow(action: action.rawValue, label: p.tr("approval_action_\(action.rawValue)"), on: rule != nil,
                           minAmount: rule.map { String(Money.format($0.minAmountFen).dropFirst()) } ?? "0.00")
        }, canEdit: canEdit, form: form)
    }

    @Sendable package static func setRules(req: Request) async throws -> Response {
        try await actOrHold(req, action: "rules", next: "/approval-rules", done: "approval_rules_set", page: { try await rulesPage(req, form: $0, error: $1) }) { viewer, v in
                var rules: [JSON] = []
                for action in ApprovalAction.configurable(for: viewer.role) where v["on_\(action.rawValue)"] != nil {
                    guard let fen = YuanInput.fen(v["min_\(action.rawValue)"] ?? "0") else {
                        throw LedgerError.invalid("min_\(action.rawValue)", "must be an amount in yuan, e.g. 1,000,000.00")
                    }
                    rules.append(["action": .string(action.rawValue), "minAmountFen": .int(fen)])
                }
                let parsed = try ApprovalRules.parse(try StrictBody(fields: ["rules": .array(rules)], path: "", allowed: ["rules"]), role: viewer.role)
                return try await ApprovalService.setRules(parsed, of: viewer.orgId, by: viewer, app: req.application, address: req.remoteAddress?.ipAddress).held
            }
    }
}
