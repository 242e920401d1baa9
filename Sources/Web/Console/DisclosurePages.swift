import Core
import Foundation
import Ledger
import Vapor

/// 信息披露, for anyone, signed in or not: each core enterprise's outstanding and overdue paper,
/// how long overdue, a default and its reason, and how it paid before; with its CSV.
package enum DisclosurePages: ConsoleArea {
    package struct DisclosureRow: Encodable {
        package var orgId: String
        package var name: String
        package var creditCode: String
        package var outstanding: String
        package var outstandingCount: Int64
        package var overdue: String
        package var overdueCount: Int64
        package var maxDaysOverdue: Int64
        package var inDefault: Bool
        package var defaultReason: String
        package var onTime: Int64
        package var late: Int64
    }

    package struct DisclosuresPage: Encodable {
        package var rows: [DisclosureRow]
        package var inDefaultOnly: Bool
        package var csv: String
        package var next: String
    }

    @Sendable package static func disclosures(req: Request) async throws -> Response {
        let inDefaultOnly = try req.queryBool("overdue") ?? false
        let page = try Page(req, keyCount: 2)
        let rows = try await DisclosureQueries.list(inDefaultOnly: inDefaultOnly, today: req.application.businessDate, page: page, on: req.application.sql)
        let model = DisclosuresPage(rows: rows.items.map(row), inDefaultOnly: inDefaultOnly,
                                    csv: "/exports/disclosures.csv" + (inDefaultOnly ? "?overdue=true" : ""),
                                    next: rows.nextCursor.map { "/disclosures?" + (inDefaultOnly ? "overdue=true&" : "") + "cursor=\($0)" } ?? "")
        return try await withPreSession(req) { try await render(req, "common/disclosures", title: "disclosures_title", page: model) }
    }

    static func row(_ d: DisclosureQueries.Disclosure) -> DisclosureRow {
        DisclosureRow(orgId: d.orgId, name: d.name, creditCode: d.creditCode, outstanding: Money.format(d.outstandingFen), outstandingCount: d.outstandingCount,
                      overdue: Money.format(d.overdueFen), overdueCount: d.overdueCount, maxDaysOverdue: d.maxDaysOverdue, inDefault: d.inDefault,
                      defaultReason: d.defaultReason ?? "", onTime: d.settledOnTimeCount, late: d.settledLateCount)
    }
}
