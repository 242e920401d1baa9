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

    /// One core's early payments from its own cash: what it paid early, for what cash, and its return.
    package struct EarlyRow: Encodable {
        package var name: String
        package var totals: EarlyPaymentPages.TotalsView
    }

    package struct OverviewPage: Encodable {
        package var byCore: [ExposureRow]
        package var byBank: [ExposureRow]
        package var byCoreChart: String
        package var earlyByCore: [EarlyRow] = []
    }

    @Sendable package static func overview(req: Request) async throws -> Response {
        let viewer = try await viewer(req)
        let sql = req.application.sql
        let p = try await Presenter.make(req)
        var page = model(try await StatsQueries.overview(for: viewer, on: sql), presenter: p)
        if viewer.seesAll {
            page.earlyByCore = try await EarlyPaymentQueries.totalsByIssuer(sql: sql).map { EarlyRow(name: p.name($0), totals: EarlyPaymentPages.TotalsView($1)) }
        }
        return try await render(req, "regulator/overview", title: "overview_title", page: page)
    }

    /// The overview's view model: each core's outstanding, each bank's financing and its rate.
    package static func model(_ overview: StatsQueries.Overview, presenter p: Presenter) -> OverviewPage {
        let byCore = overview.outstandingByCore.map { (p.names[$0.coreId] ?? $0.coreId, $0.outstandingFen) }
        return OverviewPage(
            byCore: byCore.map { ExposureRow(name: $0.0, outstanding: Money.format($0.1), financed: "", cost: "") },
            byBank: overview.financedByBank.map {
                ExposureRow(name: p.names[$0.bankId] ?? $0.bankId, outstanding: "", financed: Money.format($0.amountFen), cost: $0.amountFen > 0 ? Presenter.rate($0.averageRateBps) : "")
            },
            byCoreChart: Charts.bars(byCore.map { (String($0.0.prefix(8)), $0.1) }, caption: p.tr("overview_by_core")))
    }

    package struct ExposureLine: Encodable {
        package var name: String
        package var amount: String
        package var payout: String
        package var count: Int64
        /// Of the amount, financed with recourse (有追索权) and without; empty for holdings.
        package var withRecourse = ""
        package var withoutRecourse = ""
    }

    package struct ExposurePage: Encodable {
        package var name: String
        package var roleLabel: String
        package var holdings: [ExposureLine]
        package var financed: [ExposureLine]
        package var issuedOutstanding: String
        /// A supplier's contingent liability on its recourse financings; empty when none.
        package var contingent: String
    }

    /// An org's exposure, for the regulator, the operator and the org itself.
    @Sendable package static func exposure(req: Request) async throws -> Response {
        let viewer = try await viewer(req)
        let org = try req.orgIdParameter()
        let e = try await ExposureQueries.exposure(of: org, for: viewer, on: req.application.sql)
        return try await render(req, "regulator/exposure", title: "exposure_title", page: exposureModel(e, presenter: try await Presenter.make(req)))
    }

    /// An org's exposure: what it holds by core, what it financed or was financed by, and what it
    /// issued and still owes.
    package static func exposureModel(_ e: ExposureQueries.Exposure, presenter p: Presenter) -> ExposurePage {
        ExposurePage(
            name: e.org["name"]?.stringValue ?? "", roleLabel: p.tr("role_\(e.org["role"]?.stringValue ?? "")"),
            holdings: e.holdings.map { ExposureLine(name: p.names[$0.coreId] ?? $0.coreId, amount: Money.format($0.outstandingFen), payout: "", count: $0.tokens) },
            financed: (e.financedAsSupplier + e.financedAsBank).map {
                ExposureLine(name: p.names[$0.counterparty] ?? $0.counterparty, amount: Money.format($0.amountFen), payout: Money.format($0.payoutFen),
                             count: $0.count, withRecourse: Money.format($0.recourseFen), withoutRecourse: Money.format($0.withoutRecourseFen))
            },
            issuedOutstanding: Money.format(e.issuedOutstandingFen), contingent: e.contingentFen > 0 ? Money.format(e.contingentFen) : "")
    }
}
