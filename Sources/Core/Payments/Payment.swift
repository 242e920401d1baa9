import FluentKit
import Foundation
import Ledger
import SQLKit
import class Vapor.Application
import protocol Vapor.StorageKey

/// A bank's payout of a financing, a core enterprise's payment of a piece at maturity, and its
/// payment of a piece early from its own cash (an early payment).
package enum PaymentKind: String, CaseIterable, Sendable {
    case payout, settlement
    case earlyPayment = "early_payment"
}

/// `instructed → accepted → settled`, or `failed` / `returned`. A payment never moves back: a
/// notification repeated, or one arriving after a later one, changes nothing.
package enum PaymentStatus: String, CaseIterable, Sendable {
    case instructed, accepted, settled, failed, returned

    /// The states a payment may be in to move to this one.
    package var reachableFrom: [PaymentStatus] {
        switch self {
        case .instructed: []
        case .accepted: [.instructed]
        case .settled, .failed: [.instructed, .accepted]
        case .returned: [.instructed, .accepted, .settled]
        }
    }
}

/// A payment the platform instructed on a rail, in fen, with its id derived from what it pays.
package struct Payment: Sendable {
    package var id: String
    package var rail: String
    package var kind: PaymentKind
    package var payerId: OrgID
    package var payeeId: OrgID
    package var amountFen: Int64
    package var status: PaymentStatus
    /// The financing a payout pays, the receivable a settlement pays, the early payment an early payment pays.
    package var subjectId: TxID
    package var tokenId: TokenID?
    package var messageId: String
    package var reference: String?
    package var transactionId: TxID?
    package var reason: String?
    package var createdMs: Int64
    package var updatedMs: Int64

    package static let columns = "id, rail, kind, payer_id, payee_id, amount_fen, status, subject_id, token_id, message_id, reference, transaction_id, reason, created_ms, updated_ms"

    /// 32 lowercase hex characters of SHA-256 over what the payment pays and to whom: the same
    /// payment whenever it is instructed again, and its end-to-end id on the rail.
    package static func id(_ kind: PaymentKind, paying subject: String, to payee: OrgID) -> String {
        String(Hashing.sha256Hex(Array("cascade-payment-1\n\(kind.rawValue)\n\(subject)\n\(payee)".utf8)).prefix(32))
    }

    package init(id: String, rail: String, kind: PaymentKind, payerId: OrgID, payeeId: OrgID, amountFen: Int64, subjectId: TxID, tokenId: TokenID?, messageId: String, nowMs: Int64) {
        self.id = id; self.rail = rail; self.kind = kind; self.payerId = payerId; self.payeeId = payeeId; self.amountFen = amountFen
        status = .instructed; self.subjectId = subjectId; self.tokenId = tokenId; self.messageId = messageId
        createdMs = nowMs; updatedMs = nowMs
    }

    package init(row: any SQLRow) throws {
        func text(_ c: String) throws -> String { try row.decode(column: c, as: String.self) }
        guard let kind = PaymentKind(rawValue: try text("kind")), let status = PaymentStatus(rawValue: try text("status")),
              let payer = OrgID(try text("payer_id")), let payee = OrgID(try text("payee_id")), let subject = TxID(try text("subject_id")) else {
            throw StoreDamage("payment row")
        }
        id = try text("id"); rail = try text("rail"); self.kind = kind; payerId = payer; payeeId = payee
        amountFen = try row.decode(column: "amount_fen", as: Int64.self); self.status = status; subjectId = subject
        tokenId = try row.decode(column: "token_id", as: String?.self).flatMap(TokenID.init)
        messageId = try text("message_id"); reference = try row.decode(column: "reference", as: String?.self)
        transactionId = try row.decode(column: "transaction_id", as: String?.self).flatMap(TxID.init)
        reason = try row.decode(column: "reason", as: String?.self)
        createdMs = try row.decode(column: "created_ms", as: Int64.self); updatedMs = try row.decode(column: "updated_ms", as: Int64.self)
    }

    package func json(history: [JSON]? = nil) -> JSON {
        var fields: [JSONKey: JSON] = [
            "id": .string(id), "rail": .string(rail), "kind": .string(kind.rawValue), "payerId": .string(payerId.description),
            "payeeId": .string(payeeId.description), "amountFen": .int(amountFen), "status": .string(status.rawValue),
            "reference": reference.map(JSON.string) ?? .null, "transactionId": transactionId.map { .string($0.description) } ?? .null,
            "reason": reason.map(JSON.string) ?? .null, "messageId": .string(messageId),
            "createdAt": .string(Time.rfc3339(createdMs)), "updatedAt": .string(Time.rfc3339(updatedMs)),
        ]
        switch kind {
        case .payout: fields["financingId"] = .string(subjectId.description)
        case .settlement: fields["receivableId"] = .string(subjectId.description); fields["tokenId"] = tokenId.map { .string($0.description) } ?? .null
        case .earlyPayment: fields["earlyPaymentId"] = .string(subjectId.description); fields["tokenId"] = tokenId.map { .string($0.description) } ?? .null
        }
        if let history { fields["history"] = .array(history) }
        return .object(fields)
    }
}

/// The rail an org pays by (a bank's payouts, a core enterprise's settlements), as its admin
/// chose. With no choice made, e-CNY where both sides have wallets, else a bank transfer where
/// both have bank accounts. `manual`: confirmed by hand, whatever accounts there are.
package enum PaysBy: String, CaseIterable, Sendable {
    case ecny, bank, manual

    /// The rails an org's payment may go by, in the order tried: its choice, or both.
    package static func rails(for org: OrgID, on sql: any SQLDatabase) async throws -> [String] {
        switch try await PaymentAccounts.choice(of: org, on: sql) {
        case .manual: []
        case .some(let rail): [rail.rawValue]
        case nil: ["ecny", "bank"]
        }
    }
}

/// An org's account on a rail.
package struct PaymentAccount: Sendable, Equatable {
    package var orgId: OrgID
    package var rail: String
    package var account: String
    package var accountName: String
    /// The account's bank: its CNAPS participant code.
    package var agent: String
    /// That bank as an org of the platform, when it is one.
    package var agentOrgId: OrgID?

    package init(orgId: OrgID, rail: String, account: String, accountName: String, agent: String, agentOrgId: OrgID? = nil) {
        self.orgId = orgId
        self.rail = rail
        self.account = account
        self.accountName = accountName
        self.agent = agent
        self.agentOrgId = agentOrgId
    }

    package var json: JSON {
        ["orgId": .string(orgId.description), "rail": .string(rail), "account": .string(account), "accountName": .string(accountName),
         "agent": .string(agent), "agentOrgId": agentOrgId.map { .string($0.description) } ?? .null]
    }

    package var iso: ISO20022.Account { ISO20022.Account(number: account, name: accountName, bankCode: agent) }
}
