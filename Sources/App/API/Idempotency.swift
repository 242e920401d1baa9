import Foundation
import Ledger
import SQLKit
import Vapor

/// `Idempotency-Key` on every POST (and PUT, PATCH, DELETE): the same key with the same request
/// replays the first answer; with a different request it is `409 idempotency_conflict`. Keys are
/// per user. The first request claims the key before it runs, so two racing copies cannot both
/// act: the second is told the first is still running. Answers with a client error are kept
/// (they would be the same again); a server error frees the key for a retry.
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
        let requestHash = Hashing.sha256Hex(material)
        let sql = req.application.sql
        let scope = caller.userId
        do {
            try await sql.insert(into: "idempotency_keys").columns("scope", "key", "request_hash", "status", "content_type", "body", "created_ms")
                .values(SQLBind(scope), SQLBind(key), SQLBind(requestHash), SQLBind(0), SQLBind(""), SQLBind(""), SQLBind(req.application.wallClock.nowMs()))
                .run()
        } catch {
            guard let row = try await sql.raw("SELECT request_hash, status, content_type, body FROM idempotency_keys WHERE scope = \(bind: scope) AND key = \(bind: key)").first() else {
                throw error
            }
            guard try row.decode(column: "request_hash", as: String.self) == requestHash else {
                throw Problem(.idempotencyConflict, "Idempotency-Key \(key) was used before with a different request")
            }
            let status = try row.decode(column: "status", as: Int.self)
            guard status != 0 else { throw Problem(.idempotencyConflict, "the first request with Idempotency-Key \(key) is still being processed") }
            var headers = HTTPHeaders()
            let contentType = try row.decode(column: "content_type", as: String.self)
            if !contentType.isEmpty { headers.replaceOrAdd(name: .contentType, value: contentType) }
            headers.replaceOrAdd(name: "Idempotent-Replayed", value: "true")
            return Response(status: HTTPResponseStatus(statusCode: status), headers: headers, body: .init(string: try row.decode(column: "body", as: String.self)))
        }
        let response: Response
        do {
            response = try await next.respond(to: req)
        } catch {
            response = ProblemMiddleware.response(for: error, request: req)
        }
        if response.status.code >= 500 {
            try await sql.delete(from: "idempotency_keys").where("scope", .equal, SQLBind(scope)).where("key", .equal, SQLBind(key)).run()
        } else {
            let text = response.body.buffer.map { String(buffer: $0) } ?? ""
            try await sql.update("idempotency_keys").set("status", to: SQLBind(Int(response.status.code)))
                .set("content_type", to: SQLBind(response.headers.first(name: .contentType) ?? "")).set("body", to: SQLBind(text))
                .where("scope", .equal, SQLBind(scope)).where("key", .equal, SQLBind(key)).run()
        }
        return response
    }
}
