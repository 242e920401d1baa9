import Core
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
package struct IdempotencyMiddleware: AsyncMiddleware {
    /// The largest body read here; the route's own limit still applies.
    package let maxBodyBytes: Int

    package func respond(to req: Request, chainingTo next: any AsyncResponder) async throws -> Response {
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
            response = try await LedgerService.SubmissionNote.$current.withValue({ try await claim.note($0) }) {
                try await next.respond(to: req)
            }
        } catch {
            response = ProblemMiddleware.response(for: error, request: req)
        }
        do {
            if response.status.code >= 500 {
                // Free for a retry, unless a transaction was submitted: then its fate decides.
                try await claim.keys.release(unlessSubmitted: true)
            } else {
                let text = response.storage[IdempotencyClaim.KeptAnswer.self] ?? response.body.buffer.map { String(buffer: $0) } ?? ""
                try await claim.keys.answer(status: Int(response.status.code), contentType: response.headers.first(name: .contentType) ?? "", body: text)
            }
        } catch {
            // The answer stands; the key stays unanswered, and a retry settles it as above.
            req.logger.warning("idempotency key \(key): the answer could not be kept (\(error))")
        }
        return response
    }
}

extension Application {
    private struct InFlightKey: StorageKey { typealias Value = NIOLockedValueBox<Set<String>> }

    /// The idempotency claims of requests this process is serving now. A claim in the database
    /// without an answer and not in here belongs to a request that ended without one.
    /// Set up once, in `configure`, before any request.
    package var idempotencyInFlight: NIOLockedValueBox<Set<String>> {
        get { storage[InFlightKey.self]! }
        set { storage[InFlightKey.self] = newValue }
    }
}
