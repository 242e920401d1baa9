import Foundation
import Ledger
import SQLKit
import Vapor

/// What happened to the caller's org, the totals it may see, and the demo clock.
enum FeedController {
    /// `GET /events?after=`: the caller's org's events in order, `{items, nextCursor}`.
    @Sendable static func events(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        var page = try Page(req, keyCount: 1)
        if page.after == nil, let after = try req.queryCount("after", "an event sequence number") {
            page.after = [.int(after)]
        }
        let query: SQLQueryString = "SELECT seq, time_ms, type, transaction_id, summary FROM events WHERE org_id = \(bind: viewer.orgId.description)"
        return try await page.run(query, keys: ["seq"], on: req.application.sql) { row in
            let seq = try row.decode(column: "seq", as: Int64.self)
            return (["seq": .int(seq), "time": .string(Time.rfc3339(try row.decode(column: "time_ms", as: Int64.self))),
                     "type": .string(try row.decode(column: "type", as: String.self)),
                     "transactionId": .string(try row.decode(column: "transaction_id", as: String.self)),
                     "summary": .string(try row.decode(column: "summary", as: String.self))], [.int(seq)])
        }.response()
    }

    struct Totals {
        var issuedFen: Int64 = 0
        var receivables: Int64 = 0
        var outstandingFen: Int64 = 0
        var financedFen: Int64 = 0
        var settledFen: Int64 = 0
        var overdueFen: Int64 = 0
        var byTier: [(tier: Int64, outstandingFen: Int64, tokens: Int64)] = []
        var byMonth: [(month: String, outstandingFen: Int64)] = []
        var byCore: [(coreId: String, issuedFen: Int64, outstandingFen: Int64)] = []
        /// Approved financings by bank and by the tier of the financed piece: amount and the
        /// amount-weighted average rate.
        var financingCost: [(bankId: String, tier: Int64, amountFen: Int64, averageRateBps: Int64)] = []
    }

    /// Totals over what `viewer` may see — every receivable for the regulator and the operator,
    /// its own receivables for a core enterprise, its own holdings and financings for a
    /// supplier or a bank.
    static func totals(_ viewer: Viewer, on sql: any SQLDatabase) async throws -> Totals {
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

    /// `GET /stats`: `{issuedFen, receivables, outstandingFen, financedFen, settledFen, overdueFen,
    /// byTier: [{tier, outstandingFen, tokens}], byMonth: [{month, outstandingFen}]}`.
    @Sendable static func stats(req: Request) async throws -> Response {
        let t = try await totals(try await req.viewer(), on: req.application.sql)
        return JSON.object([
            "issuedFen": .int(t.issuedFen), "receivables": .int(t.receivables), "outstandingFen": .int(t.outstandingFen),
            "financedFen": .int(t.financedFen), "settledFen": .int(t.settledFen), "overdueFen": .int(t.overdueFen),
            "byTier": .array(t.byTier.map { ["tier": .int($0.tier), "outstandingFen": .int($0.outstandingFen), "tokens": .int($0.tokens)] }),
            "byMonth": .array(t.byMonth.map { ["month": .string($0.month), "outstandingFen": .int($0.outstandingFen)] }),
            "byCore": .array(t.byCore.map { ["coreId": .string($0.coreId), "issuedFen": .int($0.issuedFen), "outstandingFen": .int($0.outstandingFen)] }),
            "financingCost": .array(t.financingCost.map {
                ["bankId": .string($0.bankId), "tier": .int($0.tier), "amountFen": .int($0.amountFen), "averageRateBps": .int($0.averageRateBps)]
            }),
        ]).response()
    }

    /// `POST /admin/clock {today}` (development and testing only): moves the business date
    /// forward, then runs the expiry and overdue jobs for the new date.
    @Sendable static func moveClock(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        guard viewer.role == .operator else { throw Problem(.forbidden, "only the platform operator moves the demo clock") }
        guard let clock = req.application.ledgerClock as? AdjustableClock else { throw Problem(.notFound, "no such resource") }
        let text = try StrictBody(req, allowed: ["today"]).string("today", maxLength: 10)!
        guard let day = BusinessDate(text) else { throw LedgerError.invalid("today", "must be a date YYYY-MM-DD") }
        try clock.move(to: day)
        let jobs = try await Jobs.run(req.application)
        return JSON.object(["businessDate": .string(BusinessDate(epochMs: clock.nowMs()).description), "jobsRun": .int(Int64(jobs))]).response()
    }
}

/// 穿透式监管: what an org holds, who owes it (by core enterprise), what it financed and with whom.
enum ExposureController {
    struct Exposure {
        var org: JSON
        var holdings: [(coreId: String, outstandingFen: Int64, tokens: Int64)] = []
        var financedAsSupplier: [(bankId: String, amountFen: Int64, payoutFen: Int64, count: Int64)] = []
        var financedAsBank: [(supplierId: String, amountFen: Int64, payoutFen: Int64, count: Int64)] = []
        var issuedOutstandingFen: Int64 = 0
    }

    static func exposure(of org: OrgID, on sql: any SQLDatabase) async throws -> Exposure {
        let id = org.description
        var e = Exposure(org: try await OrgController.find(org, on: sql))
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

    /// `GET /orgs/{id}/exposure`: the regulator and the operator see any org's; an org its own.
    @Sendable static func show(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        let org = try req.orgIdParameter()
        guard viewer.seesAll || viewer.orgId == org else { throw Problem(.forbidden, "an org's exposure is shown to itself, the regulator and the operator") }
        let e = try await exposure(of: org, on: req.application.sql)
        return JSON.object([
            "org": e.org, "issuedOutstandingFen": .int(e.issuedOutstandingFen),
            "holdings": .array(e.holdings.map { ["coreId": .string($0.coreId), "outstandingFen": .int($0.outstandingFen), "tokens": .int($0.tokens)] }),
            "financedAsSupplier": .array(e.financedAsSupplier.map { ["bankId": .string($0.bankId), "amountFen": .int($0.amountFen), "payoutFen": .int($0.payoutFen), "count": .int($0.count)] }),
            "financedAsBank": .array(e.financedAsBank.map { ["supplierId": .string($0.supplierId), "amountFen": .int($0.amountFen), "payoutFen": .int($0.payoutFen), "count": .int($0.count)] }),
        ]).response()
    }
}
