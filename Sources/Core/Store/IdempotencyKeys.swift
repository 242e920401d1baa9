import Foundation
import Ledger
import SQLKit

/// The `idempotency_keys` table: each key a caller sent with a write, scoped to the caller, with
/// the hash of its request, the transaction it submitted, and the answer once there is one.
package struct IdempotencyKeys: Sendable {
    package let sql: any SQLDatabase
    package let scope: String
    package let key: String

    package init(sql: any SQLDatabase, scope: String, key: String) {
        self.sql = sql
        self.scope = scope
        self.key = key
    }

    /// What the table holds for a key someone already claimed.
    package struct Claimed: Sendable {
        package var requestHash: String
        /// 0 while unanswered.
        package var status: Int
        package var contentType: String
        package var body: String
        package var transactionId: String?
    }

    /// Claims the key for a request; throws when it cannot, which is most often because someone
    /// holds it already (see `claimed`).
    package func claim(requestHash: String, nowMs: Int64) async throws {
        try await sql.insert(into: "idempotency_keys").columns("scope", "key", "request_hash", "status", "content_type", "body", "created_ms")
            .values(SQLBind(scope), SQLBind(key), SQLBind(requestHash), SQLBind(0), SQLBind(""), SQLBind(""), SQLBind(nowMs))
            .run()
    }

    /// The claim held on the key; nil once it was let go.
    package func claimed() async throws -> Claimed? {
        try await sql.raw("""
            SELECT request_hash, status, content_type, body, transaction_id FROM idempotency_keys WHERE scope = \(bind: scope) AND key = \(bind: key)
            """).first().map {
            Claimed(requestHash: try $0.decode(column: "request_hash", as: String.self), status: try $0.decode(column: "status", as: Int.self),
                    contentType: try $0.decode(column: "content_type", as: String.self), body: try $0.decode(column: "body", as: String.self),
                    transactionId: try $0.decode(column: "transaction_id", as: String?.self))
        }
    }

    /// Records, before it is submitted, the transaction the request's operation becomes.
    package func note(_ transaction: TxID) async throws {
        try await sql.update("idempotency_keys").set("transaction_id", to: SQLBind(transaction.description))
            .where("scope", .equal, SQLBind(scope)).where("key", .equal, SQLBind(key)).run()
    }

    /// Keeps the request's answer, for a retry to get again.
    package func answer(status: Int, contentType: String, body: String) async throws {
        try await sql.update("idempotency_keys").set("status", to: SQLBind(status))
            .set("content_type", to: SQLBind(contentType)).set("body", to: SQLBind(body))
            .where("scope", .equal, SQLBind(scope)).where("key", .equal, SQLBind(key)).run()
    }

    /// Lets the key go, for a retry to claim it again; with `unlessSubmitted`, only if the request
    /// submitted no transaction (whose fate then decides).
    package func release(unlessSubmitted: Bool = false) async throws {
        var delete = sql.delete(from: "idempotency_keys").where("scope", .equal, SQLBind(scope)).where("key", .equal, SQLBind(key))
        if unlessSubmitted { delete = delete.where("transaction_id", .is, SQLLiteral.null) }
        try await delete.run()
    }
}
