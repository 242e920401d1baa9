import FluentKit
import Foundation
import Ledger
import SQLKit
import Vapor

enum PaymentKind: String, CaseIterable, Sendable { case payout, settlement }

/// `instructed → accepted → settled`, or `failed` / `returned`. A payment never moves back: a
/// notification repeated, or one arriving after a later one, changes nothing.
enum PaymentStatus: String, CaseIterable, Sendable {
    case instructed, accepted, settled, failed, returned

    /// The states a payment may be in to move to this one.
    var reachableFrom: [PaymentStatus] {
        switch self {
        case .instructed: []
        case .accepted: [.instructed]
        case .settled, .failed: [.instructed, .accepted]
        case .returned: [.instructed, .accepted, .settled]
        }
    }
}

/// A payment the platform instructed on a rail, in fen, with its id derived from what it pays.
struct Payment: Sendable {
    var id: String
    var rail: String
    var kind: PaymentKind
    var payerId: OrgID
    var payeeId: OrgID
    var amountFen: Int64
    var status: PaymentStatus
    /// The financing a payout pays, the receivable a settlement pays.
    var subjectId: TxID
    var tokenId: TokenID?
    var messageId: String
    var reference: String?
    var transactionId: TxID?
    var reason: String?
    var createdMs: Int64
    var updatedMs: Int64

    static let columns = "id, rail, kind, payer_id, payee_id, amount_fen, status, subject_id, token_id, message_id, reference, transaction_id, reason, created_ms, updated_ms"

    /// 32 lowercase hex characters of SHA-256 over what the payment pays and to whom: the same
    /// payment whenever it is instructed again, and its end-to-end id on the rail.
    static func id(_ kind: PaymentKind, paying subject: String, to payee: OrgID) -> String {
        String(Hashing.sha256Hex(Array("cascade-payment-1\n\(kind.rawValue)\n\(subject)\n\(payee)".utf8)).prefix(32))
    }

    init(id: String, rail: String, kind: PaymentKind, payerId: OrgID, payeeId: OrgID, amountFen: Int64, subjectId: TxID, tokenId: TokenID?, messageId: String, nowMs: Int64) {
        self.id = id; self.rail = rail; self.kind = kind; self.payerId = payerId; self.payeeId = payeeId; self.amountFen = amountFen
        status = .instructed; self.subjectId = subjectId; self.tokenId = tokenId; self.messageId = messageId
        createdMs = nowMs; updatedMs = nowMs
    }

    init(row: any SQLRow) throws {
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

    func json(history: [JSON]? = nil) -> JSON {
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
        }
        if let history { fields["history"] = .array(history) }
        return .object(fields)
    }
}

/// Payments and their history in the database. Every change is one atomic step: of two
/// notifications saying the same thing at once, one moves the payment and the other changes nothing.
enum PaymentStore {
    static func find(_ id: String, on sql: any SQLDatabase) async throws -> Payment? {
        try await sql.raw("SELECT \(unsafeRaw: Payment.columns) FROM rail_payments WHERE id = \(bind: id)").first().map(Payment.init(row:))
    }

    /// The payments of a message the rail has answered (each is past `instructed`): a message
    /// handed over again does not ask for them.
    static func answered(in messageId: String, rail: String, on sql: any SQLDatabase) async throws -> Set<String> {
        Set(try await sql.raw("""
            SELECT id FROM rail_payments WHERE rail = \(bind: rail) AND message_id = \(bind: messageId) AND status <> 'instructed'
            """).all().map { try $0.decode(column: "id", as: String.self) })
    }

    struct Event: Sendable {
        var status: String
        var source: String
        var detail: String
        var atMs: Int64
    }

    static func events(of id: String, on sql: any SQLDatabase) async throws -> [Event] {
        try await sql.raw("SELECT status, source, detail, at_ms FROM rail_payment_events WHERE payment_id = \(bind: id) ORDER BY seq").all().map { row in
            Event(status: try row.decode(column: "status", as: String.self), source: try row.decode(column: "source", as: String.self),
                  detail: try row.decode(column: "detail", as: String.self), atMs: try row.decode(column: "at_ms", as: Int64.self))
        }
    }

    static func history(of id: String, on sql: any SQLDatabase) async throws -> [JSON] {
        try await events(of: id, on: sql).map { e in
            ["status": .string(e.status), "source": .string(e.source), "detail": .string(e.detail), "at": .string(Time.rfc3339(e.atMs))]
        }
    }

    /// Stores an instruction: its message and its payments, instructed, in one transaction.
    /// Payments that exist already (instructed before) are left as they are, and so is the message.
    static func instruct(_ payments: [Payment], message: RailMessage, on db: any Database) async throws {
        try await db.sqlTransaction { sql in
            try await sql.raw("""
                INSERT INTO rail_messages (id, rail, direction, kind, org_id, body, created_ms) VALUES
                (\(bind: message.id), \(bind: message.rail), 'out', \(bind: message.kind), \(bind: message.orgId?.description), \(bind: message.body), \(bind: message.createdMs))
                ON CONFLICT DO NOTHING
                """).run()
            for p in payments {
                let inserted = try await sql.raw("""
                    INSERT INTO rail_payments (id, rail, kind, payer_id, payee_id, amount_fen, status, subject_id, token_id, message_id, created_ms, updated_ms) VALUES
                    (\(bind: p.id), \(bind: p.rail), \(bind: p.kind.rawValue), \(bind: p.payerId.description), \(bind: p.payeeId.description), \(bind: p.amountFen),
                     'instructed', \(bind: p.subjectId.description), \(bind: p.tokenId?.description), \(bind: p.messageId), \(bind: p.createdMs), \(bind: p.updatedMs))
                    ON CONFLICT DO NOTHING RETURNING id
                    """).first() != nil
                if inserted {
                    try await event(p.id, .instructed, source: "platform", detail: "instructed in message \(message.id) (\(message.kind))", nowMs: p.createdMs, on: sql)
                }
            }
        }
    }

