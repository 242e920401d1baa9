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
        if page.after == nil, let after = try req.queryText("after", maxLength: 19) {
            guard let n = Int64(after), n >= 0 else { throw LedgerError.invalid("after", "must be an event sequence number, 0 or more") }
            page.after = [.int(n)]
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

    /// `GET /stats`: totals over what the caller may see — every receivable for the regulator
    /// and the operator, its own receivables for a core enterprise, its own holdings and
    /// financings for a supplier or a bank. `{issuedFen, outstandingFen, financedFen, settledFen,
    /// overdueFen, receivables, byTier: [{tier, outstandingFen, tokens}]}`.
    @Sendable static func stats(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        let sql = req.application.sql
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
        func sum(_ query: SQLQueryString) async throws -> Int64 {
            guard let row = try await sql.raw(query).first(), !(try row.decodeNil(column: "total")) else { return 0 }
            return try row.decode(column: "total", as: Int64.self)
        }
        let live = "('pending', 'active', 'locked')"
        var issued: SQLQueryString = "SELECT CAST(SUM(r.face_fen) AS BIGINT) AS total FROM receivables r WHERE r.status <> 'rejected' AND "
        issued += receivableScope
        var count: SQLQueryString = "SELECT COUNT(*) AS total FROM receivables r WHERE "
        count += receivableScope
        var outstanding: SQLQueryString = "SELECT CAST(SUM(t.amount_fen) AS BIGINT) AS total FROM tokens t JOIN receivables r ON r.id = t.receivable_id WHERE t.status IN \(unsafeRaw: live) AND "
        outstanding += tokenScope
        var settled: SQLQueryString = "SELECT CAST(SUM(t.amount_fen) AS BIGINT) AS total FROM tokens t JOIN receivables r ON r.id = t.receivable_id WHERE t.status = 'settled' AND "
        settled += tokenScope
        var overdue: SQLQueryString = "SELECT CAST(SUM(t.amount_fen) AS BIGINT) AS total FROM tokens t JOIN receivables r ON r.id = t.receivable_id WHERE t.status IN \(unsafeRaw: live) AND r.status = 'overdue' AND "
        overdue += tokenScope
        var financed: SQLQueryString = "SELECT CAST(SUM(f.amount_fen) AS BIGINT) AS total FROM financings f WHERE f.status IN ('approved', 'paid') AND "
        financed += FinancingController.visible(viewer)
        var tiers: SQLQueryString = "SELECT t.tier AS tier, CAST(SUM(t.amount_fen) AS BIGINT) AS total, COUNT(*) AS n FROM tokens t JOIN receivables r ON r.id = t.receivable_id WHERE t.status IN \(unsafeRaw: live) AND "
        tiers += tokenScope
        tiers += " GROUP BY t.tier ORDER BY t.tier"
        let byTier: [JSON] = try await sql.raw(tiers).all().map {
            ["tier": .int(try $0.decode(column: "tier", as: Int64.self)), "outstandingFen": .int(try $0.decode(column: "total", as: Int64.self)),
             "tokens": .int(try $0.decode(column: "n", as: Int64.self))]
        }
        return JSON.object([
            "issuedFen": .int(try await sum(issued)), "receivables": .int(try await sum(count)), "outstandingFen": .int(try await sum(outstanding)),
            "financedFen": .int(try await sum(financed)), "settledFen": .int(try await sum(settled)), "overdueFen": .int(try await sum(overdue)),
            "byTier": .array(byTier),
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
