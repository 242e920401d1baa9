import Core
import Foundation
import Ledger
import Leaf
import SQLKit
import Vapor

/// Each role's dashboard and its org's events.
package enum DashboardPages: ConsoleArea {
    package struct Stat: Encodable {
        package var label: String
        package var value: String
    }

    package struct DashboardPage: Encodable {
        package var stats: [Stat]
        package var byTierChart: String
        package var byMonthChart: String
        package var events: [EventView]
        package var upcoming: [ReceivableView]
    }

    package struct EventView: Encodable {
        package var time: String
        package var type: String
        package var summary: String
    }

    @Sendable package static func dashboard(req: Request) async throws -> Response {
        let viewer = try await viewer(req)
        let sql = req.application.sql
        let stats = try await StatsQueries.totals(for: viewer, on: sql)
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
        let presenter = try await Presenter.make(req)
        let upcoming = try await ReceivableQueries.list(.init(statuses: [.pending, .active, .overdue]), visibleTo: viewer, slice: Slice(limit: 6), on: sql)
            .map(presenter.receivable)
        return try await render(req, "common/dashboard", title: "nav_dashboard",
                                page: DashboardPage(stats: cards, byTierChart: tiers, byMonthChart: months, events: events, upcoming: upcoming))
    }

    package static func recentEvents(_ viewer: Viewer, limit: Int, offset: Int = 0, zh: Bool, on sql: any SQLDatabase) async throws -> [EventView] {
        try await EventQueries.latest(for: viewer, limit: limit, offset: offset, on: sql).map {
            EventView(time: Time.local($0.timeMs), type: $0.type, summary: $0.summary(chinese: zh))
        }
    }

    package struct EventsPage: Encodable {
        package var events: [EventView]
        package var pager: Pager
    }

    @Sendable package static func events(req: Request) async throws -> Response {
        let viewer = try await viewer(req)
        let number = Pager.number(req)
        let (events, pager) = Pager.make(req, number, rows: try await recentEvents(viewer, limit: Pager.size + 1, offset: (number - 1) * Pager.size,
                                                                                   zh: req.language == "zh", on: req.application.sql))
        return try await render(req, "common/events", title: "nav_events", page: EventsPage(events: events, pager: pager))
    }
}
