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
        let presenter = try await Presenter.make(req)
        let page = model(role: viewer.role, totals: try await StatsQueries.totals(for: viewer, on: sql),
                         events: try await EventQueries.latest(for: viewer, limit: 8, offset: 0, on: sql),
                         upcoming: try await ReceivableQueries.list(.init(statuses: [.pending, .active, .overdue]), visibleTo: viewer, slice: Slice(limit: 6), on: sql),
                         presenter: presenter)
        return try await render(req, "common/dashboard", title: "nav_dashboard", page: page)
    }

    /// The dashboard of an org of `role`: its totals as cards and charts, its latest events and
    /// the receivables due next, in the presenter's language.
    package static func model(role: OrgRole, totals stats: StatsQueries.Totals, events: [EventQueries.Event], upcoming: [Receivable],
                              presenter: Presenter) -> DashboardPage {
        let tr = presenter.tr
        var cards = [Stat(label: tr("stat_outstanding"), value: Money.format(stats.outstandingFen))]
        switch role {
        case .core, .regulator, .operator:
            cards += [Stat(label: tr("stat_issued"), value: Money.format(stats.issuedFen)), Stat(label: tr("stat_financed"), value: Money.format(stats.financedFen)),
                      Stat(label: tr("stat_settled"), value: Money.format(stats.settledFen)), Stat(label: tr("stat_overdue"), value: Money.format(stats.overdueFen))]
        case .supplier, .bank:
            cards += [Stat(label: tr("stat_financed"), value: Money.format(stats.financedFen)), Stat(label: tr("stat_settled"), value: Money.format(stats.settledFen))]
        }
        return DashboardPage(stats: cards,
                             byTierChart: Charts.bars(stats.byTier.map { (tr("tier") + " \($0.tier)", $0.outstandingFen) }, caption: tr("chart_by_tier")),
                             byMonthChart: Charts.bars(stats.byMonth.map { ($0.month, $0.outstandingFen) }, caption: tr("chart_by_month")),
                             events: events.map { eventView($0, chinese: presenter.chinese) }, upcoming: upcoming.map(presenter.receivable))
    }

    package static func eventView(_ e: EventQueries.Event, chinese: Bool) -> EventView {
        EventView(time: Time.local(e.timeMs), type: e.type, summary: e.summary(chinese: chinese))
    }

    package static func recentEvents(_ viewer: Viewer, limit: Int, offset: Int = 0, zh: Bool, on sql: any SQLDatabase) async throws -> [EventView] {
        try await EventQueries.latest(for: viewer, limit: limit, offset: offset, on: sql).map { eventView($0, chinese: zh) }
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
