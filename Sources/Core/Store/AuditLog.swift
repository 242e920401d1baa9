import Foundation
import Ledger
import SQLKit

/// Who did what outside the chain: sign-ins (and failed ones, with the address), API keys made
/// and revoked, users added; and, from the chain, policy changes and suspensions.
package enum AuditLog {
    package struct Entry {
        package var action: String
        package var orgId: OrgID? = nil
        package var userId: String? = nil
        package var email: String? = nil
        package var address: String? = nil
        package var detail: String

        package init(action: String, orgId: OrgID? = nil, userId: String? = nil, email: String? = nil, address: String? = nil, detail: String) {
            self.action = action
            self.orgId = orgId
            self.userId = userId
            self.email = email
            self.address = address
            self.detail = detail
        }
    }

    package static func record(_ e: Entry, nowMs: Int64, on db: any SQLDatabase) async throws {
        // Requests write here at the same time, outside the writer: the database numbers the rows.
        try await db.insert(into: "audit_log").columns("time_ms", "action", "org_id", "user_id", "email", "address", "detail")
            .values(SQLBind(nowMs), SQLBind(e.action), e.orgId.map { SQLBind($0.description) } ?? SQLBind(String?.none),
                    SQLBind(e.userId), SQLBind(e.email), SQLBind(e.address), SQLBind(e.detail))
            .run()
    }

    /// An entry as it was recorded, numbered in order.
    package struct Recorded: Sendable {
        package var seq: Int64
        package var timeMs: Int64
        package var action: String
        package var orgId: String?
        package var userId: String?
        package var email: String?
        package var address: String?
        package var detail: String
    }

    static func select(action: String?, visibleTo viewer: Viewer) throws -> SQLQueryString {
        var query: SQLQueryString = "SELECT seq, time_ms, action, org_id, user_id, email, address, detail FROM audit_log WHERE "
        query += try viewer.auditScope()
        if let action { query += " AND action = \(bind: action)" }
        return query
    }

    static func recorded(_ row: any SQLRow) throws -> Recorded {
        Recorded(seq: try row.decode(column: "seq", as: Int64.self), timeMs: try row.decode(column: "time_ms", as: Int64.self),
                 action: try row.decode(column: "action", as: String.self), orgId: try row.decode(column: "org_id", as: String?.self),
                 userId: try row.decode(column: "user_id", as: String?.self), email: try row.decode(column: "email", as: String?.self),
                 address: try row.decode(column: "address", as: String?.self), detail: try row.decode(column: "detail", as: String?.self) ?? "")
    }

    /// The entries `viewer` may read (see `Viewer.auditScope`), of one action or all, newest first.
    package static func entries(action: String?, visibleTo viewer: Viewer, slice: Slice, on sql: any SQLDatabase) async throws -> [Recorded] {
        try await slice.rows(try select(action: action, visibleTo: viewer), order: "seq DESC", on: sql, recorded)
    }

    /// The same entries in the order they were recorded, a page at a time: the export.
    package static func entries(action: String?, visibleTo viewer: Viewer, page: Page, on sql: any SQLDatabase) async throws -> Page.Rows<Recorded> {
        try await page.rows(try select(action: action, visibleTo: viewer), keys: ["seq"], on: sql) { row in
            let entry = try recorded(row)
            return (entry, [.int(entry.seq)])
        }
    }

    /// The actions among the entries `viewer` may read, for a filter to offer.
    package static func actions(visibleTo viewer: Viewer, on sql: any SQLDatabase) async throws -> [String] {
        var query: SQLQueryString = "SELECT DISTINCT action FROM audit_log WHERE "
        query += try viewer.auditScope()
        query += " ORDER BY action"
        return try await sql.raw(query).all().map { try $0.decode(column: "action", as: String.self) }
    }
}
