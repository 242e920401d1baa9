import Core
import Foundation
import Ledger
import Leaf
import SQLKit
import Vapor

/// Financings: the supplier's requests and the bank's queue, with its decisions.
package enum FinancingPages: ConsoleArea {
    package struct FinancingsPage: Encodable {
        package var open: [FinancingView]
        package var done: [FinancingView]
        package var isBank: Bool
        package var form: FormState
        /// Today, the latest date a 中登网 filing may carry.
        package var today: String
    }

    @Sendable package static func financings(req: Request) async throws -> Response {
        try await financingsPage(req, form: FormState(), error: nil)
    }

    package static func financingsPage(_ req: Request, form: FormState, error: String?) async throws -> Response {
        let viewer = try await viewer(req)
        let p = try await Presenter.make(req)
        let all = try await FinancingQueries.list(status: nil, visibleTo: viewer, slice: Slice(limit: 500), on: req.application.sql)
        let reviewed = try await ReceivableQueries.needingTermReview(all.filter { $0.status == .requested }.map(\.receivableId), on: req.application.sql)
        let today = req.application.businessDate
        return try await render(req, "bank/financings", title: viewer.role == .bank ? "nav_financing_queue" : "nav_financings",
                                page: model(all, isBank: viewer.role == .bank, form: form, presenter: p, needingReview: reviewed, today: today),
                                status: error == nil ? .ok : form.httpStatus, notice: notice(req), error: error)
    }

    /// A bank's queue or a supplier's requests: the open ones (requested, approved) above the rest.
    package static func model(_ financings: [Financing], isBank: Bool, form: FormState, presenter p: Presenter, needingReview: Set<TxID> = [],
                              today: BusinessDate) -> FinancingsPage {
        let open: Set<FinancingStatus> = [.requested, .approved]
        func view(_ f: Financing) -> FinancingView {
            var v = p.financing(f)
            v.needsReview = f.status == .requested && needingReview.contains(f.receivableId)
            return v
        }
        return FinancingsPage(open: financings.filter { open.contains($0.status) }.map(view),
                              done: financings.filter { !open.contains($0.status) }.map(view), isBank: isBank, form: form, today: today.description)
    }

    package static func decide(_ req: Request, done: String, _ decision: @escaping (TxID, [String: String], Caller, Application) async throws -> Prepared<Outcome>) async throws -> Response {
        let id = try req.txIdParameter()
        return try await actOrHold(req, action: "decide", next: "/financings", done: done,
                                   fieldNames: ["reference": "reference", "filing.number": "filingNumber", "filing.filedOn": "filedOn", "termReview.reason": "termReview"],
                                   codeFields: [.filingRequired: "filingNumber", .termReviewRequired: "termReview"],
                                   page: { try await financingsPage(req, form: $0, error: $1) }) { viewer, v in
            try await decision(id, v, viewer.caller, req.application).held
        }
    }

    /// The bank's approval, with its 中登网 filing and, for a term beyond six months, its review
    /// (77号), read by the ledger's own reader as the API reads them.
    @Sendable package static func approve(req: Request) async throws -> Response {
        try await decide(req, done: "approved") { id, v, caller, app in
            let (filing, review) = try approvalFields(v, financing: id)
            return try await FinancingService.approve(id, filing: filing, termReview: review, by: caller, app: app)
        }
    }

    /// A form's `filingNumber`, `filedOn` and `termReview`: each left empty is absent (the date,
    /// filled with today, counts only beside a number).
    static func approvalFields(_ v: [String: String], financing id: TxID) throws -> (Filing?, String?) {
        func given(_ key: String) -> String? { v[key].map { $0.trimmingCharacters(in: .whitespaces) }.flatMap { $0.isEmpty ? nil : $0 } }
        var fields: [JSONKey: JSON] = ["financingId": .string(id.description)]
        if given("filingNumber") != nil {
            fields["filing"] = .object(["number": .string(given("filingNumber") ?? ""), "filedOn": .string(given("filedOn") ?? "")])
        }
        if let reason = given("termReview") { fields["termReview"] = .object(["reason": .string(reason)]) }
        guard case .approveFinancing(_, let filing, let review) = try StrictBody(fields: fields, path: "", allowed: ["financingId", "filing", "termReview"])
            .payload(.approveFinancing) else { throw StoreDamage("approveFinancing payload") }
        return (filing, review)
    }
    @Sendable package static func decline(req: Request) async throws -> Response {
        try await decide(req, done: "declined") { id, _, caller, app in .done(try await FinancingService.reject(id, by: caller, app: app)) }
    }
    @Sendable package static func cancel(req: Request) async throws -> Response {
        try await decide(req, done: "cancelled") { id, _, caller, app in .done(try await FinancingService.cancel(id, by: caller, app: app)) }
    }
    @Sendable package static func confirmPayout(req: Request) async throws -> Response {
        try await decide(req, done: "paid_out") { id, v, caller, app in
            guard let reference = v["reference"], !reference.isEmpty else { throw LedgerError.invalid("reference", "give the payment's reference") }
            return try await FinancingService.confirmPayout(id, reference: reference, by: caller, app: app)
        }
    }
}
