import Core
import Foundation
import Ledger
import Leaf
import SQLKit
import Vapor

/// The audit log: all of it for the operator and the regulator; its own org's for an org's admin.
package enum AuditPages: ConsoleArea {
    package struct AuditRow: Encodable {
        package var time: String
        package var action: String
        package var email: String
        package var address: String
        package var detail: String
    }

    package struct AuditPage: Encodable {
        package var rows: [AuditRow]
        package var action: String
        package var actions: [String]
        package var pager: Pager
    }

    @Sendable package static func audit(req: Request) async throws -> Response {
        let viewer = try await viewer(req)
        let action = try req.queryText("action", maxLength: 40, emptyIsAbsent: true) ?? ""
        let number = Pager.number(req)
        let entries = try await AuditLog.entries(action: action.isEmpty ? nil : action, visibleTo: viewer, slice: Pager.slice(number), on: req.application.sql)
        let (rows, pager) = Pager.make(req, number, rows: entries)
        let actions = try await AuditLog.actions(visibleTo: viewer, on: req.application.sql)
        return try await render(req, "operator/audit", title: "audit_title", page: model(rows, action: action, actions: actions, pager: pager))
    }

    /// A page of the audit log, filtered by `action` when one is chosen.
    package static func model(_ entries: [AuditLog.Recorded], action: String, actions: [String], pager: Pager) -> AuditPage {
        AuditPage(rows: entries.map { AuditRow(time: Time.local($0.timeMs), action: $0.action, email: $0.email ?? "", address: $0.address ?? "", detail: $0.detail) },
                  action: action, actions: actions, pager: pager)
    }
}
