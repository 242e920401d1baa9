import Core
import Foundation
import Ledger
import NIOConcurrencyHelpers
import SQLKit
import Vapor

/// One request's hold on its idempotency key.
package struct IdempotencyClaim: Sendable {
    package let scope: String
    package let key: String
    package let requestHash: String
    package let sql: any SQLDatabase
    package var id: String { scope + "\n" + key }

    /// What a replay answers instead of the body sent, when the body holds a secret shown once.
    package struct KeptAnswer: StorageKey { package typealias Value = String }

    /// Claims the key, or answers in place of the request: the first answer again, a conflict, or
    /// what became of a transaction the first request submitted without keeping an answer.
    package func take(running: NIOLockedValueBox<Set<String>>, req: Request) async throws -> Response? {
        while true {
            do {
                try await sql.insert(into: "idempotency_keys").columns("scope", "key", "request_hash", "status", "content_type", "body", "created_ms")
                    .values(SQLBind(scope), SQLBind(key), SQLBind(requestHash), SQLBind(0), SQLBind(""), SQLBind(""), SQLBind(req.application.wallClock.nowMs()))
                    .run()
                running.withLockedValue { _ = $0.insert(id) }
                return nil
            } catch {
                guard let row = try await sql.raw("""
                    SELECT request_hash, status, content_type, body, transaction_id FROM idempotency_keys WHERE scope = \(bind: scope) AND key = \(bind: key)
                    """).first() else {
                    if Unavailable.databaseFault(error) != nil { throw error }
                    continue  // the key was let go between the two statements: claim it again
                }
                guard try row.decode(column: "request_hash", as: String.self) == requestHash else {
                    throw Problem(.idempotencyConflict, "Idempotency-Key \(key) was used before with a different request")
                }
                let status = try row.decode(column: "status", as: Int.self)
                if status == 0 {
                    // Unanswered: still running here, or it ended (or the process did) before its answer was kept.
                    guard !running.withLockedValue({ $0.contains(id) }) else {
                        throw Problem(.idempotencyConflict, "the first request with Idempotency-Key \(key) is still being processed")
                    }
                    try await settle(submitted: try row.decode(column: "transaction_id", as: String?.self), req: req)
                    continue
                }
                var headers = HTTPHeaders()
                let contentType = try row.decode(column: "content_type", as: String.self)
                if !contentType.isEmpty { headers.replaceOrAdd(name: .contentType, value: contentType) }
                headers.replaceOrAdd(name: "Idempotent-Replayed", value: "true")
                return Response(status: HTTPResponseStatus(statusCode: status), headers: headers, body: .init(string: try row.decode(column: "body", as: String.self)))
            }
        }
    }

    /// Records, before it is submitted, the transaction this request's operation becomes.
    package func note(_ transaction: TxID) async throws {
        try await sql.update("idempotency_keys").set("transaction_id", to: SQLBind(transaction.description))
            .where("scope", .equal, SQLBind(scope)).where("key", .equal, SQLBind(key)).run()
    }

    /// A first request that ended without its answer kept. It submitted nothing: the key is let
    /// go. It submitted a transaction that was committed: the caller is told which (it is not
    /// submitted again). Not committed, and the writer back so that this is certain: the key is
    /// let go. The writer still away: 503.
    package func settle(submitted transactionId: String?, req: Request) async throws {
        if let transactionId {
            func committed() async throws {
                guard let row = try await sql.raw("SELECT block_height FROM transactions WHERE id = \(bind: transactionId)").first() else { return }
                let height = try row.decode(column: "block_height", as: Int64.self)
                throw Problem(.idempotencyConflict, "the first request with Idempotency-Key \(key) was committed as transaction \(transactionId) in block \(height); read it at /api/v1/transactions/\(transactionId)")
            }
            try await committed()
            guard let sequencer = req.application.sequencer, await sequencer.recovering == nil, await sequencer.broken == nil else {
                throw Unavailable("the writer is reconnecting to its database; whether transaction \(transactionId) was committed is not known yet")
            }
            // The writer is back, so the block's fate is settled: look once more, now that it is.
            try await committed()
        }
        try await sql.delete(from: "idempotency_keys").where("scope", .equal, SQLBind(scope)).where("key", .equal, SQLBind(key)).run()
    }
}
