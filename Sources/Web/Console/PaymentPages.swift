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
        let date = try req.queryText("date", maxLength: 10).flatMap(BusinessDate.init) ?? BusinessDate(epochMs: req.application.ledgerClock.nowMs())
        let sql = req.application.sql
        let r = try await ReconciliationQueries.report(on: date, for: viewer.seesAll ? nil : viewer.orgId, sql: sql)
        let names = try await ReceivableQueries.orgNames(on: sql)
        var rows = ["instructed", "settled", "returned", "failed"].map { s in
            Row(label: req.tr("rail_\(s)"), count: r.rail[s]?.count ?? 0, amount: Money.format(r.rail[s]?.amountFen ?? 0))
        }
        rows.append(Row(label: req.tr("ledger_via_rail"), count: r.ledgerViaRail.count, amount: Money.format(r.ledgerViaRail.amountFen)))
        rows.append(Row(label: req.tr("ledger_manual"), count: r.ledgerManual.count, amount: Money.format(r.ledgerManual.amountFen)))
        let differences = r.differences.map {
            DifferenceRow(kind: req.tr("difference_\($0.kind)"), payer: names[$0.payerId] ?? $0.payerId, payee: names[$0.payeeId] ?? $0.payeeId,
                          amount: Money.format($0.amountFen), detail: $0.detail)
        }
        let payments = try await PaymentQueries.recentlyChanged(visibleTo: viewer, on: sql).map { paymentRow($0, names: names, req: req) }
        return try await render(req, "common/reconciliation", title: "nav_reconciliation",
                                page: Page(date: date.description, rows: rows, differences: differences, balanced: r.balanced, payments: payments))
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

    /// One payment with every change the rail reported, the other attempts at what it pays, and
    /// for a payer's payout that failed or came back, the button that pays it again.
    @Sendable package static func payment(req: Request) async throws -> Response {
        try await paymentPage(req, id: try paymentId(req), error: nil, status: .ok)
    }

    package static func paymentId(_ req: Request) throws -> String {
        guard let id = req.parameters.get("id"), Hex.isLowercaseHex(id, length: 32) else { throw Problem(.notFound, "no such payment") }
        return id
    }

    package static func paymentPage(_ req: Request, id: String, error: String?, status: HTTPResponseStatus) async throws -> Response {
        let viewer = try await viewer(req)
        let sql = req.application.sql
        guard let p = try await PaymentQueries.find(id, visibleTo: viewer, on: sql) else {
            throw Problem(.notFound, "no such payment")
        }
        let names = try await ReceivableQueries.orgNames(on: sql)
        let history = try await PaymentStore.events(of: id, on: sql).map { HistoryRow(at: Time.local($0.atMs), status: $0.status, statusLabel: req.tr("payment_status_\($0.status)"), source: $0.source, detail: $0.detail) }
        let attempts = try await PaymentQueries.attempts(like: p, on: sql)
        let retryable = attempts.allSatisfy { $0.status == .failed || $0.status == .returned }
        let canRetry = p.kind == .payout && p.payerId == viewer.orgId && viewer.caller.userRole.prepares && retryable
        let subject = p.kind == .payout ? "/financings" : "/receivables/\(p.subjectId)"
        return try await render(req, "common/payment", title: "payment_title",
                                page: PaymentPage(payment: paymentRow(p, names: names, req: req), subject: p.subjectId.description, subjectLink: subject,
                                                  transactionId: p.transactionId?.description ?? "", history: history,
                                                  attempts: attempts.map { paymentRow($0, names: names, req: req) }, canRetry: canRetry),
                                status: status, notice: notice(req), error: error)
    }

    package static func paymentRow(_ p: Payment, names: [String: String], req: Request) -> PaymentRow {
        PaymentRow(id: p.id, kind: req.tr("payment_\(p.kind.rawValue)"), rail: p.rail == "ecny" ? req.tr("rail_ecny") : req.tr("rail_bank"),
                   payer: names[p.payerId.description] ?? "", payee: names[p.payeeId.description] ?? "", amount: Money.format(p.amountFen),
                   status: p.status.rawValue, statusLabel: req.tr("payment_status_\(p.status.rawValue)"), reference: p.reference ?? "", reason: p.reason ?? "",
                   updatedAt: Time.local(p.updatedMs))
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
