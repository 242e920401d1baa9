import Foundation
import Ledger
import SQLKit

package enum FinancingQueries {
    package static let columns = Projection.financings.columns.map { "f." + $0 }.joined(separator: ", ")

    /// Which financings the viewer may see, as a WHERE condition on `financings f`: the bank's
    /// queue, the supplier's requests, the paper of a core's receivables; all for the regulator
    /// and the operator.
    package static func visible(_ v: Viewer) -> SQLQueryString {
        switch v.role {
        case .regulator, .operator: return "1 = 1"
        case .bank: return "f.bank_id = \(bind: v.orgId.description)"
        case .supplier: return "f.supplier_id = \(bind: v.orgId.description)"
        case .core: return "EXISTS (SELECT 1 FROM receivables r WHERE r.id = f.receivable_id AND r.issuer_id = \(bind: v.orgId.description))"
        }
    }

    package static func find(_ id: TxID, visibleTo viewer: Viewer, on sql: any SQLDatabase) async throws -> Financing? {
        var query: SQLQueryString = "SELECT \(unsafeRaw: columns) FROM financings f WHERE f.id = \(bind: id.description) AND "
        query += visible(viewer)
        return try await sql.raw(query).first().map { try RowReader($0, "financings").financing }
    }
}
