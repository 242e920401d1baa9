import Foundation
import Ledger
import SQLKit

/// The operations held for a checker: an org sees its own; the regulator and the operator every org's.
package enum ApprovalQueries {
    static func select(status: ApprovalStatus?, action: ApprovalAction?, visibleTo viewer: Viewer) -> SQLQueryString {
        var query: SQLQueryString = "SELECT \(unsafeRaw: Approval.columns) FROM approvals WHERE "
        query += viewer.seesAll ? "1 = 1" : "org_id = \(bind: viewer.orgId.description)"
        if let status { query += " AND status = \(bind: status.rawValue)" }
        if let action { query += " AND action = \(bind: action.rawValue)" }
        return query
    }

    /// Newest first, a page at a time.
    package static func list(status: ApprovalStatus?, action: ApprovalAction?, visibleTo viewer: Viewer, page: Page, on sql: any SQLDatabase) async throws -> Page.Rows<Approval> {
        try await page.rows(select(status: status, action: action, visibleTo: viewer), keys: ["prepared_ms", "id"], descending: true, on: sql) { row in
            let approval = try Approval(row: row)
            return (approval, [.int(approval.preparedMs), .string(approval.id)])
        }
    }

    /// The same list, as rows `slice` of it.
    package static func list(status: ApprovalStatus?, action: ApprovalAction?, visibleTo viewer: Viewer, slice: Slice, on sql: any SQLDatabase) async throws -> [Approval] {
        try await slice.rows(select(status: status, action: action, visibleTo: viewer), order: "prepared_ms DESC, id", on: sql) { try Approval(row: $0) }
    }

    /// Approval `id`, of `org` when one is named; 404 otherwise.
    package static func find(_ id: String, org: OrgID?, on sql: any SQLDatabase) async throws -> Approval {
        var query: SQLQueryString = "SELECT \(unsafeRaw: Approval.columns) FROM approvals WHERE id = \(bind: id)"
        if let org { query += " AND org_id = \(bind: org.description)" }
        guard let row = try await sql.raw(query).first() else { throw LedgerError(.notFound, "no such approval") }
        return try Approval(row: row)
    }

    /// Every approval being performed (`approving`).
    package static func approving(on sql: any SQLDatabase) async throws -> [Approval] {
        try await sql.raw("SELECT \(unsafeRaw: Approval.columns) FROM approvals WHERE status = 'approving' ORDER BY id").all().map(Approval.init(row:))
    }

    /// The org's rules: which actions wait for a checker, from which amount.
    package static func rules(of org: OrgID, on sql: any SQLDatabase) async throws -> [ApprovalRule] {
        try await sql.raw("SELECT action, min_amount_fen FROM approval_rules WHERE org_id = \(bind: org.description) ORDER BY action").all().compactMap { row in
            guard let action = ApprovalAction(rawValue: try row.decode(column: "action", as: String.self)) else { return nil }
            return ApprovalRule(action: action, minAmountFen: try row.decode(column: "min_amount_fen", as: Int64.self))
        }
    }
}
