import Foundation
import Ledger
import SQLKit

/// 穿透式监管: what an org holds, who owes it (by core enterprise), what it financed and with
/// whom. Shown to the org itself, the regulator and the operator.
package enum ExposureQueries {
    package struct Exposure {
        package var org: JSON
        package var holdings: [(coreId: String, outstandingFen: Int64, tokens: Int64)] = []
        package var financedAsSupplier: [(bankId: String, amountFen: Int64, payoutFen: Int64, count: Int64)] = []
        package var financedAsBank: [(supplierId: String, amountFen: Int64, payoutFen: Int64, count: Int64)] = []
        package var issuedOutstandingFen: Int64 = 0
    }

    /// The exposure of `org`, which `viewer` must be (or be the regulator or the operator).
    package static func exposure(of org: OrgID, for viewer: Viewer, on sql: any SQLDatabase) async throws -> Exposure {
        guard viewer.seesAll || viewer.orgId == org else { throw LedgerError(.forbidden, "an org's exposure is shown to itself, the regulator and the operator") }
        let id = org.description
        var e = Exposure(org: try await OrgQueries.find(org, on: sql))
        e.holdings = try await sql.raw("""
            SELECT r.issuer_id AS core, CAST(SUM(t.amount_fen) AS BIGINT) AS total, COUNT(*) AS n FROM tokens t JOIN receivables r ON r.id = t.receivable_id
            WHERE t.holder_id = \(bind: id) AND t.status IN ('pending', 'active', 'locked') GROUP BY r.issuer_id ORDER BY r.issuer_id
            """).all().map { (try $0.decode(column: "core", as: String.self), try $0.decode(column: "total", as: Int64.self), try $0.decode(column: "n", as: Int64.self)) }
        func financed(_ column: String, _ other: String) async throws -> [(String, Int64, Int64, Int64)] {
            try await sql.raw("""
                SELECT \(ident: other) AS other, CAST(SUM(amount_fen) AS BIGINT) AS total, CAST(SUM(payout_fen) AS BIGINT) AS payout, COUNT(*) AS n FROM financings
                WHERE \(ident: column) = \(bind: id) AND status IN ('approved', 'paid') GROUP BY \(ident: other) ORDER BY \(ident: other)
                """).all().map {
                (try $0.decode(column: "other", as: String.self), try $0.decode(column: "total", as: Int64.self), try $0.decode(column: "payout", as: Int64.self),
                 try $0.decode(column: "n", as: Int64.self))
            }
        }
        e.financedAsSupplier = try await financed("supplier_id", "bank_id")
        e.financedAsBank = try await financed("bank_id", "supplier_id")
        e.issuedOutstandingFen = try await sql.totalFen("""
            SELECT CAST(SUM(t.amount_fen) AS BIGINT) AS total FROM tokens t JOIN receivables r ON r.id = t.receivable_id
            WHERE r.issuer_id = \(bind: id) AND t.status IN ('pending', 'active', 'locked')
            """)
        return e
    }
}
