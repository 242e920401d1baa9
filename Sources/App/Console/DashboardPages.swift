import Foundation
import Ledger
import Leaf
import SQLKit
import Vapor

/// Each role's dashboard and its org's events.
enum DashboardPages: ConsoleArea {
    struct Stat: Encodable {
        var label: String
        var value: String
    }

    struct DashboardPage: Encodable {
        var stats: [Stat]
        var byTierChart: String
        var byMonthChart: String
        var events: [EventView]
        var upcoming: [ReceivableView]
    }

    struct EventView: Encodable {
        var time: String
        var type: String
        var summary: String
    }

    @Sendable static func dashboard(req: Request) async throws -> Response {
        let viewer = try await viewer(req)
        let sql = req.application.sql
        let stats = try await FeedController.totals(viewer, on: sql)
        var cards = [Stat(label: req.tr("stat_outstanding"), value: Money.format(stats.outstandingFen))]
        switch viewer.role {
        case .core, .regulator, .operator:
            cards += [Stat(label: req.tr("stat_issued"), value: Money.format(stats.issuedFen)), Stat(label: req.tr("stat_financed"), value: Money.format(stats.financedFen)),
                      Stat(label: req.tr("stat_settled"), value: Money.format(stats.settledFen)), Stat(label: req.tr("stat_overdue"), value: Money.format(stats.overdueFen))]
        case .supplier, .bank:
            cards += [Stat(label: req.tr("stat_financed"), value: Money.format(stats.financedFen)), Stat(label: req.tr("stat_settled"), value: Money.format(stats.settledFen))]
        }
        let tiers = Charts.bars(stats.byTier.map { (req.tr("tier") + " \($0.tier)", $0.outstandingFen) }, caption: req.tr("chart_by_tier"))
        let months = Charts.bars(stats.byMonth.map { ($0.month, $0.outstandingFen) }, caption: req.tr("chart_by_month"))
        let events = try await recentEvents(viewer, limit: 8, zh: req.language == "zh", on: sql)
        var receivableQuery: SQLQueryString = "SELECT \(unsafeRaw: ReceivableQueries.columns) FROM receivables r WHERE r.status IN ('pending', 'active', 'overdue') AND "
        receivableQuery += ReceivableQueries.visible(viewer)
        receivableQuery += " ORDER BY r.due_date, r.id LIMIT 6"
        let presenter = try await Presenter.make(req)
        let upcoming = try await sql.raw(receivableQuery).all().map { presenter.receivable(try RowReader($0, "receivables").receivable) }
        return try await render(req, "common/dashboard", title: "nav_dashboard",
                                page: DashboardPage(stats: cards, byTierChart: tiers, byMonthChart: months, events: events, upcoming: upcoming))
    }

    static func recentEvents(_ viewer: Viewer, limit: Int, offset: Int = 0, zh: Bool, on sql: any SQLDatabase) async throws -> [EventView] {
        try await sql.raw("SELECT seq, time_ms, type, summary, summary_zh FROM events WHERE org_id = \(bind: viewer.orgId.description) ORDER BY seq DESC LIMIT \(literal: limit) OFFSET \(literal: offset)")
            .all().map { row in
                let chinese = try row.decodeNil(column: "summary_zh") ? nil : try row.decode(column: "summary_zh", as: String.self)
                let english = try row.decode(column: "summary", as: String.self)
                return EventView(time: Time.local(try row.decode(column: "time_ms", as: Int64.self)), type: try row.decode(column: "type", as: String.self),
                                 summary: zh ? chinese ?? english : english)
            }
    }

    struct EventsPage: Encodable {
        var events: [EventView]
        var pager: Pager
    }

    @Sendable static func events(req: Request) async throws -> Response {
        let viewer = try await viewer(req)
        let number = Pager.number(req)
        let (events, pager) = Pager.make(req, number, rows: try await recentEvents(viewer, limit: Pager.size + 1, offset: (number - 1) * Pager.size,
                                                                                   zh: req.language == "zh", on: req.application.sql))
        return try await render(req, "common/events", title: "nav_events", page: EventsPage(events: events, pager: pager))
    }
}
