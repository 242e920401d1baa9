import Foundation
import Ledger
import NIOConcurrencyHelpers
import SQLKit
import Vapor

/// `Idempotency-Key` on every POST (and PUT, PATCH, DELETE): the same key with the same request
/// replays the first answer; with a different request it is `409 idempotency_conflict`. Keys are
/// per user. The first request claims the key before it runs, so two racing copies cannot both
/// act: the second is told the first is still running. Answers with a client error are kept
/// (they would be the same again); a server error frees the key for a retry.
///
/// A ledger operation notes its transaction's id on the claim before it submits it. If the
/// request then ends without an answer being kept (the database went away, the block's fate was
/// unknown, the process was killed), a retry with the key learns what became of that transaction
/// instead of submitting the operation a second time: committed, it is told which transaction
/// it became; not committed, once the writer is back and that is certain, the request runs anew.
struct IdempotencyMiddleware: AsyncMiddleware {
    /// The largest body read here; the route's own limit still applies.
    let maxBodyBytes: Int

    func respond(to req: Request, chainingTo next: any AsyncResponder) async throws -> Response {
        guard [.POST, .PUT, .PATCH, .DELETE].contains(req.method), let key = req.headers.first(name: "Idempotency-Key") else {
            return try await next.respond(to: req)
        }
        guard (1...255).contains(key.utf8.count), key.unicodeScalars.allSatisfy({ $0.value >= 0x21 && $0.value <= 0x7E }) else {
            throw LedgerError.invalid("Idempotency-Key", "must be 1 to 255 visible ASCII characters")
        }
        let caller = try req.auth.require(Caller.self)
        let body = try await req.body.collect(max: maxBodyBytes).get()
        var material = Array("\(req.method.rawValue) \(req.url.path)\n".utf8)
        if let body { material += body.readableBytesView }
        let claim = IdempotencyClaim(scope: caller.userId, key: key, requestHash: Hashing.sha256Hex(material), sql: req.application.sql)
        let running = req.application.idempotencyInFlight
        if let replay = try await claim.take(running: running, req: req) { return replay }
        defer { running.withLockedValue { _ = $0.remove(claim.id) } }

        let response: Response
        do {
            response = try await IdempotencyClaim.$current.withValue(claim) { try await next.respond(to: req) }
        } catch {
            response = ProblemMiddleware.response(for: error, request: req)
        }
        do {
            if response.status.code >= 500 {
                // Free for a retry, unless a transaction was submitted: then its fate decides.
                try await claim.sql.delete(from: "idempotency_keys").where("scope", .equal, SQLBind(claim.scope)).where("key", .equal, SQLBind(key))
                    .where("transaction_id", .is, SQLLiteral.null).run()
            } else {
                let text = response.storage[IdempotencyClaim.KeptAnswer.self] ?? response.body.buffer.map { String(buffer: $0) } ?? ""
                try await claim.sql.update("idempotency_keys").set("status", to: SQLBind(Int(response.status.code)))
                    .set("content_type", to: SQLBind(response.headers.first(name: .contentType) ?? "")).set("body", to: SQLBind(text))
                    .where("scope", .equal, SQLBind(claim.scope)).where("key", .equal, SQLBind(key)).run()
            }
        } catch {
            // The answer stands; the key stays unanswered, and a retry settles it as above.
            req.logger.warning("idempotency key \(key): the answer could not be kept (\(error))")
        }
        return response
    }
}

/// One request's hold on its idempotency key.
struct IdempotencyClaim: Sendable {
    let scope: String
    let key: String
    let requestHash: String
    let sql: any SQLDatabase
    var id: String { scope + "\n" + key }

    /// What a replay answers instead of the body sent, when the body holds a secret shown once.
    struct KeptAnswer: StorageKey { typealias Value = String }

    /// The claim of the request this task is serving, if it sent a key.
    @TaskLocal static var current: IdempotencyClaim?

    /// Claims the key, or answers in place of the request: the first answer again, a conflict, or
    /// what became of a transaction the first request submitted without keeping an answer.
    func take(running: NIOLockedValueBox<Set<String>>, req: Request) async throws -> Response? {
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
    func note(_ transaction: TxID) async throws {
        try await sql.update("idempotency_keys").set("transaction_id", to: SQLBind(transaction.description))
            .where("scope", .equal, SQLBind(scope)).where("key", .equal, SQLBind(key)).run()
    }

    /// A first request that ended without its answer kept. It submitted nothing: the key is let
    /// go. It submitted a transaction that was committed: the caller is told which (it is not
    /// submitted again). Not committed, and the writer back so that this is certain: the key is
    /// let go. The writer still away: 503.
    func settle(submitted transactionId: String?, req: Request) async throws {
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

extension Application {
    private struct InFlightKey: StorageKey { typealias Value = NIOLockedValueBox<Set<String>> }

    /// The idempotency claims of requests this process is serving now. A claim in the database
    /// without an answer and not in here belongs to a request that ended without one.
    /// Set up once, in `configure`, before any request.
    var idempotencyInFlight: NIOLockedValueBox<Set<String>> {
        get { storage[InFlightKey.self]! }
        set { storage[InFlightKey.self] = newValue }
    }
}
