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
        let payments = try await sql.raw(query).all().map { row -> PaymentRow in
            let p = try Payment(row: row)
            return PaymentRow(id: p.id, kind: req.tr("payment_\(p.kind.rawValue)"), rail: p.rail == "ecny" ? req.tr("rail_ecny") : req.tr("rail_bank"),
                              payer: names[p.payerId.description] ?? "", payee: names[p.payeeId.description] ?? "", amount: Money.format(p.amountFen),
                              status: p.status.rawValue, reference: p.reference ?? "", reason: p.reason ?? "", updatedAt: Time.local(p.updatedMs))
        }
        return try await render(req, "common/reconciliation", title: "nav_reconciliation",
                                page: Page(date: date.description, rows: rows, differences: differences, balanced: r.balanced, payments: payments))
    }
}
