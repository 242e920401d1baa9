import FluentKit
import Foundation
import Ledger
import SQLKit

/// An org's webhook endpoint as stored (its secret stays sealed here).
package struct WebhookEndpoint: Sendable, Equatable {
    package var id: String
    package var orgId: OrgID
    package var url: String
    package var events: [String]
    package var sealedSecret: String
    package var status: String
    package var disabledReason: String?
    package var afterSeq: Int64
    package var createdMs: Int64
    package var createdBy: String

    /// Whether the endpoint takes events of `type`.
    package func takes(_ type: String) -> Bool { events.contains("*") || events.contains(type) }
}

/// One event for one endpoint, and its attempts.
package struct WebhookDelivery: Sendable {
    package var id: String
    package var endpointId: String
    package var orgId: OrgID
    package var eventType: String
    package var eventSeq: Int64?
    package var body: String
    package var status: String
    package var attempts: Int
    package var nextAttemptMs: Int64?
    package var createdMs: Int64
    package var deliveredMs: Int64?
    package var lastHTTPStatus: Int?
    package var lastError: String?
}

package struct WebhookAttempt: Sendable {
    package var attempt: Int
    package var atMs: Int64
    package var httpStatus: Int?
    package var error: String?
    package var durationMs: Int64
}

package enum WebhookQueries {
    static let endpointColumns = "id, org_id, url, events, sealed_secret, status, disabled_reason, after_seq, created_ms, created_by"
    static let deliveryColumns = "id, endpoint_id, org_id, event_type, event_seq, body, status, attempts, next_attempt_ms, created_ms, delivered_ms, last_http_status, last_error"

    package static func create(_ e: WebhookEndpoint, on sql: any SQLDatabase) async throws {
        try await sql.raw("""
            INSERT INTO webhook_endpoints (id, org_id, url, events, sealed_secret, status, after_seq, created_ms, created_by, updated_ms)
            VALUES (\(bind: e.id), \(bind: e.orgId.description), \(bind: e.url), \(bind: JSON.array(e.events.map(JSON.string)).canonicalString), \(bind: e.sealedSecret),
                    'active', \(bind: e.afterSeq), \(bind: e.createdMs), \(bind: e.createdBy), \(bind: e.createdMs))
            """).run()
    }

    /// The org's endpoints (deleted ones aside), oldest first.
    package static func endpoints(of org: OrgID, on sql: any SQLDatabase) async throws -> [WebhookEndpoint] {
        try await sql.raw("SELECT \(unsafeRaw: endpointColumns) FROM webhook_endpoints WHERE org_id = \(bind: org.description) AND status <> 'deleted' ORDER BY created_ms, id")
            .all().map(endpoint)
    }

    package static func endpoint(_ id: String, of org: OrgID, on sql: any SQLDatabase) async throws -> WebhookEndpoint? {
        try await sql.raw("SELECT \(unsafeRaw: endpointColumns) FROM webhook_endpoints WHERE id = \(bind: id) AND org_id = \(bind: org.description) AND status <> 'deleted'")
            .first().map(endpoint)
    }

    /// Every active endpoint, for the enqueuer and the sender.
    package static func active(on sql: any SQLDatabase) async throws -> [WebhookEndpoint] {
        try await sql.raw("SELECT \(unsafeRaw: endpointColumns) FROM webhook_endpoints WHERE status = 'active' ORDER BY id").all().map(endpoint)
    }

    package static func delete(_ id: String, of org: OrgID, nowMs: Int64, on db: any Database) async throws -> Bool {
        try await db.sqlTransaction { sql in
            guard try await sql.raw("""
                UPDATE webhook_endpoints SET status = 'deleted', updated_ms = \(bind: nowMs) WHERE id = \(bind: id) AND org_id = \(bind: org.description) AND status <> 'deleted' RETURNING id
                """).first() != nil else { return false }
            // What was waiting for it is not sent.
            try await sql.raw("UPDATE webhook_deliveries SET status = 'failed', next_attempt_ms = NULL, last_error = 'the endpoint was deleted' WHERE endpoint_id = \(bind: id) AND status = 'pending'").run()
            return true
        }
    }

    package static func disable(_ id: String, reason: String, nowMs: Int64, on sql: any SQLDatabase) async throws {
        try await sql.raw("""
            UPDATE webhook_endpoints SET status = 'disabled', disabled_reason = \(bind: reason), updated_ms = \(bind: nowMs) WHERE id = \(bind: id) AND status = 'active'
            """).run()
    }

    /// The org's last event's number: a new endpoint is given what happens after it.
    package static func lastEventSeq(of org: OrgID, on sql: any SQLDatabase) async throws -> Int64 {
        try await sql.raw("SELECT MAX(seq) AS seq FROM events WHERE org_id = \(bind: org.description)").first()?.decode(column: "seq", as: Int64?.self) ?? 0
    }

    /// The endpoint's events after its mark, up to `limit`: `(seq, timeMs, type, transactionId, summary, summaryZh)`.
    package static func events(for e: WebhookEndpoint, limit: Int, on sql: any SQLDatabase) async throws -> [EventQueries.Event] {
        try await sql.raw("""
            SELECT \(unsafeRaw: EventQueries.columns) FROM events WHERE org_id = \(bind: e.orgId.description) AND seq > \(bind: e.afterSeq) ORDER BY seq LIMIT \(bind: limit)
            """).all().map(EventQueries.event)
    }

    /// Stores deliveries and moves the endpoint's mark past the events they carry, in one
    /// transaction: an event is given to an endpoint once, and never lost between the two.
    package static func enqueue(_ deliveries: [WebhookDelivery], endpoint: String, afterSeq: Int64?, on db: any Database) async throws {
        try await db.sqlTransaction { sql in
            for d in deliveries {
                try await sql.raw("""
                    INSERT INTO webhook_deliveries (id, endpoint_id, org_id, event_type, event_seq, body, status, attempts, next_attempt_ms, created_ms)
                    VALUES (\(bind: d.id), \(bind: d.endpointId), \(bind: d.orgId.description), \(bind: d.eventType), \(bind: d.eventSeq), \(bind: d.body), 'pending', 0,
                            \(bind: d.nextAttemptMs), \(bind: d.createdMs))
                    """).run()
            }
            if let afterSeq {
                try await sql.raw("UPDATE webhook_endpoints SET after_seq = \(bind: afterSeq) WHERE id = \(bind: endpoint) AND after_seq < \(bind: afterSeq)").run()
            }
        }
    }

    /// Deliveries due by `nowMs` of active endpoints, oldest first.
    package static func due(nowMs: Int64, limit: Int, on sql: any SQLDatabase) async throws -> [WebhookDelivery] {
        try await sql.raw("""
            SELECT \(unsafeRaw: deliveryColumns.split(separator: ",").map { "d." + $0.trimmingCharacters(in: .whitespaces) }.joined(separator: ", "))
            FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
            WHERE d.status = 'pending' AND d.next_attempt_ms <= \(bind: nowMs) AND e.status = 'active'
            ORDER BY d.next_attempt_ms, d.created_ms LIMIT \(bind: limit)
            """).all().map(delivery)
    }

    /// An attempt and where it leaves the delivery, together.
    package static func record(_ attempt: WebhookAttempt, of d: WebhookDelivery, status: String, nextAttemptMs: Int64?, on db: any Database) async throws {
        try await db.sqlTransaction { sql in
            try await sql.raw("""
                INSERT INTO webhook_attempts (delivery_id, attempt, at_ms, http_status, error, duration_ms)
                VALUES (\(bind: d.id), \(bind: Int64(attempt.attempt)), \(bind: attempt.atMs), \(bind: attempt.httpStatus.map(Int64.init)), \(bind: attempt.error), \(bind: attempt.durationMs))
                """).run()
            try await sql.raw("""
                UPDATE webhook_deliveries SET status = \(bind: status), attempts = \(bind: Int64(attempt.attempt)), next_attempt_ms = \(bind: nextAttemptMs),
                    delivered_ms = \(bind: status == "delivered" ? attempt.atMs : nil), last_http_status = \(bind: attempt.httpStatus.map(Int64.init)), last_error = \(bind: attempt.error)
                WHERE id = \(bind: d.id) AND status = 'pending'
                """).run()
        }
    }

    /// The endpoint's latest deliveries, newest first, with their attempts.
    package static func deliveries(of endpoint: String, limit: Int, on sql: any SQLDatabase) async throws -> [(WebhookDelivery, [WebhookAttempt])] {
        let found = try await sql.raw("""
            SELECT \(unsafeRaw: deliveryColumns) FROM webhook_deliveries WHERE endpoint_id = \(bind: endpoint) ORDER BY created_ms DESC, id DESC LIMIT \(bind: limit)
            """).all().map(delivery)
        guard !found.isEmpty else { return [] }
        var attempts: [String: [WebhookAttempt]] = [:]
        for row in try await sql.raw("""
            SELECT delivery_id, attempt, at_ms, http_status, error, duration_ms FROM webhook_attempts WHERE delivery_id IN (\(binds: found.map(\.id))) ORDER BY attempt
            """).all() {
            attempts[try row.decode(column: "delivery_id", as: String.self), default: []].append(
                WebhookAttempt(attempt: Int(try row.decode(column: "attempt", as: Int64.self)), atMs: try row.decode(column: "at_ms", as: Int64.self),
                               httpStatus: try row.decode(column: "http_status", as: Int64?.self).map(Int.init), error: try row.decode(column: "error", as: String?.self),
                               durationMs: try row.decode(column: "duration_ms", as: Int64.self)))
        }
        return found.map { ($0, attempts[$0.id] ?? []) }
    }

    static func endpoint(_ row: any SQLRow) throws -> WebhookEndpoint {
        guard let org = OrgID(try row.decode(column: "org_id", as: String.self)),
              case .array(let events) = try JSON.parse(try row.decode(column: "events", as: String.self)) else { throw StoreDamage("webhook_endpoints") }
        return WebhookEndpoint(id: try row.decode(column: "id", as: String.self), orgId: org, url: try row.decode(column: "url", as: String.self),
                               events: events.compactMap(\.stringValue), sealedSecret: try row.decode(column: "sealed_secret", as: String.self),
                               status: try row.decode(column: "status", as: String.self), disabledReason: try row.decode(column: "disabled_reason", as: String?.self),
                               afterSeq: try row.decode(column: "after_seq", as: Int64.self), createdMs: try row.decode(column: "created_ms", as: Int64.self),
                               createdBy: try row.decode(column: "created_by", as: String.self))
    }

    static func delivery(_ row: any SQLRow) throws -> WebhookDelivery {
        guard let org = OrgID(try row.decode(column: "org_id", as: String.self)) else { throw StoreDamage("webhook_deliveries") }
        return WebhookDelivery(id: try row.decode(column: "id", as: String.self), endpointId: try row.decode(column: "endpoint_id", as: String.self), orgId: org,
                               eventType: try row.decode(column: "event_type", as: String.self), eventSeq: try row.decode(column: "event_seq", as: Int64?.self),
                               body: try row.decode(column: "body", as: String.self), status: try row.decode(column: "status", as: String.self),
                               attempts: Int(try row.decode(column: "attempts", as: Int64.self)), nextAttemptMs: try row.decode(column: "next_attempt_ms", as: Int64?.self),
                               createdMs: try row.decode(column: "created_ms", as: Int64.self), deliveredMs: try row.decode(column: "delivered_ms", as: Int64?.self),
                               lastHTTPStatus: try row.decode(column: "last_http_status", as: Int64?.self).map(Int.init), lastError: try row.decode(column: "last_error", as: String?.self))
    }
}
