import Foundation
import Ledger
import SQLKit

/// The figures of the API's `/stats`, the dashboards and the regulator's overview, over what the
/// viewer may see.
package enum StatsQueries {
    package struct Totals {
        package var issuedFen: Int64 = 0
        package var receivables: Int64 = 0
        package var outstandingFen: Int64 = 0
        package var financedFen: Int64 = 0
        package var settledFen: Int64 = 0
        package var overdueFen: Int64 = 0
        package var byTier: [(tier: Int64, outstandingFen: Int64, tokens: Int64)] = []
        package var byMonth: [(month: String, outstandingFen: Int64)] = []
        package var byCore: [(coreId: String, issuedFen: Int64, outstandingFen: Int64)] = []
        /// Approved financings by bank and by the tier of the financed piece: amount and the
        /// amount-weighted average rate.
        package var financingCost: [(bankId: String, tier: Int64, amountFen: Int64, averageRateBps: Int64)] = []
    }

    /// Totals over what `viewer` may see — every receivable for the regulator and the operator,
    /// its own receivables for a core enterprise, its own holdings and financings for a
    /// supplier or a bank.
    package static func totals(for viewer: Viewer, on sql: any SQLDatabase) async throws -> Totals {
        let me = viewer.orgId.description
        var receivableScope: SQLQueryString = "1 = 1", tokenScope: SQLQueryString = "1 = 1"
        switch viewer.role {
        case .regulator, .operator: break
        case .core:
            receivableScope = "r.issuer_id = \(bind: me)"
            tokenScope = "r.issuer_id = \(bind: me)"
        case .supplier, .bank:
            receivableScope = "EXISTS (SELECT 1 FROM tokens h WHERE h.receivable_id = r.id AND h.holder_id = \(bind: me))"
            tokenScope = "t.holder_id = \(bind: me)"
        }
        let live = "('pending', 'active', 'locked')"
        let tokens: SQLQueryString = "FROM tokens t JOIN receivables r ON r.id = t.receivable_id WHERE "
        var t = Totals()
        t.issuedFen = try await sql.totalFen("SELECT CAST(SUM(r.face_fen) AS BIGINT) AS total FROM receivables r WHERE r.status <> 'rejected' AND " + receivableScope)
        t.receivables = try await sql.totalFen("SELECT COUNT(*) AS total FROM receivables r WHERE " + receivableScope)
        t.outstandingFen = try await sql.totalFen("SELECT CAST(SUM(t.amount_fen) AS BIGINT) AS total " + tokens + "t.status IN \(unsafeRaw: live) AND " + tokenScope)
        t.settledFen = try await sql.totalFen("SELECT CAST(SUM(t.amount_fen) AS BIGINT) AS total " + tokens + "t.status = 'settled' AND " + tokenScope)
        t.overdueFen = try await sql.totalFen("SELECT CAST(SUM(t.amount_fen) AS BIGINT) AS total " + tokens + "t.status IN \(unsafeRaw: live) AND r.status = 'overdue' AND " + tokenScope)
        t.financedFen = try await sql.totalFen("SELECT CAST(SUM(f.amount_fen) AS BIGINT) AS total FROM financings f WHERE f.status IN ('approved', 'paid') AND " + FinancingQueries.visible(viewer))
        t.byTier = try await sql.raw("SELECT t.tier AS tier, CAST(SUM(t.amount_fen) AS BIGINT) AS total, COUNT(*) AS n " + tokens + "t.status IN \(unsafeRaw: live) AND "
                                     + tokenScope + " GROUP BY t.tier ORDER BY t.tier").all().map {
            (try $0.decode(column: "tier", as: Int64.self), try $0.decode(column: "total", as: Int64.self), try $0.decode(column: "n", as: Int64.self))
        }
        t.byMonth = try await sql.raw("SELECT SUBSTR(r.due_date, 1, 7) AS month, CAST(SUM(t.amount_fen) AS BIGINT) AS total " + tokens + "t.status IN \(unsafeRaw: live) AND "
                                      + tokenScope + " GROUP BY SUBSTR(r.due_date, 1, 7) ORDER BY month").all().map {
            (try $0.decode(column: "month", as: String.self), try $0.decode(column: "total", as: Int64.self))
        }
        t.byCore = try await sql.raw("SELECT r.issuer_id AS core, CAST(SUM(CASE WHEN r.status <> 'rejected' THEN r.face_fen ELSE 0 END) AS BIGINT) AS issued, "
                                     + "CAST(SUM(r.face_fen - r.paid_fen) AS BIGINT) AS open FROM receivables r WHERE r.status IN ('pending', 'active', 'overdue', 'settled') AND "
                                     + receivableScope + " GROUP BY r.issuer_id ORDER BY r.issuer_id").all().map {
            (try $0.decode(column: "core", as: String.self), try $0.decode(column: "issued", as: Int64.self), try $0.decode(column: "open", as: Int64.self))
        }
        t.financingCost = try await sql.raw("SELECT f.bank_id AS bank, t.tier AS tier, CAST(SUM(f.amount_fen) AS BIGINT) AS total, CAST(SUM(f.amount_fen * f.rate_bps) AS BIGINT) AS weighted "
                                            + "FROM financings f JOIN tokens t ON t.id = f.token_id WHERE f.status IN ('approved', 'paid') AND " + FinancingQueries.visible(viewer)
                                            + " GROUP BY f.bank_id, t.tier ORDER BY f.bank_id, t.tier").all().map {
            let total = try $0.decode(column: "total", as: Int64.self)
            return (try $0.decode(column: "bank", as: String.self), try $0.decode(column: "tier", as: Int64.self), total,
                    total > 0 ? try $0.decode(column: "weighted", as: Int64.self) / total : 0)
        }
        return t
    }

    /// The regulator's overview: what each core that has issued still owes (its open
    /// receivables' face less what was paid), and each bank's approved financing with its
    /// amount-weighted rate. For the regulator and the operator.
    package struct Overview: Sendable {
        package var outstandingByCore: [(coreId: String, outstandingFen: Int64)]
        package var financedByBank: [(bankId: String, amountFen: Int64, averageRateBps: Int64)]
    }

    package static func overview(for viewer: Viewer, on sql: any SQLDatabase) async throws -> Overview {
        guard viewer.seesAll else { throw LedgerError(.forbidden, "the overview is for the regulator and the operator") }
        // Each org's totals as the database keeps them (`org_totals`, a row per org that has
        // issued or been asked to finance): what the page reads does not grow with history.
        let byCore = try await sql.raw("""
            SELECT s.org_id AS org, s.outstanding_fen AS outstanding FROM org_totals s JOIN orgs o ON o.id = s.org_id
            WHERE o.role = 'core' ORDER BY s.org_id
            """).all().map { (try $0.decode(column: "org", as: String.self), try $0.decode(column: "outstanding", as: Int64.self)) }
        let byBank = try await sql.raw("""
            SELECT org_id AS org, financed_fen AS financed, CAST(financed_rate AS TEXT) AS rate FROM org_totals WHERE financed_fen > 0 ORDER BY org_id
            """).all().map { row -> (String, Int64, Int64) in
                let financed = try row.decode(column: "financed", as: Int64.self)
                return (try row.decode(column: "org", as: String.self), financed, try averageRate(try row.decode(column: "rate", as: String.self), over: financed))
            }
        return Overview(outstandingByCore: byCore, financedByBank: byBank)
    }

    /// Σ amount × rate over `amountFen`, rounded down to a whole basis point. The sum is kept as
    /// a number wider than 64 bits (one financing of the largest amount at the highest rate
    /// would not fit), and read here as its decimal text.
    static func averageRate(_ weightedSum: String, over amountFen: Int64) throws -> Int64 {
        guard amountFen > 0 else { return 0 }
        guard var sum = Decimal(string: weightedSum) else { throw StoreDamage("org_totals.financed_rate \(weightedSum)") }
        var quotient = Decimal(), rounded = Decimal()
        var divisor = Decimal(amountFen)
        _ = NSDecimalDivide(&quotient, &sum, &divisor, .plain)
        NSDecimalRound(&rounded, &quotient, 0, .down)
        return NSDecimalNumber(decimal: rounded).int64Value
    }
}
