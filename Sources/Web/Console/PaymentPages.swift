import Core
import Foundation
import Ledger
import Leaf
import SQLKit
import Vapor

/// The treasury's view of money moving: the day's reconciliation (totals and every difference)
/// and the payments on the rails, failed and returned ones with their reasons.
package enum PaymentPages: ConsoleArea {
    package struct Row: Encodable {
        package var label: String
        package var count: Int
        package var amount: String
    }

    package struct DifferenceRow: Encodable {
        package var kind: String
        package var payer: String
        package var payee: String
        package var amount: String
        package var detail: String
    }

    package struct PaymentRow: Encodable {
        package var id: String
        package var kind: String
        package var rail: String
        package var payer: String
        package var payee: String
        package var amount: String
        package var status: String
        package var statusLabel: String
        package var reference: String
        package var reason: String
        package var updatedAt: String
    }

    package struct Page: Encodable {
        package var date: String
        package var rows: [Row]
        package var differences: [DifferenceRow]
        package var balanced: Bool
        package var payments: [PaymentRow]
    }

    @Sendable package static func reconciliation(req: Request) async throws -> Response {
        let viewer = try await viewer(req)
        let date = try req.queryText("date", maxLength: 10).flatMap(BusinessDate.init) ?? req.application.businessDate
        let sql = req.application.sql
        let r = try await ReconciliationQueries.report(on: date, for: viewer.seesAll ? nil : viewer.orgId, sql: sql)
        let payments = try await PaymentQueries.recentlyChanged(visibleTo: viewer, on: sql)
        return try await render(req, "common/reconciliation", title: "nav_reconciliation", page: model(r, payments: payments, presenter: try await Presenter.make(req)))
    }

    /// A day's reconciliation: the rails' totals, the ledger's, every difference, and the payments
    /// that changed lately.
    package static func model(_ r: Reconciliation.Report, payments: [Payment], presenter p: Presenter) -> Page {
        var rows = ["instructed", "settled", "returned", "failed"].map { s in
            Row(label: p.tr("rail_\(s)"), count: r.rail[s]?.count ?? 0, amount: Money.format(r.rail[s]?.amountFen ?? 0))
        }
        rows.append(Row(label: p.tr("ledger_via_rail"), count: r.ledgerViaRail.count, amount: Money.format(r.ledgerViaRail.amountFen)))
        rows.append(Row(label: p.tr("ledger_manual"), count: r.ledgerManual.count, amount: Money.format(r.ledgerManual.amountFen)))
        let differences = r.differences.map {
            DifferenceRow(kind: p.tr("difference_\($0.kind)"), payer: p.names[$0.payerId] ?? $0.payerId, payee: p.names[$0.payeeId] ?? $0.payeeId,
                          amount: Money.format($0.amountFen), detail: $0.detail)
        }
        return Page(date: r.date.description, rows: rows, differences: differences, balanced: r.balanced, payments: payments.map { paymentRow($0, p) })
    }

    package struct HistoryRow: Encodable {
        package var at: String
        package var status: String
        package var statusLabel: String
        package var source: String
        package var detail: String
    }

    package struct PaymentPage: Encodable {
        package var payment: PaymentRow
        package var subject: String
        package var subjectLink: String
        package var transactionId: String
        package var history: [HistoryRow]
        package var attempts: [PaymentRow]
        package var canRetry: Bool
    }

    @Sendable package static func payment(req: Request) async throws -> Response {
        try await paymentPage(req, id: try paymentId(req), error: nil, status: .ok)
    }

    package static func paymentId(_ req: Request) throws -> String {
        guard let id = req.parameters.get("id"), Hex.isLowercaseHex(id, length: 32) else { throw Problem(.notFound, "no such payment") }
        return id
    }

    /// One payment with every change the rail reported, the other attempts at what it pays, and
    /// for a payer's payout that failed or came back, the button that pays it again.
    package static func paymentPage(_ req: Request, id: String, error: String?, status: HTTPResponseStatus) async throws -> Response {
        let viewer = try await viewer(req)
        let sql = req.application.sql
        guard let p = try await PaymentQueries.find(id, visibleTo: viewer, on: sql) else {
            throw Problem(.notFound, "no such payment")
        }
        let history = try await PaymentStore.events(of: id, on: sql)
        let attempts = try await PaymentQueries.attempts(like: p, on: sql)
        let retryable = attempts.allSatisfy { $0.status == .failed || $0.status == .returned }
        let canRetry = p.kind == .payout && p.payerId == viewer.orgId && viewer.caller.userRole.prepares && retryable
        return try await render(req, "common/payment", title: "payment_title",
                                page: model(p, history: history, attempts: attempts, canRetry: canRetry, presenter: try await Presenter.make(req)),
                                status: status, notice: notice(req), error: error)
    }

    /// One payment, its history and every attempt at it.
    package static func model(_ payment: Payment, history: [PaymentStore.Event], attempts: [Payment], canRetry: Bool, presenter p: Presenter) -> PaymentPage {
        PaymentPage(payment: paymentRow(payment, p), subject: payment.subjectId.description,
                    subjectLink: payment.kind == .payout ? "/financings" : "/receivables/\(payment.subjectId)", transactionId: payment.transactionId?.description ?? "",
                    history: history.map { HistoryRow(at: Time.local($0.atMs), status: $0.status, statusLabel: p.tr("payment_status_\($0.status)"), source: $0.source, detail: $0.detail) },
                    attempts: attempts.map { paymentRow($0, p) }, canRetry: canRetry)
    }

    package static func paymentRow(_ payment: Payment, _ p: Presenter) -> PaymentRow {
        PaymentRow(id: payment.id, kind: p.tr("payment_\(payment.kind.rawValue)"), rail: payment.rail == "ecny" ? p.tr("rail_ecny") : p.tr("rail_bank"),
                   payer: p.names[payment.payerId.description] ?? "", payee: p.names[payment.payeeId.description] ?? "", amount: Money.format(payment.amountFen),
                   status: payment.status.rawValue, statusLabel: p.tr("payment_status_\(payment.status.rawValue)"), reference: payment.reference ?? "",
                   reason: payment.reason ?? "", updatedAt: Time.local(payment.updatedMs))
    }

    /// `POST /payments/{id}/retry`: the payer's payout paid again, as the next attempt.
    @Sendable package static func retry(req: Request) async throws -> Response {
        let id = try paymentId(req)
        let viewer = try await viewer(req)
        do {
            let again = try await PaymentService.retry(id, by: viewer, app: req.application, address: req.remoteAddress?.ipAddress)
            return redirect("/payments/\(again.id)", notice: "payment_retried")
        } catch {
            let (message, state) = try formError(req, error, values: [:])
            return try await paymentPage(req, id: id, error: message, status: state.httpStatus)
        }
    }
}
