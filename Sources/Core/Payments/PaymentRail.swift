import Foundation
import Ledger
import class Vapor.Application
import protocol Vapor.StorageKey

/// A message exchanged with a rail: an instruction going out, a notification coming in.
package struct RailMessage: Sendable {
    package var id: String
    package var rail: String
    package var kind: String
    package var orgId: OrgID?
    package var body: String
    package var createdMs: Int64
}

/// One payer's payments, instructed together in one message.
package struct PaymentBatch: Sendable {
    package var payer: PaymentAccount
    package var payees: [OrgID: PaymentAccount]
    package var payments: [Payment]
    package var remittance: [String: String]
    package var executionDate: BusinessDate
    package var nowMs: Int64

    /// 35 characters at most, the same for the same payments: an instruction made again is the same message.
    package var messageId: String {
        "CAS" + String(Hashing.sha256Hex(Array(payments.map(\.id).sorted().joined(separator: "\n").utf8)).prefix(29))
    }
}

/// What a rail reported of one payment.
package struct RailEvent: Sendable, Equatable {
    package var paymentId: String
    package var status: PaymentStatus
    package var amountFen: Int64
    package var reference: String?
    package var reason: String?
}

/// A message the rail took only in part: what it answered of the payments it took, and why the
/// others did not go. The message stays undelivered; handed over again, the rail pays none twice.
package struct PartlyDelivered: Error, CustomStringConvertible {
    package var events: [RailEvent]
    package var missed: [String]
    package var description: String { "\(missed.count) payment(s) not taken: " + missed.prefix(3).joined(separator: "; ") }
}

/// How money moves outside the ledger: instructing a payment, asking what became of it, taking
/// the rail's notifications in. Funds pass between the payer's and payee's accounts at their
/// banks (or wallets), never through an account of the platform.
package protocol PaymentRail: Sendable {
    var name: String { get }
    /// The message that instructs `batch`, as the rail takes it.
    func message(for batch: PaymentBatch) throws -> RailMessage
    /// Hands an instruction to the rail, and returns what it answered at once of each payment.
    /// The same message again is harmless: the rail knows its payments' ids. `answered` are the
    /// message's payments the rail has answered before: a rail that takes payments one by one
    /// need not be asked for them again; one that takes the message whole gets it whole.
    func deliver(_ message: RailMessage, answered: Set<String>) async throws -> [RailEvent]
    /// What the rail says now of a payment, when it can be asked; nil when it tells by notifications only.
    func status(of payment: Payment) async throws -> RailEvent?
    /// The changes a notification reports.
    func events(in notification: [UInt8]) throws -> (messageId: String, events: [RailEvent])
}

extension Application {
    private struct RailsKey: StorageKey { typealias Value = [String: any PaymentRail] }

    /// The connected rails by name. Set up in `configure`; tests put in their own.
    package var rails: [String: any PaymentRail] {
        get { storage[RailsKey.self] ?? [:] }
        set { storage[RailsKey.self] = newValue }
    }
}
