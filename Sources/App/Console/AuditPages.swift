import Foundation
import Ledger
import Leaf
import SQLKit
import Vapor

/// The audit log (operator, regulator).
enum AuditPages: ConsoleArea {
    struct AuditRow: Encodable {
        var time: String
        var action: String
        var email: String
        var address: String
        var detail: String
    }

    struct AuditPage: Encodable {
        var rows: [AuditRow]
        var action: String
        var actions: [String]
        var pager: Pager
    }

    @Sendable static func audit(req: Request) async throws -> Response {
        let viewer = try await viewer(req)
        guard viewer.seesAll else { throw Problem(.forbidden, "the audit log is for the operator and the regulator") }
        let action = try req.queryText("action", maxLength: 40, emptyIsAbsent: true) ?? ""
        var query: SQLQueryString = "SELECT time_ms, action, email, address, detail FROM audit_log"
        if !action.isEmpty { query += " WHERE action = \(bind: action)" }
        let number = Pager.number(req)
        query += " ORDER BY seq DESC"
        query += Pager.sql(number)
        func text(_ row: any SQLRow, _ c: String) throws -> String { try row.decodeNil(column: c) ? "" : try row.decode(column: c, as: String.self) }
        let (rows, pager) = Pager.make(req, number, rows: try await req.application.sql.raw(query).all().map {
            AuditRow(time: Time.local(try $0.decode(column: "time_ms", as: Int64.self)), action: try text($0, "action"), email: try text($0, "email"),
                     address: try text($0, "address"), detail: try text($0, "detail"))
        })
        let actions = try await req.application.sql.raw("SELECT DISTINCT action FROM audit_log ORDER BY action").all().map { try $0.decode(column: "action", as: String.self) }
        return try await render(req, "operator/audit", title: "audit_title", page: AuditPage(rows: rows, action: action, actions: actions, pager: pager))
    }
}
