import Core
import Foundation
import Ledger
import Vapor

/// 信息披露: each core enterprise's outstanding and overdue paper, default and payment record.
/// Public, as the market that prices the paper is: no credential is asked for.
package enum DisclosureController {
    /// `GET /disclosures?overdue=true`: every core enterprise, or those in default (逾期名单).
    @Sendable package static func list(req: Request) async throws -> Response {
        let inDefaultOnly = try req.queryBool("overdue") ?? false
        let page = try Page(req, keyCount: 2)
        return try await DisclosureQueries.list(inDefaultOnly: inDefaultOnly, today: req.application.businessDate, page: page, on: req.application.sql)
            .json(\.json).response()
    }

    /// `GET /disclosures/{orgId}`: one core enterprise's; any other id is not found.
    @Sendable package static func show(req: Request) async throws -> Response {
        let org = try req.orgIdParameter("orgId")
        guard let d = try await DisclosureQueries.find(org, today: req.application.businessDate, on: req.application.sql) else {
            throw Problem(.notFound, "no core enterprise \(org) discloses here")
        }
        return d.json.response()
    }

    /// `GET /exports/disclosures.csv?overdue=true`: the same rows as a spreadsheet, for anyone.
    @Sendable package static func csv(req: Request) async throws -> Response {
        let inDefaultOnly = try req.queryBool("overdue") ?? false
        let today = req.application.businessDate, sql = req.application.sql
        return try await ExportController.stream(req, name: inDefaultOnly ? "disclosures-in-default.csv" : "disclosures.csv",
                                                 header: ["核心企业 core enterprise", "统一社会信用代码 credit code", "未到期余额(元) outstanding", "笔数 count",
                                                          "逾期余额(元) overdue", "逾期笔数 overdue count", "最长逾期天数 max days overdue",
                                                          "违约 in default", "违约原因 reason", "按期兑付笔数 paid on time", "逾期兑付笔数 paid late"],
                                                 pages: { try await DisclosureQueries.list(inDefaultOnly: inDefaultOnly, today: today, page: $0, on: sql) }) { d, _ in
            [d.name, d.creditCode, ExportController.yuan(d.outstandingFen), String(d.outstandingCount), ExportController.yuan(d.overdueFen),
             String(d.overdueCount), String(d.maxDaysOverdue), d.inDefault ? "是 yes" : "否 no", d.defaultReason ?? "",
             String(d.settledOnTimeCount), String(d.settledLateCount)]
        }
    }
}
