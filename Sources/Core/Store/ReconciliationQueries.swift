import Foundation
import Ledger
import SQLKit

/// What the daily reconciliation reads: the rails' payments and their history, and the ledger's
/// payments, of one day.
package enum ReconciliationQueries {
    /// `org`: the payments it pays or receives; nil: every payment (the regulator, the operator).
    package static func report(on date: BusinessDate, for org: OrgID?, sql: any SQLDatabase) async throws -> Reconciliation.Report {
        let (start, end) = Reconciliation.span(date)
        var report = Reconciliation.Report(date: date)
        func involving(_ payer: String, _ payee: String) -> SQLQueryString {
            guard let org else { return "1 = 1" }
            return "(\(unsafeRaw: payer) = \(bind: org.description) OR \(unsafeRaw: payee) = \(bind: org.description))"
        }
        // On the rails: instructed that day, and each change that day.
        for row in try await sql.raw("SELECT kind, amount_fen FROM rail_payments WHERE created_ms >= \(bind: start) AND created_ms < \(bind: end) AND \(involving("payer_id", "payee_id"))").all() {
            let amount = try row.decode(column: "amount_fen", as: Int64.self)
            report.rail["instructed", default: Reconciliation.Totals()].add(amount)
            report.railByKind[try row.decode(column: "kind", as: String.self), default: Reconciliation.Totals()].add(amount)
        }
        for row in try await sql.raw("""
            SELECT e.status, p.amount_fen FROM rail_payment_events e JOIN rail_payments p ON p.id = e.payment_id
            WHERE e.at_ms >= \(bind: start) AND e.at_ms < \(bind: end) AND e.source <> 'platform' AND e.status IN ('settled', 'returned', 'failed') AND \(involving("p.payer_id", "p.payee_id"))
            """).all() {
            report.rail[try row.decode(column: "status", as: String.self), default: Reconciliation.Totals()].add(try row.decode(column: "amount_fen", as: Int64.self))
        }
        // On the ledger that day: each payout and settled piece, with the rail payment that recorded it if any.
        for row in try await sql.raw("""
            SELECT l.transaction_id, l.payer_id, l.payee_id, l.amount_fen, l.kind, r.id AS payment_id, r.amount_fen AS rail_fen,
                CASE WHEN EXISTS (SELECT 1 FROM payment_accounts a WHERE a.org_id = l.payer_id AND a.created_ms < l.time_ms) THEN 1 ELSE 0 END AS connected
            FROM payments l LEFT JOIN rail_payments r ON r.transaction_id = l.transaction_id AND ((r.kind = 'settlement' AND r.token_id = l.id) OR (r.kind IN ('payout', 'early_payment') AND r.subject_id = l.id))
            WHERE l.time_ms >= \(bind: start) AND l.time_ms < \(bind: end) AND \(involving("l.payer_id", "l.payee_id"))
            """).all() {
            let tx = try row.decode(column: "transaction_id", as: String.self), payer = try row.decode(column: "payer_id", as: String.self)
            let payee = try row.decode(column: "payee_id", as: String.self), amount = try row.decode(column: "amount_fen", as: Int64.self)
            report.ledgerByKind[try row.decode(column: "kind", as: String.self), default: Reconciliation.Totals()].add(amount)
            if let payment = try row.decode(column: "payment_id", as: String?.self) {
                report.ledgerViaRail.add(amount)
                if let railFen = try row.decode(column: "rail_fen", as: Int64?.self), railFen != amount {
                    report.differences.append(Reconciliation.Difference(kind: "amount_differs", paymentId: payment, transactionId: tx, payerId: payer, payeeId: payee, amountFen: amount,
                                                         detail: "the ledger recorded \(Money.format(amount)), the rail paid \(Money.format(railFen))"))
                }
            } else {
                report.ledgerManual.add(amount)
                // Only a payer connected to a rail by then was expected to pay through it.
                if try row.decode(column: "connected", as: Int.self) == 1 {
                    report.differences.append(Reconciliation.Difference(kind: "ledger_record_without_payment", paymentId: nil, transactionId: tx, payerId: payer, payeeId: payee, amountFen: amount,
                                                         detail: "recorded by hand although the payer pays through a rail: no rail payment stands behind it"))
                }
            }
        }
        // Open as of the day's end: money that arrived with no ledger record, money back after one.
        for row in try await sql.raw("""
            SELECT \(unsafeRaw: Payment.columns) FROM rail_payments WHERE updated_ms < \(bind: end) AND \(involving("payer_id", "payee_id"))
                AND ((status = 'settled' AND transaction_id IS NULL) OR (status = 'returned' AND transaction_id IS NOT NULL))
            ORDER BY id
            """).all() {
            let p = try Payment(row: row)
            let settledUnrecorded = p.status == .settled
            report.differences.append(Reconciliation.Difference(kind: settledUnrecorded ? "settled_without_ledger_record" : "returned_after_ledger_record", paymentId: p.id,
                                                 transactionId: p.transactionId?.description, payerId: p.payerId.description, payeeId: p.payeeId.description, amountFen: p.amountFen,
                                                 detail: settledUnrecorded ? "the rail settled it; the ledger has no record of it yet" : "returned by the rail (\(p.reason ?? "no reason given")) after the ledger recorded it as paid"))
        }
        return report
    }
}
