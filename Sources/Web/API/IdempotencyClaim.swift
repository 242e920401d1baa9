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
    package var keys: IdempotencyKeys { IdempotencyKeys(sql: sql, scope: scope, key: key) }

    /// What a replay answers instead of the body sent, when the body holds a secret shown once.
    package struct KeptAnswer: StorageKey { package typealias Value = String }

    /// Claims the key, or answers in place of the request: the first answer again, a conflict, or
    /// what became of a transaction the first request submitted without keeping an answer.
    package func take(running: NIOLockedValueBox<Set<String>>, req: Request) async throws -> Response? {
        while true {
            do {
                try await keys.claim(requestHash: requestHash, nowMs: req.application.wallClock.nowMs())
                running.withLockedValue { _ = $0.insert(id) }
                return nil
            } catch {
                guard let claimed = try await keys.claimed() else {
                    if Unavailable.databaseFault(error) != nil { throw error }
                    continue  // the key was let go between the two statements: claim it again
                }
                guard claimed.requestHash == requestHash else {
                    throw Problem(.idempotencyConflict, "Idempotency-Key \(key) was used before with a different request")
                }
                if claimed.status == 0 {
                    // Unanswered: still running here, or it ended (or the process did) before its answer was kept.
                    guard !running.withLockedValue({ $0.contains(id) }) else {
                        throw Problem(.idempotencyConflict, "the first request with Idempotency-Key \(key) is still being processed")
                    }
                    try await settle(submitted: claimed.transactionId, req: req)
                    continue
                }
                var headers = HTTPHeaders()
                if !claimed.contentType.isEmpty { headers.replaceOrAdd(name: .contentType, value: claimed.contentType) }
                headers.replaceOrAdd(name: "Idempotent-Replayed", value: "true")
                return Response(status: HTTPResponseStatus(statusCode: claimed.status), headers: headers, body: .init(string: claimed.body))
            }
        }
    }

    /// Records, before it is submitted, the transaction this request's operation becomes.
    package func note(_ transaction: TxID) async throws {
        try await keys.note(transaction)
    }

    /// A first request that ended without its answer kept. It submitted nothing: the key is let
    /// go. It submitted a transaction that was committed: the caller is told which (it is not
    /// submitted again). Not committed, and the writer back so that this is certain: the key is
    /// let go. The writer still away: 503.
    package func settle(submitted transactionId: String?, req: Request) async throws {
        if let transactionId {
            func committed() async throws {
                guard let id = TxID(transactionId), let height = try await ChainQueries.height(of: id, on: sql) else { return }
                throw Problem(.idempotencyConflict, "the first request with Idempotency-Key \(key) was committed as transaction \(transactionId) in block \(height); read it at /api/v1/transactions/\(transactionId)")
            }
            try await committed()
            guard let sequencer = req.application.sequencer, await sequencer.recovering == nil, await sequencer.broken == nil else {
                throw Unavailable("the writer is reconnecting to its database; whether transaction \(transactionId) was committed is not known yet")
            }
            // The writer is back, so the block's fate is settled: look once more, now that it is.
            try await committed()
        }
        try await keys.release()
    }
}
