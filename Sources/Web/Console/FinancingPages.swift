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
    }

    @Sendable package static func financings(req: Request) async throws -> Response {
        try await financingsPage(req, form: FormState(), error: nil)
    }

    package static func financingsPage(_ req: Request, form: FormState, error: String?) async throws -> Response {
        let viewer = try await viewer(req)
        let p = try await Presenter.make(req)
        let all = try await FinancingQueries.list(status: nil, visibleTo: viewer, slice: Slice(limit: 500), on: req.application.sql)
        return try await render(req, "bank/financings", title: viewer.role == .bank ? "nav_financing_queue" : "nav_financings",
                                page: model(all, isBank: viewer.role == .bank, form: form, presenter: p),
                                status: error == nil ? .ok : form.httpStatus, notice: notice(req), error: error)
    }

    /// A bank's queue or a supplier's requests: the open ones (requested, approved) above the rest.
    package static func model(_ financings: [Financing], isBank: Bool, form: FormState, presenter p: Presenter) -> FinancingsPage {
        let open: Set<FinancingStatus> = [.requested, .approved]
        return FinancingsPage(open: financings.filter { open.contains($0.status) }.map(p.financing),
                              done: financings.filter { !open.contains($0.status) }.map(p.financing), isBank: isBank, form: form)
    }

    package static func decide(_ req: Request, done: String, _ decision: @escaping (TxID, [String: String], Caller, Application) async throws -> Prepared<Outcome>) async throws -> Response {
        let id = try req.txIdParameter()
        return try await actOrHold(req, action: "decide", next: "/financings", done: done, fieldNames: ["reference": "reference"],
                                   page: { try await financingsPage(req, form: $0, error: $1) }) { viewer, v in
            try await decision(id, v, viewer.caller, req.application).held
        }
    }

    @Sendable package static func approve(req: Request) async throws -> Response {
        try await decide(req, done: "approved") { id, _, caller, app in try await FinancingService.approve(id, by: caller, app: app) }
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
