import Foundation
import Ledger
import Vapor

/// A message exchanged with a rail: an instruction going out, a notification coming in.
struct RailMessage: Sendable {
    var id: String
    var rail: String
    var kind: String
    var orgId: OrgID?
    var body: String
    var createdMs: Int64
}

/// One payer's payments, instructed together in one message.
struct PaymentBatch: Sendable {
    var payer: PaymentAccount
    var payees: [OrgID: PaymentAccount]
    var payments: [Payment]
    var remittance: [String: String]
    var executionDate: BusinessDate
    var nowMs: Int64

    /// 35 characters at most, the same for the same payments: an instruction made again is the same message.
    var messageId: String {
        "CAS" + String(Hashing.sha256Hex(Array(payments.map(\.id).sorted().joined(separator: "\n").utf8)).prefix(29))
    }
}

/// What a rail reported of one payment.
struct RailEvent: Sendable, Equatable {
    var paymentId: String
    var status: PaymentStatus
    var amountFen: Int64
    var reference: String?
    var reason: String?
}

/// A message the rail took only in part: what it answered of the payments it took, and why the
/// others did not go. The message stays undelivered; handed over again, the rail pays none twice.
struct PartlyDelivered: Error, CustomStringConvertible {
    var events: [RailEvent]
    var missed: [String]
    var description: String { "\(missed.count) payment(s) not taken: " + missed.prefix(3).joined(separator: "; ") }
}

/// How money moves outside the ledger: instructing a payment, asking what became of it, taking
/// the rail's notifications in. Funds pass between the payer's and payee's accounts at their
/// banks (or wallets), never through an account of the platform.
protocol PaymentRail: Sendable {
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

/// The bank-transfer rail: `pain.001.001.09` files out, one per payer and batch; `camt.054.001.08`
/// files in. Files go through a folder, as host-to-host links exchange them
/// (`CASCADE_BANK_RAIL_OUTBOX`, `CASCADE_BANK_RAIL_INBOX`), and banks may post notifications to
/// `POST /api/v1/rails/bank/notifications`. `CASCADE_ISO20022_KEEP` keeps a copy of every file
/// made, for checking against the schemas.
struct BankTransferRail: PaymentRail {
    var outbox: String?
    var inbox: String?
    var keep: String?

    var name: String { "bank" }

    static func fromEnvironment() -> BankTransferRail {
        let env = ProcessInfo.processInfo.environment
        return BankTransferRail(outbox: env["CASCADE_BANK_RAIL_OUTBOX"], inbox: env["CASCADE_BANK_RAIL_INBOX"], keep: env["CASCADE_ISO20022_KEEP"])
    }

    func message(for batch: PaymentBatch) throws -> RailMessage {
        let transfers = try batch.payments.map { p in
            guard let payee = batch.payees[p.payeeId] else { throw StoreDamage("payee account of \(p.id)") }
            return ISO20022.Transfer(endToEndId: p.id, amountFen: p.amountFen, creditor: payee.iso, remittance: batch.remittance[p.id] ?? "")
        }
        let id = batch.messageId
        let body = ISO20022.document(ISO20022.Initiation(messageId: id, createdMs: batch.nowMs, executionDate: batch.executionDate,
                                                         initiatingParty: batch.payer.accountName, debtor: batch.payer.iso, transfers: transfers))
        return RailMessage(id: id, rail: name, kind: "pain.001.001.09", orgId: batch.payer.orgId, body: body, createdMs: batch.nowMs)
    }

    func deliver(_ message: RailMessage, answered: Set<String>) async throws -> [RailEvent] {
        for folder in [outbox, keep].compactMap({ $0 }) {
            try Self.write(message.body, named: "\(message.id).xml", in: folder)
        }
        return []  // the bank answers later, in a camt.054
    }

    func status(of payment: Payment) async throws -> RailEvent? { nil }

    func events(in notification: [UInt8]) throws -> (messageId: String, events: [RailEvent]) {
        let n = try ISO20022.notification(notification)
        return (n.messageId, n.entries.map { e in
            let status: PaymentStatus = switch e.outcome {
            case .booked: .settled
            case .pending: .accepted
            case .returned: .returned
            }
            return RailEvent(paymentId: e.endToEndId, status: status, amountFen: e.amountFen, reference: e.reference, reason: e.returnReason)
        })
    }

    /// Written whole or not at all: a temporary name, then renamed into place.
    static func write(_ text: String, named name: String, in folder: String) throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let target = URL(fileURLWithPath: folder).appendingPathComponent(name)
        let temporary = URL(fileURLWithPath: folder).appendingPathComponent(".\(name).\(UUID().uuidString)")
        try Data(text.utf8).write(to: temporary)
        if FileManager.default.fileExists(atPath: target.path) { try FileManager.default.removeItem(at: target) }
        try FileManager.default.moveItem(at: temporary, to: target)
    }
}

extension Application {
    private struct RailsKey: StorageKey { typealias Value = [String: any PaymentRail] }

    /// The connected rails by name. Set up in `configure`; tests put in their own.
    var rails: [String: any PaymentRail] {
        get { storage[RailsKey.self] ?? [:] }
        set { storage[RailsKey.self] = newValue }
    }
}
