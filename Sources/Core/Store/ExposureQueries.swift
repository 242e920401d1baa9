import Foundation
import Ledger
import SQLKit

/// 穿透式监管: what an org holds, who owes it (by core enterprise), what it financed and with
/// whom. Shown to the org itself, the regulator and the operator.
package enum ExposureQueries {
    package struct Exposure {
        package var org: JSON
        package var holdings: [(coreId: String, outstandingFen: Int64, tokens: Int64)] = []
        /// By bank, what the org financed; by supplier, what a bank financed.
        package var financedAsSupplier: [Financed] = []
        package var financedAsBank: [Financed] = []
        package var issuedOutstandingFen: Int64 = 0
        /// A supplier's contingent liability: its financings with recourse (有追索权) whose
        /// piece the core enterprise has not yet paid the bank.
        package var contingentFen: Int64 = 0
    }

    /// Approved or paid financings with one counterparty: their amount, of it with recourse, and payout.
    package struct Financed {
        package var counterparty: String
        package var amountFen: Int64
        package var recourseFen: Int64
        package var payoutFen: Int64
        package var count: Int64
        package var withoutRecourseFen: Int64 { amountFen - recourseFen }
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
        func financed(_ column: String, _ other: String) async throws -> [Financed] {
            try await sql.raw("""
                SELECT \(ident: other) AS other, CAST(SUM(amount_fen) AS BIGINT) AS total, CAST(SUM(CASE WHEN recourse = 1 THEN amount_fen ELSE 0 END) AS BIGINT) AS recourse,
                       CAST(SUM(payout_fen) AS BIGINT) AS payout, COUNT(*) AS n FROM financings
                WHERE \(ident: column) = \(bind: id) AND status IN ('approved', 'paid') GROUP BY \(ident: other) ORDER BY \(ident: other)
                """).all().map {
                Financed(counterparty: try $0.decode(column: "other", as: String.self), amountFen: try $0.decode(column: "total", as: Int64.self),
                         recourseFen: try $0.decode(column: "recourse", as: Int64.self), payoutFen: try $0.decode(column: "payout", as: Int64.self),
                         count: try $0.decode(column: "n", as: Int64.self))
            }
        }
        e.financedAsSupplier = try await financed("supplier_id", "bank_id")
        e.financedAsBank = try await financed("bank_id", "supplier_id")
        e.issuedOutstandingFen = try await sql.totalFen("""
            SELECT CAST(SUM(t.amount_fen) AS BIGINT) AS total FROM tokens t JOIN receivables r ON r.id = t.receivable_id
            WHERE r.issuer_id = \(bind: id) AND t.status IN ('pending', 'active', 'locked')
            """)
        e.contingentFen = try await sql.totalFen("""
            SELECT CAST(SUM(f.amount_fen) AS BIGINT) AS total FROM financings f JOIN tokens t ON t.id = f.bank_token_id
            WHERE f.supplier_id = \(bind: id) AND f.recourse = 1 AND f.status IN ('approved', 'paid') AND t.status IN ('active', 'locked')
            """)
        return e
    }
}
