import Core
import Foundation
import Ledger
import Vapor

/// 监测: the regulator's watch list under 77号 (SPEC is silent on its shape; see the OpenAPI
/// document): cores in default, long terms and their reviews, unfiled financings, abnormal splits.
package enum MonitoringController {
    /// The report as of today; bursts of splitting counted over `days` (1–366, default 30).
    static func report(_ req: Request) async throws -> MonitoringQueries.Report {
        let viewer = try await req.viewer()
        let days = try req.queryCount("days", "a number of days") ?? 30
        guard (1...366).contains(days) else { throw LedgerError.invalid("days", "must be from 1 to 366") }
        let today = req.application.businessDate
        return try await MonitoringQueries.report(for: viewer, alerts: req.application.monitoringAlerts, today: today,
                                                  since: today.adding(days: 1 - days), on: req.application.sql)
    }

    /// `GET /monitoring?days=`: the regulator and the operator.
    @Sendable package static func show(req: Request) async throws -> Response {
        let r = try await report(req)
        func splitting(_ s: MonitoringQueries.Splitting, _ key: JSONKey) -> JSON {
            var fields: [JSONKey: JSON] = ["receivableId": .string(s.receivableId), "number": .string(s.number), "issuerId": .string(s.issuerId), key: .int(s.value)]
            if let day = s.day { fields["day"] = .string(day) }
            return .object(fields)
        }
        return JSON.object([
            "alertTier": .int(r.alerts.tier), "alertPiecesPerDay": .int(r.alerts.piecesPerDay), "since": .string(r.since.description),
            "inDefault": .array(r.inDefault.map(\.json)),
            "termReviews": .array(r.termReviews.map {
                ["receivableId": .string($0.receivableId), "number": .string($0.number), "issuerId": .string($0.issuerId), "termDays": .int($0.termDays),
                 "financedCount": .int($0.financed), "reviewedCount": .int($0.reviewed)]
            }),
            "unfiledCount": .int(r.unfiledCount),
            "unfiled": .array(r.unfiled.map {
                ["financingId": .string($0.financingId), "bankId": .string($0.bankId), "supplierId": .string($0.supplierId),
                 "amountFen": .int($0.amountFen), "status": .string($0.status)]
            }),
            "deepPieces": .array(r.deepPieces.map { splitting($0, "maxTier") }),
            "splitBursts": .array(r.splitBursts.map { splitting($0, "pieces") }),
        ]).response()
    }
}
