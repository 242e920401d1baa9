import Foundation
import Ledger
import SQLKit

/// Reads of credit lines and financings by id and viewer, for the API, the console and the
/// exports alike.
package enum CreditLineQueries {
    package static let columns = Projection.creditLines.columns.joined(separator: ", ")

    /// Which lines the viewer may see, as a WHERE condition on `credit_lines`: a bank its own
    /// grants, a core the lines granted to it, the regulator and the operator all. A supplier
    /// has no business with them.
    package static func visible(_ v: Viewer) throws -> SQLQueryString {
        switch v.role {
        case .regulator, .operator: return "1 = 1"
        case .bank: return "bank_id = \(bind: v.orgId.description)"
        case .core: return "core_id = \(bind: v.orgId.description)"
        case .supplier: throw LedgerError(.forbidden, "credit lines are between banks and core enterprises")
        }
    }

    /// Which lines a list shows: all the viewer may see, or those of one status, core or bank.
    package struct Filter: Sendable {
        package var status: CreditLineStatus?
        package var coreId: OrgID?
        package var bankId: OrgID?

        package init(status: CreditLineStatus? = nil, coreId: OrgID? = nil, bankId: OrgID? = nil) {
            self.status = status
            self.coreId = coreId
            self.bankId = bankId
        }
    }

    static func select(_ filter: Filter, visibleTo viewer: Viewer) throws -> SQLQueryString {
        var query: SQLQueryString = "SELECT \(unsafeRaw: columns) FROM credit_lines WHERE "
        query += try visible(viewer)
        if let status = filter.status { query += " AND status = \(bind: status.rawValue)" }
        if let core = filter.coreId { query += " AND core_id = \(bind: core.description)" }
        if let bank = filter.bankId { query += " AND bank_id = \(bind: bank.description)" }
        return query
    }

    /// The lines `viewer` may see, in id order, a page at a time.
    package static func list(_ filter: Filter, visibleTo viewer: Viewer, page: Page, on sql: any SQLDatabase) async throws -> Page.Rows<CreditLine> {
        try await page.rows(try select(filter, visibleTo: viewer), keys: ["id"], on: sql) { row in
            let line = try RowReader(row, "credit_lines").creditLine
            return (line, [.string(line.id.description)])
        }
    }

    /// The same list, as rows `slice` of it.
    package static func list(_ filter: Filter, visibleTo viewer: Viewer, slice: Slice, on sql: any SQLDatabase) async throws -> [CreditLine] {
        try await slice.rows(try select(filter, visibleTo: viewer), order: "id", on: sql) { try RowReader($0, "credit_lines").creditLine }
    }

    package static func find(_ id: TxID, visibleTo viewer: Viewer, on sql: any SQLDatabase) async throws -> CreditLine? {
        var query: SQLQueryString = "SELECT \(unsafeRaw: columns) FROM credit_lines WHERE id = \(bind: id.description) AND "
        query += try visible(viewer)
        return try await sql.raw(query).first().map { try RowReader($0, "credit_lines").creditLine }
    }
}
