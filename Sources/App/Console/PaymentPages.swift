import Foundation
import Ledger
import Leaf
import SQLKit
import Vapor

/// The treasury's view of money moving: the day's reconciliation (totals and every difference)
/// and the payments on the rails, failed and returned ones with their reasons.
enum PaymentPages: ConsoleArea {
    struct Row: Encodable {
        var label: String
        var count: Int
        var amount: String
    }

    struct DifferenceRow: Encodable {
        var kind: String
        var payer: String
        var payee: String
        var amount: String
        var detail: String
    }

    struct PaymentRow: Encodable {
        var id: String
        var kind: String
        var rail: String
        var payer: String
        var payee: String
        var amount: String
        var status: String
        var statusLabel: String
        var reference: String
        var reason: String
        var updatedAt: String
    }

    struct Page: Encodable {
        var date: String
        var rows: [Row]
        var differences: [DifferenceRow]
        var balanced: Bool
        var payments: [PaymentRow]
    }

    @Sendable static func reconciliation(req: Request) async throws -> Response {
        let viewer = try await viewer(req)
        let date = try req.queryText("date", maxLength: 10).flatMap(BusinessDate.init) ?? BusinessDate(epochMs: req.application.ledgerClock.nowMs())
        let sql = req.application.sql
        let r = try await Reconciliation.report(on: date, for: viewer.seesAll ? nil : viewer.orgId, sql: sql)
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
        var query: SQLQueryString = "SELECT \(unsafeRaw: Payment.columns) FROM rail_payments WHERE "
        query += PaymentController.visible(viewer)
        query += " ORDER BY updated_ms DESC, id LIMIT 200"
        let payments = try await sql.raw(query).all().map { paymentRow(try Payment(row: $0), names: names, req: req) }
        return try await render(req, "common/reconciliation", title: "nav_reconciliation",
                                page: Page(date: date.description, rows: rows, differences: differences, balanced: r.balanced, payments: payments))
    }

    struct HistoryRow: Encodable {
        var at: String
        var status: String
        var statusLabel: String
        var source: String
        var detail: String
    }

    struct PaymentPage: Encodable {
        var payment: PaymentRow
        var subject: String
        var subjectLink: String
        var transactionId: String
        var history: [HistoryRow]
        var attempts: [PaymentRow]
        var canRetry: Bool
    }

    /// One payment with every change the rail reported, the other attempts at what it pays, and
    /// for a payer's payout that failed or came back, the button that pays it again.
    @Sendable static func payment(req: Request) async throws -> Response {
        try await paymentPage(req, id: try paymentId(req), error: nil, status: .ok)
    }

    static func paymentId(_ req: Request) throws -> String {
        guard let id = req.parameters.get("id"), Hex.isLowercaseHex(id, length: 32) else { throw Problem(.notFound, "no such payment") }
        return id
    }

    static func paymentPage(_ req: Request, id: String, error: String?, status: HTTPResponseStatus) async throws -> Response {
        let viewer = try await viewer(req)
        let sql = req.application.sql
        guard let row = try await sql.raw("SELECT \(unsafeRaw: Payment.columns) FROM rail_payments WHERE id = \(bind: id) AND \(PaymentController.visible(viewer))").first() else {
            throw Problem(.notFound, "no such payment")
        }
        let p = try Payment(row: row)
        let names = try await ReceivableQueries.orgNames(on: sql)
        let history = try await PaymentStore.events(of: id, on: sql).map { HistoryRow(at: Time.local($0.atMs), status: $0.status, statusLabel: req.tr("payment_status_\($0.status)"), source: $0.source, detail: $0.detail) }
        var others: SQLQueryString = "SELECT \(unsafeRaw: Payment.columns) FROM rail_payments WHERE subject_id = \(bind: p.subjectId.description) AND kind = \(bind: p.kind.rawValue)"
        if let token = p.tokenId { others += " AND token_id = \(bind: token.description)" }
        others += " ORDER BY created_ms, id"
        let attempts = try await sql.raw(others).all().map { try Payment(row: $0) }
        let retryable = attempts.allSatisfy { $0.status == .failed || $0.status == .returned }
        let canRetry = p.kind == .payout && p.payerId == viewer.orgId && viewer.caller.userRole.prepares && retryable
        let subject = p.kind == .payout ? "/financings" : "/receivables/\(p.subjectId)"
        return try await render(req, "common/payment", title: "payment_title",
                                page: PaymentPage(payment: paymentRow(p, names: names, req: req), subject: p.subjectId.description, subjectLink: subject,
                                                  transactionId: p.transactionId?.description ?? "", history: history,
                                                  attempts: attempts.map { paymentRow($0, names: names, req: req) }, canRetry: canRetry),
                                status: status, notice: notice(req), error: error)
    }

    static func paymentRow(_ p: Payment, names: [String: String], req: Request) -> PaymentRow {
        PaymentRow(id: p.id, kind: req.tr("payment_\(p.kind.rawValue)"), rail: p.rail == "ecny" ? req.tr("rail_ecny") : req.tr("rail_bank"),
                   payer: names[p.payerId.description] ?? "", payee: names[p.payeeId.description] ?? "", amount: Money.format(p.amountFen),
                   status: p.status.rawValue, statusLabel: req.tr("payment_status_\(p.status.rawValue)"), reference: p.reference ?? "", reason: p.reason ?? "",
                   updatedAt: Time.local(p.updatedMs))
    }

    /// `POST /payments/{id}/retry`: the payer's payout paid again, as the next attempt.
    @Sendable static func retry(req: Request) async throws -> Response {
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
