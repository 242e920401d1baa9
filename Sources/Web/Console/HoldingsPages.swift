import Core
import Foundation
import Ledger
import Leaf
import SQLKit
import Vapor

/// A holder's inbox and holdings, one token and what to do with it: accept, reject, pay, split, finance.
package enum HoldingsPages: ConsoleArea {
    package struct TokenListPage: Encodable {
        package var tokens: [TokenView]
        package var total: String
        package var inbox: Bool
        package var pager: Pager
    }

    /// The caller's tokens in `statuses`, a page of them, and the total of all of them.
    package static func tokenList(_ req: Request, statuses: [TokenStatus], inbox: Bool, title: String) async throws -> Response {
        let viewer = try await viewer(req)
        let p = try await Presenter.make(req)
        let sql = req.application.sql
        let number = Pager.number(req)
        let (rows, pager) = Pager.make(req, number, rows: try await TokenQueries.held(by: viewer, statuses: statuses, slice: Pager.slice(number), on: sql))
        let totalFen = try await TokenQueries.heldFen(by: viewer, statuses: statuses, on: sql)
        return try await render(req, "supplier/tokens", title: title, page: model(rows, totalFen: totalFen, inbox: inbox, pager: pager, presenter: p), notice: notice(req))
    }

    /// A page of a holder's pieces, with the total of all of them.
    package static func model(_ rows: [(token: Token, receivable: Receivable)], totalFen: Int64, inbox: Bool, pager: Pager, presenter p: Presenter) -> TokenListPage {
        TokenListPage(tokens: rows.map { p.token($0.token, receivable: $0.receivable) }, total: Money.format(totalFen), inbox: inbox, pager: pager)
    }

    @Sendable package static func inbox(req: Request) async throws -> Response {
        try await tokenList(req, statuses: [.pending], inbox: true, title: "nav_inbox")
    }

    @Sendable package static func holdings(req: Request) async throws -> Response {
        try await tokenList(req, statuses: [.active, .locked], inbox: false, title: try await viewer(req).role == .bank ? "nav_portfolio" : "nav_holdings")
    }

    package struct QuoteView: Encodable {
        package var bankId: String
        package var bankName: String
        package var rate: String
        package var days: Int64
        package var interest: String
        package var payout: String
    }

    package struct TokenPage: Encodable {
        package var token: TokenView
        package var ancestry: [TokenView]
        package var receivable: ReceivableView
        package var canAct: Bool
        package var canAnswer: Bool
        package var canMove: Bool
        package var suppliers: [OrgOption]
        package var quotes: [QuoteView]
        package var nextTier: Int64
        package var form: FormState
        package var action: String
        /// The issuer's early-payment market, for a piece its holder may offer.
        package var early: EarlyPaymentPages.OfferView?
        /// The piece's early payments (its holder's, its issuer's), the latest first.
        package var earlyPayments: [EarlyPaymentView] = []
    }

    @Sendable package static func token(req: Request) async throws -> Response {
        try await tokenPage(req, form: FormState(), action: "", error: nil)
    }

    package static func tokenPage(_ req: Request, form: FormState, action: String, error: String?) async throws -> Response {
        let viewer = try await viewer(req)
        let token = try await TokenController.visibleToken(req)
        let sql = req.application.sql
        let p = try await Presenter.make(req)
        guard let receivable = try await ReceivableQueries.receivable(of: token, on: sql) else {
            throw Problem(.notFound, "no such token")
        }
        // The nearest 50 steps back to issuance; the API pages through the rest.
        let ancestry = try await TokenQueries.ancestry(of: token.id, from: 1, limit: 50, on: sql).tokens
        let holder = token.holderId == viewer.orgId
        let canMove = holder && viewer.role == .supplier && token.status == .active
        var suppliers: [OrgOption] = []
        var quotes: [(FinancingQuote, String)] = []
        if canMove {
            suppliers = try await orgOptions(.supplier, activeOnly: true, on: sql).filter { $0.id != viewer.orgId.description }
            quotes = try await FinancingService.quotes(for: token, app: req.application)
        }
        var page = tokenModel(token, of: receivable, ancestry: ancestry, holder: holder, canMove: canMove, suppliers: suppliers, quotes: quotes,
                              form: form, action: action, presenter: p)
        if canMove {
            let typed = action == "early" ? form.values["rate"] : try? req.query.get(String.self, at: "earlyRate")
            page.early = try await EarlyPaymentPages.offerView(for: token, of: receivable, rateInput: typed.map { String($0.prefix(20)) }, presenter: p, app: req.application)
        }
        if holder || receivable.issuerId == viewer.orgId || viewer.seesAll {
            page.earlyPayments = try await EarlyPaymentQueries.of(token: token.id, on: sql).map(p.earlyPayment)
        }
        return try await render(req, "supplier/token", title: "token_title", page: page, status: error == nil ? .ok : form.httpStatus,
                                notice: notice(req), error: error)
    }

    /// One piece: its path back to issuance, its receivable, and for its holder what may be done
    /// with it (answer an offer; pay, split or finance an active piece, with every bank's quote).
    package static func tokenModel(_ token: Token, of receivable: Receivable, ancestry: [Token], holder: Bool, canMove: Bool, suppliers: [OrgOption],
                                   quotes: [(FinancingQuote, String)], form: FormState, action: String, presenter p: Presenter) -> TokenPage {
        TokenPage(token: p.token(token, receivable: receivable), ancestry: ancestry.map { p.token($0, receivable: receivable) }, receivable: p.receivable(receivable),
                  canAct: holder, canAnswer: holder && token.status == .pending, canMove: canMove, suppliers: suppliers,
                  quotes: quotes.map { q, name in
                      QuoteView(bankId: q.bankId.description, bankName: name, rate: Presenter.rate(q.rateBps), days: q.days,
                                interest: Money.format(q.interestFen), payout: Money.format(q.payoutFen))
                  },
                  nextTier: token.tier + 1, form: form, action: action)
    }

    @Sendable package static func accept(req: Request) async throws -> Response {
        let id = try req.tokenIdParameter()
        return try await act(req, action: "answer", next: "/inbox", done: "accepted", page: { try await tokenPage(req, form: $0, action: "answer", error: $1) }) { viewer, _ in
            _ = try await TokenService.accept(id, by: viewer.caller, app: req.application)
        }
    }

    @Sendable package static func reject(req: Request) async throws -> Response {
        let id = try req.tokenIdParameter()
        return try await act(req, action: "answer", next: "/inbox", done: "rejected", page: { try await tokenPage(req, form: $0, action: "answer", error: $1) }) { viewer, _ in
            _ = try await TokenService.reject(id, by: viewer.caller, app: req.application)
        }
    }

    @Sendable package static func transfer(req: Request) async throws -> Response {
        let id = try req.tokenIdParameter()
        return try await act(req, action: "transfer", next: "/holdings", done: "transferred", fieldNames: ["toOrgId": "toOrgId", "amountFen": "amount", "memo": "memo"],
                             codeFields: [.amountOutOfRange: "amount", .invalidCounterparty: "toOrgId", .orgSuspended: "toOrgId", .tierLimitExceeded: "toOrgId"],
                             page: { try await tokenPage(req, form: $0, action: "transfer", error: $1) }) { viewer, v in
            guard let to = v["toOrgId"].flatMap(OrgID.init) else { throw LedgerError.invalid("toOrgId", "choose a supplier") }
            // An empty memo is no memo; any other is the ledger's to judge, never cut here.
            let memo = v["memo"].flatMap { $0.isEmpty ? nil : $0 }
            _ = try await TokenService.transfer(id, to: to, amountFen: try fen(v, "amount"), memo: memo, by: viewer.caller, app: req.application)
        }
    }

    @Sendable package static func split(req: Request) async throws -> Response {
        let id = try req.tokenIdParameter()
        return try await act(req, action: "split", next: "/holdings", done: "split", fieldNames: ["amountsFen": "amounts"],
                             codeFields: [.splitSumMismatch: "amounts", .amountOutOfRange: "amounts"],
                             page: { try await tokenPage(req, form: $0, action: "split", error: $1) }) { viewer, v in
            let separators = CharacterSet.whitespacesAndNewlines.union(CharacterSet(charactersIn: ";；"))
            let parts = (v["amounts"] ?? "").components(separatedBy: separators).filter { !$0.isEmpty }
            guard (Limits.minSplitPieces...Limits.maxSplitPieces).contains(parts.count) else {
                throw LedgerError.invalid("amounts", "give 2 to 100 amounts, one per line")
            }
            let amounts = try parts.map { p in
                guard let f = YuanInput.fen(p) else { throw LedgerError.invalid("amounts", "\(p) is not an amount in yuan") }
                return f
            }
            _ = try await TokenService.split(id, into: amounts, by: viewer.caller, app: req.application)
        }
    }

    @Sendable package static func finance(req: Request) async throws -> Response {
        let id = try req.tokenIdParameter()
        return try await act(req, action: "finance", next: "/financings", done: "requested", fieldNames: ["bankId": "bankId"],
                             codeFields: [.noCreditLine: "bankId", .creditLineUnusable: "bankId", .financingCutoff: "bankId"],
                             page: { try await tokenPage(req, form: $0, action: "finance", error: $1) }) { viewer, v in
            guard let bank = v["bankId"].flatMap(OrgID.init) else { throw LedgerError.invalid("bankId", "choose a bank's quote") }
            // 有追索权: the supplier answers to the bank if the core enterprise does not pay.
            _ = try await FinancingService.request(id, from: bank, recourse: v["recourse"] == "on" ? true : nil, by: viewer.caller, app: req.application)
        }
    }
}
