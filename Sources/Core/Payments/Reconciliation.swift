import Foundation
import Ledger
import class Vapor.Application
import protocol Vapor.StorageKey

/// The daily reconciliation of one org's payments (or every org's, for the regulator and the
/// operator): what was instructed, settled, returned and failed on the rails that day, what the
/// ledger recorded, and every difference between the two. A difference is shown, never fixed here.
package enum Reconciliation {
    package struct Totals: Sendable {
        package var count = 0
        package var amountFen: Int64 = 0
        package init() {}
        package mutating func add(_ fen: Int64) { count += 1; amountFen += fen }
        package var json: JSON { ["count": .int(Int64(count)), "amountFen": .int(amountFen)] }
    }

    package struct Difference: Sendable {
        package var kind: String
        package var paymentId: String?
        package var transactionId: String?
        package var payerId: String
        package var payeeId: String
        package var amountFen: Int64
        package var detail: String
        package var json: JSON {
            ["kind": .string(kind), "paymentId": paymentId.map(JSON.string) ?? .null, "transactionId": transactionId.map(JSON.string) ?? .null,
             "payerId": .string(payerId), "payeeId": .string(payeeId), "amountFen": .int(amountFen), "detail": .string(detail)]
        }
    }

    package struct Report: Sendable {
        package var date: BusinessDate
        package var rail: [String: Totals] = [:]
        package var ledgerViaRail = Totals(), ledgerManual = Totals()
        /// By kind (`payout`, `settlement`, `early_payment`): what was instructed on the rails
        /// that day, and what the ledger recorded as paid.
        package var railByKind: [String: Totals] = [:], ledgerByKind: [String: Totals] = [:]
        package var differences: [Difference] = []
        package var balanced: Bool { differences.isEmpty }
    }

    /// The ledger-time milliseconds of `date`'s start and end, in the business calendar (UTC+8).
    package static func span(_ date: BusinessDate) -> (Int64, Int64) {
        (date.startEpochMs, date.adding(days: 1).startEpochMs)
    }

    package static func json(_ r: Report) -> JSON {
        var rail: [JSONKey: JSON] = [:]
        for status in ["instructed", "settled", "returned", "failed"] { rail[JSONKey(status)] = (r.rail[status] ?? Totals()).json }
        var byKind: [JSONKey: JSON] = [:]
        for kind in PaymentKind.allCases.map(\.rawValue) {
            byKind[JSONKey(kind)] = ["instructed": (r.railByKind[kind] ?? Totals()).json, "recorded": (r.ledgerByKind[kind] ?? Totals()).json]
        }
        return ["date": .string(r.date.description), "rail": .object(rail), "byKind": .object(byKind),
                "ledger": ["viaRail": r.ledgerViaRail.json, "manual": r.ledgerManual.json],
                "differences": .array(r.differences.map(\.json)), "balanced": .bool(r.balanced)]
    }
}
