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
        // Outstanding is the sum of the open receivables' live tokens (value is conserved), read
        // from the status index, whatever the length of the history behind them.
        var outstanding: [String: Int64] = [:]
        for row in try await sql.raw("""
            SELECT issuer_id AS org, CAST(SUM(face_fen - paid_fen) AS BIGINT) AS outstanding
            FROM receivables WHERE status IN ('pending', 'active', 'overdue') GROUP BY issuer_id
            """).all() {
            outstanding[try row.decode(column: "org", as: String.self)] = try row.decode(column: "outstanding", as: Int64.self)
        }
        let byCore = try await sql.raw("""
            SELECT o.id AS org FROM orgs o WHERE o.role = 'core' AND EXISTS (SELECT 1 FROM receivables r WHERE r.issuer_id = o.id) ORDER BY o.id
            """).all().map { row -> (String, Int64) in
                let org = try row.decode(column: "org", as: String.self)
                return (org, outstanding[org] ?? 0)
            }
        let byBank = try await sql.raw("""
            SELECT bank_id AS org, CAST(SUM(amount_fen) AS BIGINT) AS financed, CAST(SUM(amount_fen * rate_bps) AS BIGINT) AS weighted
            FROM financings WHERE status IN ('approved', 'paid') GROUP BY bank_id ORDER BY bank_id
            """).all().map { row -> (String, Int64, Int64) in
                let financed = try row.decode(column: "financed", as: Int64.self)
                return (try row.decode(column: "org", as: String.self), financed, financed > 0 ? try row.decode(column: "weighted", as: Int64.self) / financed : 0)
            }
        return Overview(outstandingByCore: byCore, financedByBank: byBank)
    }
}
