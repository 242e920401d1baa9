import Core
import Foundation
import Ledger
import SQLKit
import Vapor

/// What happened to the caller's org, the totals it may see, and the demo clock.
package enum FeedController {
    /// `GET /events?after=`: the caller's org's events in order, `{items, nextCursor}`.
    @Sendable package static func events(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        var page = try Page(req, keyCount: 1)
        if page.after == nil, let after = try req.queryCount("after", "an event sequence number") {
            page.after = [.int(after)]
        }
        return try await EventQueries.inOrder(for: viewer, page: page, on: req.application.sql).json { e in
            ["seq": .int(e.seq), "time": .string(Time.rfc3339(e.timeMs)), "type": .string(e.type), "transactionId": .string(e.transactionId),
             "summary": .string(e.summary)]
        }.response()
    }

    /// `GET /stats`: `{issuedFen, receivables, outstandingFen, financedFen, settledFen, overdueFen,
    /// byTier: [{tier, outstandingFen, tokens}], byMonth: [{month, outstandingFen}]}`.
    @Sendable package static func stats(req: Request) async throws -> Response {
        let t = try await StatsQueries.totals(for: try await req.viewer(), on: req.application.sql)
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
    @Sendable package static func moveClock(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        guard viewer.role == .operator else { throw Problem(.forbidden, "only the platform operator moves the demo clock") }
        guard let clock = req.application.ledgerClock as? AdjustableClock else { throw Problem(.notFound, "no such resource") }
        let text = try StrictBody(req, allowed: ["today"]).string("today", maxLength: 10)!
        guard let day = BusinessDate(text) else { throw LedgerError.invalid("today", "must be a date YYYY-MM-DD") }
        try clock.move(to: day)
        let jobs = try await Jobs.run(req.application) + (try await EarlyPaymentService.clearDue(req.application))
        return JSON.object(["businessDate": .string(BusinessDate(epochMs: clock.nowMs()).description), "jobsRun": .int(Int64(jobs))]).response()
    }
}
