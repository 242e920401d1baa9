import Core
import Foundation
import Ledger
import Leaf
import SQLKit
import Vapor

/// Early payment in the console: the supplier's offers, the core's program and its day's market
/// (the offers ranked as it would take them, what it spends and earns), and every early payment
/// for the regulator. No JavaScript needed: each action is a form.
package enum EarlyPaymentPages: ConsoleArea {
    package struct ProgramView: Encodable {
        package var active: Bool
        package var hurdle: String
        /// For the form: `6.00`, `500000.00`.
        package var hurdlePercent: String
        package var budget: String
        package var budgetYuan: String
        package var cutoff: String
        package var budgetLeft: String
        package var clearingRate: String
    }

    package struct ClearingView: Encodable {
        package var at: String
        package var source: String
        package var taken: Int64
        package var spent: String
        package var clearingRate: String
        package var budgetLeft: String
    }

    package struct TotalsView: Encodable {
        package var count: Int64
        package var amount: String
        package var spent: String
        package var earned: String
        /// The core's yearly return on the cash, or `—`.
        package var returnRate: String

        package init(_ t: EarlyPaymentQueries.Totals) {
            count = t.count
            amount = Money.format(t.amountFen)
            spent = Money.format(t.payoutFen)
            earned = Money.format(t.discountFen)
            returnRate = t.returnBps.map(Presenter.rate) ?? "—"
        }
    }

    package struct EarlyPaymentsPage: Encodable {
        package var isCore: Bool
        package var isSupplier: Bool
        package var isAdmin: Bool
        package var program: ProgramView?
        package var ranked: [EarlyPaymentView]
        package var approved: [EarlyPaymentView]
        package var others: [EarlyPaymentView]
        package var clearings: [ClearingView]
        package var totals: TotalsView
        package var form: FormState
    }

    @Sendable package static func page(req: Request) async throws -> Response {
        try await page(req, form: FormState(), error: nil)
    }

    package static func page(_ req: Request, form: FormState, error: String?) async throws -> Response {
        let viewer = try await viewer(req)
        guard viewer.role != .bank else { throw Problem(.notFound, "no such page") }
        let p = try await Presenter.make(req)
        let app = req.application, sql = app.sql
        let all = try await EarlyPaymentQueries.list(status: nil, issuer: nil, visibleTo: viewer, slice: Slice(limit: 500), on: sql)
        let market = viewer.role == .core ? try await EarlyPaymentService.market(of: viewer.orgId, visibleTo: viewer, app: app) : nil
        let clearings = viewer.role == .core ? try await EarlyPaymentQueries.clearings(of: viewer.orgId, limit: 20, sql: sql) : []
        let totals = try await EarlyPaymentQueries.totals(of: viewer.seesAll ? nil : viewer.orgId, role: viewer.role, sql: sql)
        let page = model(role: viewer.role, isAdmin: viewer.caller.isAdmin, all: all, market: market, clearings: clearings, totals: totals, form: form, presenter: p)
        return try await render(req, "common/early_payments", title: "nav_early_payments", page: page, status: error == nil ? .ok : form.httpStatus,
                                notice: notice(req), error: error)
    }

    /// The page for `role`: a core's program, its market ranked and its clearings; for everyone
    /// the early payments it may see, those taken and awaiting payment apart, and their totals.
    package static func model(role: OrgRole, isAdmin: Bool, all: [EarlyPayment], market: EarlyPaymentService.Market?, clearings: [EarlyPaymentQueries.ClearingRecord],
                              totals: EarlyPaymentQueries.Totals, form: FormState, presenter p: Presenter) -> EarlyPaymentsPage {
        let ranked = (market?.ranked ?? []).enumerated().map { i, pair in
            var v = p.earlyPayment(pair.0)
            v.rank = i + 1
            v.wouldClear = pair.1
            return v
        }
        let open: Set<EarlyPaymentStatus> = role == .core ? [.requested, .approved] : [.approved]
        return EarlyPaymentsPage(
            isCore: role == .core, isSupplier: role == .supplier, isAdmin: isAdmin, program: market.map(programView), ranked: ranked,
            approved: all.filter { $0.status == .approved }.map(p.earlyPayment),
            others: all.filter { !open.contains($0.status) }.map(p.earlyPayment),
            clearings: clearings.map {
                ClearingView(at: Time.rfc3339($0.atMs), source: $0.source == "cutoff" ? p.tr("early_cutoff_clearing") : $0.source, taken: $0.takenCount,
                             spent: Money.format($0.spentFen), clearingRate: $0.clearingRateBps.map(Presenter.rate) ?? "—", budgetLeft: Money.format($0.budgetLeftFen))
            },
            totals: TotalsView(totals),
            form: form)
    }

    static func programView(_ m: EarlyPaymentService.Market) -> ProgramView {
        let p = m.program
        return ProgramView(active: p.active, hurdle: Presenter.rate(p.hurdleBps), hurdlePercent: RateInput.percent(p.hurdleBps), budget: Money.format(p.dailyBudgetFen),
                           budgetYuan: YuanInput.text(p.dailyBudgetFen), cutoff: p.cutoffTime, budgetLeft: Money.format(m.budgetLeftFen),
                           clearingRate: m.clearingRateBps.map(Presenter.rate) ?? "—")
    }

    /// The core's admin sets the program; loosening it waits for a checker where the core has rules.
    @Sendable package static func setProgram(req: Request) async throws -> Response {
        try await actOrHold(req, action: "program", next: "/early-payments", done: "program_saved",
                            fieldNames: ["hurdleBps": "hurdle", "dailyBudgetFen": "budget", "cutoffTime": "cutoff"],
                            page: { try await page(req, form: $0, error: $1) }) { viewer, v in
            guard let hurdle = v["hurdle"].flatMap(RateInput.bps) else { throw LedgerError.invalid("hurdleBps", "must be a yearly rate in percent, e.g. 6.00") }
            let program = try EarlyPaymentService.parseProgram(try StrictBody(fields: [
                "active": .bool(v["active"] == "on"), "hurdleBps": .int(hurdle), "dailyBudgetFen": .int(try fen(v, "budget")),
                "cutoffTime": .string(v["cutoff"] ?? ""),
            ], path: "", allowed: ["active", "hurdleBps", "dailyBudgetFen", "cutoffTime"]))
            return try await EarlyPaymentService.setProgram(program, of: viewer.orgId, by: viewer, app: req.application, address: req.remoteAddress?.ipAddress).held
        }
    }

    @Sendable package static func clear(req: Request) async throws -> Response {
        try await act(req, action: "clear", next: "/early-payments", done: "cleared", page: { try await page(req, form: $0, error: $1) }) { viewer, _ in
            _ = try await EarlyPaymentService.clear(by: viewer, app: req.application, address: req.remoteAddress?.ipAddress)
        }
    }

    static func decide(_ req: Request, done: String, _ decision: @escaping (TxID, [String: String], Caller, Application) async throws -> Void) async throws -> Response {
        let id = try req.txIdParameter()
        return try await act(req, action: "decide", next: "/early-payments", done: done, fieldNames: ["reference": "reference"],
                             page: { try await page(req, form: $0, error: $1) }) { viewer, v in
            try await decision(id, v, viewer.caller, req.application)
        }
    }

    @Sendable package static func approve(req: Request) async throws -> Response {
        try await decide(req, done: "approved") { id, _, caller, app in _ = try await EarlyPaymentService.approve(id, by: caller, app: app) }
    }
    @Sendable package static func reject(req: Request) async throws -> Response {
        try await decide(req, done: "declined") { id, _, caller, app in _ = try await EarlyPaymentService.reject(id, by: caller, app: app) }
    }
    @Sendable package static func cancel(req: Request) async throws -> Response {
        try await decide(req, done: "cancelled") { id, _, caller, app in _ = try await EarlyPaymentService.cancel(id, by: caller, app: app) }
    }
    @Sendable package static func confirm(req: Request) async throws -> Response {
        try await decide(req, done: "paid_early") { id, v, caller, app in
            guard let reference = v["reference"], !reference.isEmpty else { throw LedgerError.invalid("reference", "give the payment's reference") }
            _ = try await EarlyPaymentService.confirm(id, reference: reference, by: caller, app: app)
        }
    }

    // MARK: - On a supplier's token

    /// The issuer's market as a supplier sees it on one of its pieces, and what an offer at the
    /// rate it typed would bring and whether it would clear today.
    package struct OfferView: Encodable {
        package var issuerName: String
        package var active: Bool
        package var hurdle: String
        package var budgetLeft: String
        package var clearingRate: String
        package var cutoff: String
        package var days: Int64
        /// The rate typed, as typed; empty before one is.
        package var rateInput: String
        package var previewed: Bool
        package var rate = ""
        package var discount = ""
        package var payout = ""
        package var wouldClear = false
        package var rateError = ""
    }

    package static func offerView(for token: Token, of receivable: Receivable, rateInput: String?, presenter p: Presenter, app: Application) async throws -> OfferView {
        let market = try await EarlyPaymentService.market(of: receivable.issuerId, app: app)
        let days = app.businessDate.days(until: receivable.dueDate)
        var view = OfferView(issuerName: p.name(receivable.issuerId), active: market.program.active, hurdle: Presenter.rate(market.program.hurdleBps),
                             budgetLeft: Money.format(market.budgetLeftFen), clearingRate: market.clearingRateBps.map(Presenter.rate) ?? "—",
                             cutoff: market.program.cutoffTime, days: days, rateInput: rateInput ?? "", previewed: false)
        guard let text = rateInput, !text.isEmpty else { return view }
        guard let bps = RateInput.bps(text), (1...Limits.maxRateBps).contains(bps), days > 0 else {
            view.rateError = p.tr("early_rate_invalid")
            return view
        }
        let discount = Money.discountInterestFen(amountFen: token.amountFen, rateBps: bps, days: days)
        guard discount < token.amountFen else {
            view.rateError = p.tr("early_rate_eats_all")
            return view
        }
        view.previewed = true
        view.rate = Presenter.rate(bps)
        view.discount = Money.format(discount)
        view.payout = Money.format(token.amountFen - discount)
        view.wouldClear = market.wouldClear(rateBps: bps, payoutFen: token.amountFen - discount)
        return view
    }

    /// `POST /tokens/{id}/early-payment {rate}`: the supplier's offer at the rate it typed.
    @Sendable package static func offer(req: Request) async throws -> Response {
        let id = try req.tokenIdParameter()
        return try await act(req, action: "early", next: "/early-payments", done: "offered", fieldNames: ["rateBps": "rate"],
                             codeFields: [.amountOutOfRange: "rate", .pastDue: "rate"],
                             page: { try await HoldingsPages.tokenPage(req, form: $0, action: "early", error: $1) }) { viewer, v in
            guard let bps = v["rate"].flatMap(RateInput.bps) else { throw LedgerError.invalid("rateBps", "must be a yearly rate in percent, e.g. 7.50") }
            _ = try await EarlyPaymentService.request(id, rateBps: bps, by: viewer.caller, app: req.application)
        }
    }
}

/// A yearly rate as people type it, in percent with at most two decimals (`7.5`, `7.50%`), and back.
package enum RateInput {
    package static func bps(_ text: String) -> Int64? {
        var t = text.trimmingCharacters(in: .whitespaces)
        if t.hasSuffix("%") || t.hasSuffix("％") { t.removeLast() }
        let parts = t.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let whole = parts.first, (1...5).contains(whole.count), whole.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        var fraction: Int64 = 0
        if parts.count == 2 {
            let f = parts[1]
            guard (1...2).contains(f.count), f.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
            fraction = Int64(f)! * (f.count == 1 ? 10 : 1)
        }
        return Int64(whole)! * 100 + fraction
    }

    package static func percent(_ bps: Int64) -> String { String(format: "%d.%02d", bps / 100, bps % 100) }
}
