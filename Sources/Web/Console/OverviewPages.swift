import Core
import Foundation
import Ledger
import Leaf
import SQLKit
import Vapor

/// The regulator's overview by core enterprise and bank, each org's exposure, and the receipt check anyone may use.
package enum OverviewPages: ConsoleArea {
    package struct ExposureRow: Encodable {
        package var name: String
        package var outstanding: String
        package var financed: String
        package var cost: String
    }

    package struct OverviewPage: Encodable {
        package var byCore: [ExposureRow]
        package var byBank: [ExposureRow]
        package var byCoreChart: String
    }

    @Sendable package static func overview(req: Request) async throws -> Response {
        let viewer = try await viewer(req)
        guard viewer.seesAll else { throw Problem(.forbidden, "the overview is for the regulator and the operator") }
        let sql = req.application.sql
        let names = try await ReceivableQueries.orgNames(on: sql)
        // Outstanding: what the open receivables still owe (face less paid), which is the sum of
        // their live tokens (value is conserved), read from the status index, whatever the length
        // of the history behind them. Every core that has issued is listed.
        var outstanding: [String: Int64] = [:]
        for row in try await sql.raw("""
            SELECT issuer_id AS org, CAST(SUM(face_fen - paid_fen) AS BIGINT) AS outstanding
            FROM receivables WHERE status IN ('pending', 'active', 'overdue') GROUP BY issuer_id
            """).all() {
            outstanding[try row.decode(column: "org", as: String.self)] = try row.decode(column: "outstanding", as: Int64.self)
        }
        let byCore = try await sql.raw("""
            SELECT o.id AS org FROM orgs o WHERE o.role = 'core' AND EXISTS (SELECT 1 FROM receivables r WHERE r.issuer_id = o.id) ORDER BY o.id
            """).all().map { row -> (String, Int64) in
                let org = try row.decode(column: "org", as: String.self)
                return (org, outstanding[org] ?? 0)
            }
        // Average financing cost: interest over amount, annualised by days, weighted by amount.
        let byBank = try await sql.raw("""
            SELECT bank_id AS org, CAST(SUM(amount_fen) AS BIGINT) AS financed, CAST(SUM(amount_fen * rate_bps) AS BIGINT) AS weighted
            FROM financings WHERE status IN ('approved', 'paid') GROUP BY bank_id ORDER BY bank_id
            """).all().map { (try $0.decode(column: "org", as: String.self), try $0.decode(column: "financed", as: Int64.self), try $0.decode(column: "weighted", as: Int64.self)) }
        let page = OverviewPage(
            byCore: byCore.map { ExposureRow(name: names[$0.0] ?? $0.0, outstanding: Money.format($0.1), financed: "", cost: "") },
            byBank: byBank.map { ExposureRow(name: names[$0.0] ?? $0.0, outstanding: "", financed: Money.format($0.1), cost: $0.1 > 0 ? Presenter.rate($0.2 / $0.1) : "") },
            byCoreChart: Charts.bars(byCore.map { (String((names[$0.0] ?? $0.0).prefix(8)), $0.1) }, caption: req.tr("overview_by_core")))
        return try await render(req, "regulator/overview", title: "overview_title", page: page)
    }

    package struct ExposureLine: Encodable {
        package var name: String
        package var amount: String
        package var payout: String
        package var count: Int64
    }

    package struct ExposurePage: Encodable {
        package var name: String
        package var roleLabel: String
        package var holdings: [ExposureLine]
        package var financed: [ExposureLine]
        package var issuedOutstanding: String
    }

    /// An org's exposure, for the regulator, the operator and the org itself.
    @Sendable package static func exposure(req: Request) async throws -> Response {
        let viewer = try await viewer(req)
        let org = try req.orgIdParameter()
        let e = try await ExposureQueries.exposure(of: org, for: viewer, on: req.application.sql)
        let names = try await ReceivableQueries.orgNames(on: req.application.sql)
        let page = ExposurePage(
            name: e.org["name"]?.stringValue ?? "", roleLabel: req.tr("role_\(e.org["role"]?.stringValue ?? "")"),
            holdings: e.holdings.map { ExposureLine(name: names[$0.coreId] ?? $0.coreId, amount: Money.format($0.outstandingFen), payout: "", count: $0.tokens) },
            financed: e.financedAsSupplier.map { ExposureLine(name: names[$0.bankId] ?? $0.bankId, amount: Money.format($0.amountFen), payout: Money.format($0.payoutFen), count: $0.count) }
                + e.financedAsBank.map { ExposureLine(name: names[$0.supplierId] ?? $0.supplierId, amount: Money.format($0.amountFen), payout: Money.format($0.payoutFen), count: $0.count) },
            issuedOutstanding: Money.format(e.issuedOutstandingFen))
        return try await render(req, "regulator/exposure", title: "exposure_title", page: page)
    }
}
