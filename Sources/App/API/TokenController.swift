import Foundation
import Ledger
import SQLKit
import Vapor

/// Token reads from the projections: `GET /tokens/{id}` and `GET /tokens/{id}/ancestry`.
/// Visible to the holder, the issuer of its receivable, the regulator and the operator; to
/// anyone else it does not exist (404). The holder of a token also sees its ancestry.
enum TokenController {
    static let columns = "t.id, t.receivable_id, t.parent_id, t.holder_id, t.amount_fen, t.tier, t.status, t.created_tx, t.spent_tx, r.issuer_id"

    struct Row {
        let json: JSON
        let holderId: String
        let issuerId: String
        let parentId: String?
    }

    static func fetch(_ id: String, on sql: any SQLDatabase) async throws -> Row? {
        guard let row = try await sql.raw("""
            SELECT \(unsafeRaw: columns) FROM tokens t JOIN receivables r ON r.id = t.receivable_id WHERE t.id = \(bind: id)
            """).first() else { return nil }
        func text(_ c: String) throws -> JSON { try row.decodeNil(column: c) ? .null : .string(try row.decode(column: c, as: String.self)) }
        let json: JSON = [
            "id": try text("id"), "receivableId": try text("receivable_id"), "parentId": try text("parent_id"),
            "holderId": try text("holder_id"), "amountFen": .int(try row.decode(column: "amount_fen", as: Int64.self)),
            "tier": .int(try row.decode(column: "tier", as: Int64.self)), "status": try text("status"),
            "createdTx": try text("created_tx"), "spentTx": try text("spent_tx"),
        ]
        return Row(json: json, holderId: try row.decode(column: "holder_id", as: String.self),
                   issuerId: try row.decode(column: "issuer_id", as: String.self), parentId: try text("parent_id").stringValue)
    }

    static func canSee(_ row: Row, caller: Caller, role: OrgRole?) -> Bool {
        role == .regulator || role == .operator || row.holderId == caller.orgId.description || row.issuerId == caller.orgId.description
    }

    @Sendable static func show(req: Request) async throws -> Response {
        let caller = try req.auth.require(Caller.self)
        let sql = req.application.sql
        guard let row = try await fetch(try req.tokenIdParameter().description, on: sql),
            canSee(row, caller: caller, role: try await Accounts.role(of: caller.orgId, on: sql))
        else { throw Problem(.notFound, "no such token") }
        return row.json.response()
    }

    /// `{items: [the token, its parent, …, the first token]}`.
    @Sendable static func ancestry(req: Request) async throws -> Response {
        let caller = try req.auth.require(Caller.self)
        let sql = req.application.sql
        guard let row = try await fetch(try req.tokenIdParameter().description, on: sql),
            canSee(row, caller: caller, role: try await Accounts.role(of: caller.orgId, on: sql))
        else { throw Problem(.notFound, "no such token") }
        var items = [row.json]
        var parent = row.parentId
        // Each step is one tier or one return up the tree; the bound only guards against a cycle.
        while let id = parent, items.count < 100_000, let next = try await fetch(id, on: sql) {
            items.append(next.json)
            parent = next.parentId
        }
        return JSON.object(["items": .array(items)]).response()
    }
}

extension Request {
    /// The `:id` path parameter as a token id, or 422 naming the field.
    func tokenIdParameter() throws -> TokenID {
        guard let text = parameters.get("id"), let id = TokenID(text) else {
            throw LedgerError.invalid("id", "must be a token id (32 lowercase hex characters)")
        }
        return id
    }
}
