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

    package static func find(_ id: TxID, visibleTo viewer: Viewer, on sql: any SQLDatabase) async throws -> CreditLine? {
        var query: SQLQueryString = "SELECT \(unsafeRaw: columns) FROM credit_lines WHERE id = \(bind: id.description) AND "
        query += try visible(viewer)
        return try await sql.raw(query).first().map { try RowReader($0, "credit_lines").creditLine }
    }
}
