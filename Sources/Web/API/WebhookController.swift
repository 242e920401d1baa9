import Core
import Foundation
import Ledger
import Vapor

/// `GET`/`POST /webhooks {url, events}`, `DELETE /webhooks/{id}`, `GET /webhooks/{id}/deliveries`:
/// an org's admin and the org's signed webhook endpoints.
package enum WebhookController {
    /// `POST /webhooks {url, events}` → 201 the endpoint with its `secret`, shown this once.
    @Sendable package static func create(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        let body = try StrictBody(req, allowed: ["url", "events"])
        let url = try body.string("url", maxLength: 2_048)!
        guard case .array(let listed)? = body.fields["events"] else { throw LedgerError.invalid("events", "must be an array of event types, or [\"*\"]") }
        let events = try listed.enumerated().map { index, item in
            guard let type = item.stringValue else { throw LedgerError.invalid("events[\(index)]", "must be a string") }
            return type
        }
        let created = try await WebhookService.register(url: url, events: events, by: viewer, app: req.application)
        guard case .object(var fields) = json(created.endpoint) else { throw StoreDamage("webhook") }
        // A replay with the same Idempotency-Key answers without the secret: it is never kept.
        let kept = JSON.object(fields.merging(["secret": .null]) { $1 })
        fields["secret"] = .string(created.secret)
        let response = JSON.object(fields).response(status: .created)
        response.storage[IdempotencyClaim.KeptAnswer.self] = kept.canonicalString
        return response
    }

    @Sendable package static func list(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        return JSON.object(["items": .array(try await WebhookService.endpoints(for: viewer, app: req.application).map(json))]).response()
    }

    @Sendable package static func delete(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        try await WebhookService.delete(try id(req), by: viewer, app: req.application)
        return Response(status: .noContent)
    }

    /// `{endpoint, items: [delivery with its attempts]}`, the latest 100, newest first.
    @Sendable package static func deliveries(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        let endpoint = try await WebhookService.endpoint(try id(req), for: viewer, app: req.application)
        let found = try await WebhookQueries.deliveries(of: endpoint.id, limit: 100, on: req.application.sql)
        return JSON.object(["endpoint": json(endpoint), "items": .array(found.map { delivery($0.0, attempts: $0.1) })]).response()
    }

    static func id(_ req: Request) throws -> String {
        guard let id = req.parameters.get("id"), UUID(uuidString: id) != nil, id == id.lowercased() else { throw Problem(.notFound, "no such webhook endpoint") }
        return id
    }

    package static func json(_ e: WebhookEndpoint) -> JSON {
        ["id": .string(e.id), "url": .string(e.url), "events": .array(e.events.map(JSON.string)), "status": .string(e.status),
         "disabledReason": e.disabledReason.map(JSON.string) ?? .null, "createdAt": .string(Time.rfc3339(e.createdMs)), "createdBy": .string(e.createdBy)]
    }

    package static func delivery(_ d: WebhookDelivery, attempts: [WebhookAttempt]) -> JSON {
        ["id": .string(d.id), "eventType": .string(d.eventType), "eventSeq": d.eventSeq.map(JSON.int) ?? .null, "status": .string(d.status),
         "attempts": .int(Int64(d.attempts)), "createdAt": .string(Time.rfc3339(d.createdMs)),
         "nextAttemptAt": d.status == "pending" ? d.nextAttemptMs.map { .string(Time.rfc3339($0)) } ?? .null : .null,
         "deliveredAt": d.deliveredMs.map { .string(Time.rfc3339($0)) } ?? .null,
         "lastHttpStatus": d.lastHTTPStatus.map { .int(Int64($0)) } ?? .null, "lastError": d.lastError.map(JSON.string) ?? .null,
         "attemptLog": .array(attempts.map { a in
             ["attempt": .int(Int64(a.attempt)), "at": .string(Time.rfc3339(a.atMs)), "httpStatus": a.httpStatus.map { .int(Int64($0)) } ?? .null,
              "error": a.error.map(JSON.string) ?? .null, "durationMs": .int(a.durationMs)]
         })]
    }
}
