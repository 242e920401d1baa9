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
        let scope = try viewer.auditScope()
        let action = try req.queryText("action", maxLength: 40, emptyIsAbsent: true) ?? ""
        var query: SQLQueryString = "SELECT time_ms, action, email, address, detail FROM audit_log WHERE "
        query += scope
        if !action.isEmpty { query += " AND action = \(bind: action)" }
        let number = Pager.number(req)
        query += " ORDER BY seq DESC"
        query += Pager.sql(number)
        func text(_ row: any SQLRow, _ c: String) throws -> String { try row.decodeNil(column: c) ? "" : try row.decode(column: c, as: String.self) }
        let (rows, pager) = Pager.make(req, number, rows: try await req.application.sql.raw(query).all().map {
            AuditRow(time: Time.local(try $0.decode(column: "time_ms", as: Int64.self)), action: try text($0, "action"), email: try text($0, "email"),
                     address: try text($0, "address"), detail: try text($0, "detail"))
        })
        var distinct: SQLQueryString = "SELECT DISTINCT action FROM audit_log WHERE "
        distinct += scope
        distinct += " ORDER BY action"
        let actions = try await req.application.sql.raw(distinct).all().map { try $0.decode(column: "action", as: String.self) }
        return try await render(req, "operator/audit", title: "audit_title", page: AuditPage(rows: rows, action: action, actions: actions, pager: pager))
    }
}
