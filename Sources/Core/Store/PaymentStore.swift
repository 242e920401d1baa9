import FluentKit
import Foundation
import Ledger
import SQLKit
import class Vapor.Application
import protocol Vapor.StorageKey

/// Payments and their history in the database. Every change is one atomic step: of two
/// notifications saying the same thing at once, one moves the payment and the other changes nothing.
package enum PaymentStore {
    package static func find(_ id: String, on sql: any SQLDatabase) async throws -> Payment? {
        try await sql.raw("SELECT \(unsafeRaw: Payment.columns) FROM rail_payments WHERE id = \(bind: id)").first().map(Payment.init(row:))
    }

    /// The payments of a message the rail has answered (each is past `instructed`): a message
    /// handed over again does not ask for them.
    package static func answered(in messageId: String, rail: String, on sql: any SQLDatabase) async throws -> Set<String> {
        Set(try await sql.raw("""
            SELECT id FROM rail_payments WHERE rail = \(bind: rail) AND message_id = \(bind: messageId) AND status <> 'instructed'
            """).all().map { try $0.decode(column: "id", as: String.self) })
    }

    package struct Event: Sendable {
        package var status: String
        package var source: String
        package var detail: String
        package var atMs: Int64
    }

    package static func events(of id: String, on sql: any SQLDatabase) async throws -> [Event] {
        try await sql.raw("SELECT status, source, detail, at_ms FROM rail_payment_events WHERE payment_id = \(bind: id) ORDER BY seq").all().map { row in
            Event(status: try row.decode(column: "status", as: String.self), source: try row.decode(column: "source", as: String.self),
                  detail: try row.decode(column: "detail", as: String.self), atMs: try row.decode(column: "at_ms", as: Int64.self))
        }
    }

    package static func history(of id: String, on sql: any SQLDatabase) async throws -> [JSON] {
        try await events(of: id, on: sql).map { e in
            ["status": .string(e.status), "source": .string(e.source), "detail": .string(e.detail), "at": .string(Time.rfc3339(e.atMs))]
        }
    }

    /// One attempt at a payment: a payout's, or a settled piece's, the latest first.
    package struct Attempt: Sendable {
        package var id: String
        package var status: String
        package var isOver: Bool { status == PaymentStatus.failed.rawValue || status == PaymentStatus.returned.rawValue }
    }

    /// The attempts at paying out a financing (or paying an early payment), the latest first.
    package static func attempts(paying subject: TxID, kind: PaymentKind, on sql: any SQLDatabase) async throws -> [Attempt] {
        try await attempts(sql.raw("SELECT id, status FROM rail_payments WHERE kind = \(bind: kind.rawValue) AND subject_id = \(bind: subject.description) ORDER BY created_ms DESC, id"))
    }

    /// The attempts at paying a piece, at settlement or early, the latest first: a piece whose
    /// early payment is on its way is not paid again at maturity.
    package static func attempts(settling token: TokenID, on sql: any SQLDatabase) async throws -> [Attempt] {
        try await attempts(sql.raw("SELECT id, status FROM rail_payments WHERE token_id = \(bind: token.description) ORDER BY created_ms DESC, id"))
    }

    private static func attempts(_ query: SQLRawBuilder) async throws -> [Attempt] {
        try await query.all().map { Attempt(id: try $0.decode(column: "id", as: String.self), status: try $0.decode(column: "status", as: String.self)) }
    }

    /// An instruction stored to go out on `rail`.
    package static func outgoing(_ id: String, rail: String, on sql: any SQLDatabase) async throws -> RailMessage? {
        try await sql.raw("""
            SELECT kind, org_id, body, created_ms FROM rail_messages WHERE rail = \(bind: rail) AND direction = 'out' AND id = \(bind: id)
            """).first().map { row in
            RailMessage(id: id, rail: rail, kind: try row.decode(column: "kind", as: String.self),
                        orgId: try row.decode(column: "org_id", as: String?.self).flatMap(OrgID.init), body: try row.decode(column: "body", as: String.self),
                        createdMs: try row.decode(column: "created_ms", as: Int64.self))
        }
    }

    /// The ids of the instructions for `rail` not yet handed over.
    package static func undelivered(on rail: String, on sql: any SQLDatabase) async throws -> [String] {
        try await sql.raw("SELECT id FROM rail_messages WHERE rail = \(bind: rail) AND direction = 'out' AND delivered_ms IS NULL ORDER BY created_ms, id").all()
            .map { try $0.decode(column: "id", as: String.self) }
    }

    /// Notes when an instruction reached its rail (the first time only).
    package static func delivered(_ id: String, rail: String, nowMs: Int64, on sql: any SQLDatabase) async throws {
        try await sql.raw("""
            UPDATE rail_messages SET delivered_ms = \(bind: nowMs) WHERE rail = \(bind: rail) AND direction = 'out' AND id = \(bind: id) AND delivered_ms IS NULL
            """).run()
    }

    /// Keeps a notification a rail sent (once: the same message again is kept once).
    package static func received(_ id: String, rail: String, from bank: OrgID?, body: String, nowMs: Int64, on sql: any SQLDatabase) async throws {
        try await sql.raw("""
            INSERT INTO rail_messages (id, rail, direction, kind, org_id, body, created_ms) VALUES
            (\(bind: id), \(bind: rail), 'in', 'notification', \(bind: bank?.description), \(bind: body), \(bind: nowMs))
            ON CONFLICT DO NOTHING
            """).run()
    }

    /// Links a payment to the ledger transaction that recorded it.
    package static func recorded(_ id: String, as transaction: TxID, on sql: any SQLDatabase) async throws {
        try await sql.raw("UPDATE rail_payments SET transaction_id = \(bind: transaction.description) WHERE id = \(bind: id)").run()
    }

    /// Payments on their way (instructed or accepted), the oldest first.
    package static func onTheirWay(on sql: any SQLDatabase) async throws -> [Payment] {
        try await sql.raw("SELECT \(unsafeRaw: Payment.columns) FROM rail_payments WHERE status IN ('instructed', 'accepted') ORDER BY created_ms, id").all().map(Payment.init(row:))
    }

    /// Settled payments the ledger has not recorded, whose financing or piece still waits for them.
    package static func settledNotRecorded(on sql: any SQLDatabase) async throws -> [Payment] {
        try await sql.raw("""
            SELECT \(unsafeRaw: Payment.columns) FROM rail_payments WHERE status = 'settled' AND transaction_id IS NULL
                AND ((kind = 'payout' AND subject_id IN (SELECT id FROM financings WHERE status = 'approved'))
                  OR (kind = 'settlement' AND token_id IN (SELECT id FROM tokens WHERE status IN ('active', 'locked')))
                  OR (kind = 'early_payment' AND subject_id IN (SELECT id FROM early_payments WHERE status = 'approved')))
            ORDER BY created_ms, id
            """).all().map(Payment.init(row:))
    }

    /// Approved financings with no payout payment yet.
    package static func approvedWithoutPayout(on sql: any SQLDatabase) async throws -> [Financing] {
        try await sql.raw("""
            SELECT \(unsafeRaw: FinancingQueries.columns) FROM financings f
            WHERE f.status = 'approved' AND NOT EXISTS (SELECT 1 FROM rail_payments p WHERE p.subject_id = f.id AND p.kind = 'payout')
            ORDER BY f.id
            """).all().map { try RowReader($0, "financings").financing }
    }

    /// Stores an instruction: its message and its payments, instructed, in one transaction.
    /// Payments that exist already (instructed before) are left as they are, and so is the message.
    package static func instruct(_ payments: [Payment], message: RailMessage, on db: any Database) async throws {
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
    package static func move(_ id: String, to status: PaymentStatus, reference: String?, reason: String?, source: String, detail: String,
                     nowMs: Int64, on db: any Database) async throws -> Payment? {
        try await db.sqlTransaction { sql in
            let from = status.reachableFrom.map { "'\($0.rawValue)'" }.joined(separator: ", ")
            guard !from.isEmpty, try await sql.raw("""
                UPDATE rail_payments SET status = \(bind: status.rawValue), reference = COALESCE(\(bind: reference), reference), reason = COALESCE(\(bind: reason), reason),
                    updated_ms = \(bind: nowMs)
                WHERE id = \(bind: id) AND status IN (\(unsafeRaw: from)) RETURNING id
                """).first() != nil else { return nil }
            try await event(id, status, source: source, detail: detail, nowMs: nowMs, on: sql)
            // Its money has left the wallet, or never will: what its balance check reserved is free.
            if [.settled, .failed, .returned].contains(status) { try await BalanceHolds.release([id], on: sql) }
            return try await find(id, on: sql)
        }
    }

    /// A note in a payment's history that does not move it (the ledger's answer, a notification refused).
    package static func note(_ id: String, _ detail: String, source: String, nowMs: Int64, on sql: any SQLDatabase) async throws {
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
