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
}
