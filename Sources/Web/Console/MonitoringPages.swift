import Core
import Foundation
import Ledger
import Vapor

/// 监测, for the regulator and the operator: the lists of `MonitoringQueries`, by name.
package enum MonitoringPages: ConsoleArea {
    package struct Line: Encodable {
        package var link: String
        package var label: String
        package var who: String
        package var figure: String
        package var detail: String
        package var flagged: Bool
    }

    package struct MonitoringPage: Encodable {
        package var alertTier: Int64
        package var alertPiecesPerDay: Int64
        package var since: String
        package var inDefault: [Line]
        package var termReviews: [Line]
        package var unfiledCount: Int64
        package var unfiled: [Line]
        package var deepPieces: [Line]
        package var splitBursts: [Line]
    }

    @Sendable package static func monitoring(req: Request) async throws -> Response {
        let report = try await MonitoringController.report(req)
        return try await render(req, "regulator/monitoring", title: "monitoring_title", page: model(report, presenter: try await Presenter.make(req)))
    }

    package static func model(_ r: MonitoringQueries.Report, presenter p: Presenter) -> MonitoringPage {
        func name(_ id: String) -> String { p.names[id] ?? id }
        func splitting(_ s: MonitoringQueries.Splitting) -> Line {
            Line(link: "/receivables/\(s.receivableId)", label: s.number, who: name(s.issuerId), figure: String(s.value), detail: s.day ?? "", flagged: true)
        }
        return MonitoringPage(
            alertTier: r.alerts.tier, alertPiecesPerDay: r.alerts.piecesPerDay, since: r.since.description,
            inDefault: r.inDefault.map {
                Line(link: "/disclosures", label: $0.name, who: $0.creditCode, figure: Money.format($0.overdueFen),
                     detail: $0.defaultReason ?? "\(p.tr("stat_overdue")) \($0.overdueCount) · \(p.tr("max_days_overdue")) \($0.maxDaysOverdue)", flagged: true)
            },
            termReviews: r.termReviews.map {
                Line(link: "/receivables/\($0.receivableId)", label: $0.number, who: name($0.issuerId), figure: String($0.termDays),
                     detail: "\($0.reviewed) / \($0.financed)", flagged: $0.reviewed < $0.financed)
            },
            unfiledCount: r.unfiledCount,
            unfiled: r.unfiled.map {
                Line(link: "", label: String($0.financingId.prefix(16)), who: "\(name($0.bankId)) → \(name($0.supplierId))",
                     figure: Money.format($0.amountFen), detail: p.tr("status_\($0.status)"), flagged: true)
            },
            deepPieces: r.deepPieces.map(splitting), splitBursts: r.splitBursts.map(splitting))
    }
}
