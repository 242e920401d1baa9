import Foundation
import Ledger
import class Vapor.Application
import protocol Vapor.StorageKey

/// The bank-transfer rail: `pain.001.001.09` files out, one per payer and batch; `camt.054.001.08`
/// files in. Files go through a folder, as host-to-host links exchange them
/// (`CASCADE_BANK_RAIL_OUTBOX`, `CASCADE_BANK_RAIL_INBOX`), and banks may post notifications to
/// `POST /api/v1/rails/bank/notifications`. `CASCADE_ISO20022_KEEP` keeps a copy of every file
/// made, for checking against the schemas.
package struct BankTransferRail: PaymentRail {
    package var outbox: String?
    package var inbox: String?
    package var keep: String?

    package init(outbox: String? = nil, inbox: String? = nil, keep: String? = nil) {
        self.outbox = outbox
        self.inbox = inbox
        self.keep = keep
    }

    package var name: String { "bank" }

    package static func fromEnvironment() -> BankTransferRail {
        let env = ProcessInfo.processInfo.environment
        return BankTransferRail(outbox: env["CASCADE_BANK_RAIL_OUTBOX"], inbox: env["CASCADE_BANK_RAIL_INBOX"], keep: env["CASCADE_ISO20022_KEEP"])
    }

    package func message(for batch: PaymentBatch) throws -> RailMessage {
        let transfers = try batch.payments.map { p in
            guard let payee = batch.payees[p.payeeId] else { throw StoreDamage("payee account of \(p.id)") }
            return ISO20022.Transfer(endToEndId: p.id, amountFen: p.amountFen, creditor: payee.iso, remittance: batch.remittance[p.id] ?? "")
        }
        let id = batch.messageId
        let body = ISO20022.document(ISO20022.Initiation(messageId: id, createdMs: batch.nowMs, executionDate: batch.executionDate,
                                                         initiatingParty: batch.payer.accountName, debtor: batch.payer.iso, transfers: transfers))
        return RailMessage(id: id, rail: name, kind: "pain.001.001.09", orgId: batch.payer.orgId, body: body, createdMs: batch.nowMs)
    }

    package func deliver(_ message: RailMessage, answered: Set<String>) async throws -> [RailEvent] {
        for folder in [outbox, keep].compactMap({ $0 }) {
            try Self.write(message.body, named: "\(message.id).xml", in: folder)
        }
        return []  // the bank answers later, in a camt.054
    }

    package func status(of payment: Payment) async throws -> RailEvent? { nil }

    package func events(in notification: [UInt8]) throws -> (messageId: String, events: [RailEvent]) {
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
    package static func write(_ text: String, named name: String, in folder: String) throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let target = URL(fileURLWithPath: folder).appendingPathComponent(name)
        let temporary = URL(fileURLWithPath: folder).appendingPathComponent(".\(name).\(UUID().uuidString)")
        try Data(text.utf8).write(to: temporary)
        if FileManager.default.fileExists(atPath: target.path) { try FileManager.default.removeItem(at: target) }
        try FileManager.default.moveItem(at: temporary, to: target)
    }
}
