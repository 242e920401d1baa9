import Foundation
import Ledger
import SQLKit

/// What balance checks reserved in payers' wallets, payment by payment, until each payment is
/// settled, failed or returned (`PaymentStore.move` releases it in the same transaction).
package enum BalanceHolds {
    package struct Hold: Sendable {
        package var paymentId: String
        package var kind: PaymentKind
        package var subjectId: String
        package var amountFen: Int64

        package init(paymentId: String, kind: PaymentKind, subjectId: String, amountFen: Int64) {
            self.paymentId = paymentId
            self.kind = kind
            self.subjectId = subjectId
            self.amountFen = amountFen
        }
    }

    /// What the wallet's holds reserve, but those of `payments` (a check asked again).
    package static func held(in wallet: String, rail: String, except payments: [String], on sql: any SQLDatabase) async throws -> Int64 {
        var query: SQLQueryString = "SELECT CAST(SUM(amount_fen) AS BIGINT) AS total FROM balance_holds WHERE rail = \(bind: rail) AND wallet = \(bind: wallet)"
        if !payments.isEmpty { query += " AND payment_id NOT IN (\(binds: payments))" }
        return try await sql.totalFen(query)
    }

    /// Reserves each payment's amount in the wallet (once: a payment held already stays as it
    /// was). Answers the payments this call held, not those held before it.
    @discardableResult
    package static func hold(_ holds: [Hold], in wallet: String, rail: String, nowMs: Int64, on sql: any SQLDatabase) async throws -> [String] {
        var made: [String] = []
        for chunk in holds.chunked(500) {
            var query: SQLQueryString = "INSERT INTO balance_holds (payment_id, rail, wallet, kind, subject_id, amount_fen, created_ms) VALUES "
            for (k, h) in chunk.enumerated() {
                query += (k > 0 ? ", " : "") + "(\(bind: h.paymentId), \(bind: rail), \(bind: wallet), \(bind: h.kind.rawValue), \(bind: h.subjectId), \(bind: h.amountFen), \(bind: nowMs))"
            }
            made += try await sql.raw(query + " ON CONFLICT (payment_id) DO NOTHING RETURNING payment_id").all().map { try $0.decode(column: "payment_id", as: String.self) }
        }
        return made
    }

    package static func release(_ payments: [String], on sql: any SQLDatabase) async throws {
        for chunk in payments.chunked(500) {
            try await sql.raw("DELETE FROM balance_holds WHERE payment_id IN (\(binds: Array(chunk)))").run()
        }
    }

    /// Holds no payment stands behind, made before `cutoffMs`: the check's operation never went
    /// ahead (the ledger refused it, or the request ended). A payout's hold stays while its
    /// financing is approved and waits for the sweep to instruct it. Answers how many went.
    package static func releaseAbandoned(before cutoffMs: Int64, on sql: any SQLDatabase) async throws -> Int {
        try await sql.raw("""
            DELETE FROM balance_holds WHERE created_ms < \(bind: cutoffMs)
            AND NOT EXISTS (SELECT 1 FROM rail_payments p WHERE p.id = balance_holds.payment_id)
            AND NOT (kind = 'payout' AND EXISTS (SELECT 1 FROM financings f WHERE f.id = balance_holds.subject_id AND f.status = 'approved'))
            RETURNING payment_id
            """).all().count
    }
}