    /// Moves a payment to `status` if it may go there from where it is; nil when it did not move
    /// (already there, or past it: a repeated or late notification).
    static func move(_ id: String, to status: PaymentStatus, reference: String?, reason: String?, source: String, detail: String,
                     nowMs: Int64, on db: any Database) async throws -> Payment? {
        try await db.sqlTransaction { sql in
            let from = status.reachableFrom.map { "'\($0.rawValue)'" }.joined(separator: ", ")
            guard !from.isEmpty, try await sql.raw("""
                UPDATE rail_payments SET status = \(bind: status.rawValue), reference = COALESCE(\(bind: reference), reference), reason = COALESCE(\(bind: reason), reason),
                    updated_ms = \(bind: nowMs)
                WHERE id = \(bind: id) AND status IN (\(unsafeRaw: from)) RETURNING id
                """).first() != nil else { return nil }
            try await event(id, status, source: source, detail: detail, nowMs: nowMs, on: sql)
            return try await find(id, on: sql)
        }
    }

    /// A note in a payment's history that does not move it (the ledger's answer, a notification refused).
    static func note(_ id: String, _ detail: String, source: String, nowMs: Int64, on sql: any SQLDatabase) async throws {
        guard let p = try await find(id, on: sql) else { return }
        try await event(id, p.status, source: source, detail: detail, nowMs: nowMs, on: sql)
    }

    private static func event(_ id: String, _ status: PaymentStatus, source: String, detail: String, nowMs: Int64, on sql: any SQLDatabase) async throws {
        try await sql.raw("""
            INSERT INTO rail_payment_events (payment_id, seq, status, source, detail, at_ms)
            SELECT \(bind: id), COALESCE(MAX(seq), 0) + 1, \(bind: status.rawValue), \(bind: source), \(bind: detail), \(bind: nowMs) FROM rail_payment_events WHERE payment_id = \(bind: id)
            """).run()
    }
}

/// The rail an org pays by (a bank's payouts, a core enterprise's settlements), as its admin
/// chose. With no choice made, e-CNY where both sides have wallets, else a bank transfer where
/// both have bank accounts. `manual`: confirmed by hand, whatever accounts there are.
enum PaysBy: String, CaseIterable, Sendable {
    case ecny, bank, manual

    static func of(_ org: OrgID, on sql: any SQLDatabase) async throws -> PaysBy? {
        try await sql.raw("SELECT rail FROM payment_rail_choices WHERE org_id = \(bind: org.description)").first()
            .map { row in
                let text = try row.decode(column: "rail", as: String.self)
                guard let choice = PaysBy(rawValue: text) else { throw StoreDamage("payment rail choice \(text)") }
                return choice
            }
    }

    static func choose(_ choice: PaysBy?, for org: OrgID, on sql: any SQLDatabase, nowMs: Int64) async throws {
        try await sql.raw("DELETE FROM payment_rail_choices WHERE org_id = \(bind: org.description)").run()
        guard let choice else { return }
        try await sql.raw("INSERT INTO payment_rail_choices (org_id, rail, updated_ms) VALUES (\(bind: org.description), \(bind: choice.rawValue), \(bind: nowMs))").run()
    }

    /// The rails an org's payment may go by, in the order tried: its choice, or both.
    static func rails(for org: OrgID, on sql: any SQLDatabase) async throws -> [String] {
        switch try await of(org, on: sql) {
        case .manual: []
        case .some(let rail): [rail.rawValue]
        case nil: ["ecny", "bank"]
        }
    }
}

/// An org's account on a rail.
struct PaymentAccount: Sendable, Equatable {
    var orgId: OrgID
    var rail: String
    var account: String
    var accountName: String
    /// The account's bank: its CNAPS participant code.
    var agent: String
    /// That bank as an org of the platform, when it is one.
    var agentOrgId: OrgID?

    static func find(_ org: OrgID, rail: String, on sql: any SQLDatabase) async throws -> PaymentAccount? {
        try await sql.raw("SELECT account, account_name, agent, agent_org_id FROM payment_accounts WHERE org_id = \(bind: org.description) AND rail = \(bind: rail)").first().map { row in
            PaymentAccount(orgId: org, rail: rail, account: try row.decode(column: "account", as: String.self), accountName: try row.decode(column: "account_name", as: String.self),
                           agent: try row.decode(column: "agent", as: String.self), agentOrgId: try row.decode(column: "agent_org_id", as: String?.self).flatMap(OrgID.init))
        }
    }

    func save(on sql: any SQLDatabase, nowMs: Int64) async throws {
        try await sql.raw("DELETE FROM payment_accounts WHERE org_id = \(bind: orgId.description) AND rail = \(bind: rail)").run()
        try await sql.raw("""
            INSERT INTO payment_accounts (org_id, rail, account, account_name, agent, agent_org_id, created_ms)
            VALUES (\(bind: orgId.description), \(bind: rail), \(bind: account), \(bind: accountName), \(bind: agent), \(bind: agentOrgId?.description), \(bind: nowMs))
            """).run()
    }

    var json: JSON {
        ["orgId": .string(orgId.description), "rail": .string(rail), "account": .string(account), "accountName": .string(accountName),
         "agent": .string(agent), "agentOrgId": agentOrgId.map { .string($0.description) } ?? .null]
    }

    var iso: ISO20022.Account { ISO20022.Account(number: account, name: accountName, bankCode: agent) }
}
