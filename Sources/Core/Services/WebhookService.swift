import Crypto
import Foundation
import Ledger
import class Vapor.Application
import struct Vapor.Environment
import protocol Vapor.StorageKey

/// Signed webhooks (SPEC §5): an org's admin registers endpoints for the org's events; each
/// event is stored as a delivery before it is sent (`WebhookSender`), signed with the endpoint's
/// secret as `Cascade-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.
package enum WebhookService {
    /// Endpoints an org may have at once.
    package static let maxEndpoints = 10
    /// The webhook-only event: an operation is waiting for one of the org's checkers.
    package static let approvalWaiting = "approvalWaiting"
    /// The types an endpoint may ask for: those of `GET /events` (the ledger's transaction
    /// types), the approvals waiting, or `*`.
    package static var eventTypes: [String] { TxType.allCases.map(\.rawValue) + [approvalWaiting] }

    package struct Created: Sendable {
        package var endpoint: WebhookEndpoint
        package var secret: String
    }

    static func requireAdmin(_ viewer: Viewer) throws {
        guard viewer.caller.userRole == .admin else {
            throw LedgerError(.forbidden, "an admin of the organisation manages its webhooks")
        }
    }

    /// Registers an endpoint; the answer carries its secret, shown this once.
    package static func register(url: String, events: [String], by viewer: Viewer, app: Application) async throws -> Created {
        try requireAdmin(viewer)
        guard !events.isEmpty, events.count <= eventTypes.count + 1 else {
            throw LedgerError.invalid("events", "must list 1 to \(eventTypes.count + 1) event types, or [\"*\"]")
        }
        for (index, type) in events.enumerated() where type != "*" && !eventTypes.contains(type) {
            throw LedgerError.invalid("events[\(index)]", "must be \"*\" or one of \(eventTypes.joined(separator: ", "))")
        }
        guard Set(events).count == events.count else { throw LedgerError.invalid("events", "must not list a type twice") }
        if let why = await app.webhookAddresses.checking(url) { throw LedgerError.invalid("url", why) }
        guard let vault = app.keyVault else { throw Unavailable("this node does not hold the platform's keys; register webhooks on the writer") }
        let secret = "whsec_" + Data(SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        let id = UUID().uuidString.lowercased()
        let endpoint = WebhookEndpoint(id: id, orgId: viewer.orgId, url: url, events: events,
                                       sealedSecret: try vault.seal(secret: Array(secret.utf8), context: "webhook:\(id)"), status: "active", disabledReason: nil,
                                       afterSeq: try await WebhookQueries.lastEventSeq(of: viewer.orgId, on: app.sql), createdMs: app.wallClock.nowMs(),
                                       createdBy: viewer.caller.email)
        // An org's registrations take turns: the count and the new row, one request at a time.
        try await app.webhookRegistrations.inTurn(for: viewer.orgId.description) {
            guard try await WebhookQueries.endpoints(of: viewer.orgId, on: app.sql).count < maxEndpoints else {
                throw LedgerError.invalid("url", "an organisation has at most \(maxEndpoints) webhook endpoints; delete one first")
            }
            try await WebhookQueries.create(endpoint, on: app.sql)
        }
        return Created(endpoint: endpoint, secret: secret)
    }

    package static func endpoints(for viewer: Viewer, app: Application) async throws -> [WebhookEndpoint] {
        try requireAdmin(viewer)
        return try await WebhookQueries.endpoints(of: viewer.orgId, on: app.sql)
    }

    package static func endpoint(_ id: String, for viewer: Viewer, app: Application) async throws -> WebhookEndpoint {
        try requireAdmin(viewer)
        guard let found = try await WebhookQueries.endpoint(id, of: viewer.orgId, on: app.sql) else { throw LedgerError(.notFound, "no such webhook endpoint") }
        return found
    }

    package static func delete(_ id: String, by viewer: Viewer, app: Application) async throws {
        try requireAdmin(viewer)
        guard try await WebhookQueries.delete(id, of: viewer.orgId, nowMs: app.wallClock.nowMs(), on: app.db) else {
            throw LedgerError(.notFound, "no such webhook endpoint")
        }
    }

    /// The signature header for `body` sent at `unixSeconds`.
    package static func signature(_ body: String, secret: String, unixSeconds: Int64) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Data("\(unixSeconds).\(body)".utf8), using: SymmetricKey(data: Data(secret.utf8)))
        return "t=\(unixSeconds),v1=\(Hex.encode(Array(mac)))"
    }

    /// What a receiver is sent for one of the org's events.
    static func body(id: String, type: String, orgId: OrgID, createdMs: Int64, data: JSON) -> String {
        JSON.object(["id": .string(id), "type": .string(type), "orgId": .string(orgId.description), "created": .int(createdMs / 1000), "data": data]).canonicalString
    }

    /// Stores a delivery of `approval` (now waiting for a checker) for each of the org's endpoints that take it.
    package static func approvalWaiting(_ approval: Approval, app: Application) async {
        do {
            let now = app.wallClock.nowMs()
            for endpoint in try await WebhookQueries.endpoints(of: approval.orgId, on: app.sql) where endpoint.status == "active" && endpoint.takes(approvalWaiting) {
                let id = UUID().uuidString.lowercased()
                let delivery = WebhookDelivery(id: id, endpointId: endpoint.id, orgId: approval.orgId, eventType: approvalWaiting, eventSeq: nil,
                                               body: body(id: id, type: approvalWaiting, orgId: approval.orgId, createdMs: now, data: approval.json),
                                               status: "pending", attempts: 0, nextAttemptMs: now, createdMs: now)
                try await WebhookQueries.enqueue([delivery], endpoint: endpoint.id, afterSeq: nil, on: app.db)
            }
        } catch {
            app.logger.warning("webhooks: the approval \(approval.id) was not queued for delivery: \(error)")
        }
    }
}

