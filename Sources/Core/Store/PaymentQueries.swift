import Foundation
import Ledger
import SQLKit

/// The payments the rails carry, as their payer, their payee, the regulator and the operator see
/// them; to anyone else a payment does not exist.
package enum PaymentQueries {
    /// Which payments a list may show: all, or only those of one status, kind, financing's payout
    /// or receivable's settlement.
    package struct Filter: Sendable {
        package var status: PaymentStatus?
        package var kind: PaymentKind?
        package var financingId: TxID?
        package var receivableId: TxID?

        package init(status: PaymentStatus? = nil, kind: PaymentKind? = nil, financingId: TxID? = nil, receivableId: TxID? = nil) {
            self.status = status
            self.kind = kind
            self.financingId = financingId
            self.receivableId = receivableId
        }
    }

    static func visible(_ viewer: Viewer) -> SQLQueryString {
        viewer.seesAll ? "1 = 1" : "(payer_id = \(bind: viewer.orgId.description) OR payee_id = \(bind: viewer.orgId.description))"
    }

    /// The payments `viewer` may see, newest first, a page at a time.
    package static func list(_ filter: Filter, visibleTo viewer: Viewer, page: Page, on sql: any SQLDatabase) async throws -> Page.Rows<Payment> {
        var query: SQLQueryString = "SELECT \(unsafeRaw: Payment.columns) FROM rail_payments WHERE "
        query += visible(viewer)
        if let status = filter.status { query += " AND status = \(bind: status.rawValue)" }
        if let kind = filter.kind { query += " AND kind = \(bind: kind.rawValue)" }
        if let f = filter.financingId { query += " AND kind = 'payout' AND subject_id = \(bind: f.description)" }
        if let r = filter.receivableId { query += " AND kind = 'settlement' AND subject_id = \(bind: r.description)" }
        return try await page.rows(query, keys: ["created_ms", "id"], descending: true, on: sql) { row in
            let p = try Payment(row: row)
            return (p, [.int(p.createdMs), .string(p.id)])
        }
    }

    /// The payments `viewer` may see that changed last: the reconciliation page's list.
    package static func recentlyChanged(visibleTo viewer: Viewer, limit: Int = 200, on sql: any SQLDatabase) async throws -> [Payment] {
        var query: SQLQueryString = "SELECT \(unsafeRaw: Payment.columns) FROM rail_payments WHERE "
        query += visible(viewer)
        query += " ORDER BY updated_ms DESC, id LIMIT \(literal: limit)"
        return try await sql.raw(query).all().map { try Payment(row: $0) }
    }

    /// The payments of `kind` paying `subject` (an early payment, a financing's payout) that
    /// `viewer` may see, oldest first.
    package static func paying(_ subject: TxID, kind: PaymentKind, visibleTo viewer: Viewer, on sql: any SQLDatabase) async throws -> [Payment] {
        try await sql.raw("""
            SELECT \(unsafeRaw: Payment.columns) FROM rail_payments WHERE subject_id = \(bind: subject.description) AND kind = \(bind: kind.rawValue) AND \(visible(viewer))
            ORDER BY created_ms, id
            """).all().map { try Payment(row: $0) }
    }

    /// A payment, if `viewer` may see it.
    package static func find(_ id: String, visibleTo viewer: Viewer, on sql: any SQLDatabase) async throws -> Payment? {
        try await sql.raw("SELECT \(unsafeRaw: Payment.columns) FROM rail_payments WHERE id = \(bind: id) AND \(visible(viewer))").first().map { try Payment(row: $0) }
    }

    /// Every attempt at what `payment` pays (the same payout, or the same piece's settlement), oldest first.
    package static func attempts(like payment: Payment, on sql: any SQLDatabase) async throws -> [Payment] {
        var query: SQLQueryString = "SELECT \(unsafeRaw: Payment.columns) FROM rail_payments WHERE subject_id = \(bind: payment.subjectId.description) AND kind = \(bind: payment.kind.rawValue)"
        if let token = payment.tokenId { query += " AND token_id = \(bind: token.description)" }
        query += " ORDER BY created_ms, id"
        return try await sql.raw(query).all().map { try Payment(row: $0) }
    }

    // MARK: The bank rail's instructions

    /// A pain.001 file the platform made for a bank, without its body.
    package struct Instruction: Sendable {
        package var id: String
        package var kind: String
        package var payerId: String?
        package var createdMs: Int64
        package var deliveredMs: Int64?
    }

    /// The instructions a bank takes from the platform: its own (a bank paying out) and those of
    /// the accounts it keeps (a core enterprise's settlement from its account there); every one
    /// for the regulator and the operator.
    static func instructionsFor(_ viewer: Viewer) throws -> SQLQueryString {
        if viewer.seesAll { return "rail = 'bank' AND direction = 'out'" }
        guard viewer.role == .bank else { throw LedgerError(.forbidden, "a bank takes the instructions of the accounts it keeps") }
        let bank = viewer.orgId.description
        return """
            rail = 'bank' AND direction = 'out' AND (org_id = \(bind: bank)
                OR org_id IN (SELECT org_id FROM payment_accounts WHERE rail = 'bank' AND agent_org_id = \(bind: bank)))
            """
    }

    /// Newest first, a page at a time.
    package static func instructions(visibleTo viewer: Viewer, page: Page, on sql: any SQLDatabase) async throws -> Page.Rows<Instruction> {
        var query: SQLQueryString = "SELECT id, kind, org_id, created_ms, delivered_ms FROM rail_messages WHERE "
        query += try instructionsFor(viewer)
        return try await page.rows(query, keys: ["created_ms", "id"], descending: true, on: sql) { row in
            let i = Instruction(id: try row.decode(column: "id", as: String.self), kind: try row.decode(column: "kind", as: String.self),
                                payerId: try row.decode(column: "org_id", as: String?.self), createdMs: try row.decode(column: "created_ms", as: Int64.self),
                                deliveredMs: try row.decode(column: "delivered_ms", as: Int64?.self))
            return (i, [.int(i.createdMs), .string(i.id)])
        }
    }

    /// The pain.001.001.09 document itself, as it was made, if `viewer` takes it.
    package static func instructionBody(_ id: String, visibleTo viewer: Viewer, on sql: any SQLDatabase) async throws -> String? {
        var query: SQLQueryString = "SELECT body FROM rail_messages WHERE id = \(bind: id) AND "
        query += try instructionsFor(viewer)
        return try await sql.raw(query).first().map { try $0.decode(column: "body", as: String.self) }
    }
}