/// The address check with the platform's settings: https and no loopback in production; the
/// platform's own public host (`CASCADE_PUBLIC_URL`) refused. Names resolve off the event loops.
package struct WebhookAddresses: Sendable {
    package var policy: WebhookAddressPolicy
    package var resolve: @Sendable (String) -> [String]? = WebhookAddressPolicy.resolve

    package init(policy: WebhookAddressPolicy, resolve: @escaping @Sendable (String) -> [String]? = WebhookAddressPolicy.resolve) {
        self.policy = policy
        self.resolve = resolve
    }

    package func checking(_ url: String) async -> String? {
        let policy = self.policy, resolve = self.resolve
        return await withCheckedContinuation { answer in
            DispatchQueue.global().async { answer.resume(returning: policy.problem(url, resolve: resolve)) }
        }
    }

    static func fromEnvironment(_ environment: Environment) -> WebhookAddresses {
        var own: Set<String> = []
        if let url = Environment.get("CASCADE_PUBLIC_URL").flatMap(URLComponents.init(string:)), let host = url.host?.lowercased() { own.insert(host) }
        return WebhookAddresses(policy: WebhookAddressPolicy(production: environment == .production, ownHosts: own))
    }
}

extension Application {
    private struct WebhookRegistrationsKey: StorageKey { typealias Value = TakingTurns }

    /// One org's webhook registrations take turns. Set up once, in `configure`, before any request.
    package var webhookRegistrations: TakingTurns {
        get { storage[WebhookRegistrationsKey.self]! }
        set { storage[WebhookRegistrationsKey.self] = newValue }
    }

    private struct WebhookAddressesKey: StorageKey { typealias Value = WebhookAddresses }

    package var webhookAddresses: WebhookAddresses {
        get { storage[WebhookAddressesKey.self] ?? WebhookAddresses.fromEnvironment(environment) }
        set { storage[WebhookAddressesKey.self] = newValue }
    }
}
