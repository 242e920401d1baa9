import AsyncHTTPClient
import Foundation
import Ledger
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import class Vapor.Application
import protocol Vapor.LifecycleHandler
import protocol Vapor.StorageKey
import struct Vapor.Environment

/// Sends what `WebhookService` stores: each round gives every active endpoint the org's new
/// events (stored as deliveries, the endpoint's mark moved in the same transaction), then sends
/// what is due. Each endpoint is sent to by a task of its own, one delivery after another, so a
/// receiver that is slow or never answers holds up no one else: while its task runs, the next
/// rounds leave that endpoint alone. A failed attempt is tried again after 1 and 5 minutes, half
/// an hour, 1, 2, 4 and 8 hours and 8 hours more (about a day in all); then the delivery has
/// failed and the endpoint is disabled, with why.
package final class WebhookSender: Sendable {
    package static let retryDelaysMs: [Int64] = [60_000, 300_000, 1_800_000, 3_600_000, 7_200_000, 14_400_000, 28_800_000, 28_800_000]
    package let app: Application
    let client: HTTPClient
    /// How long a receiver has to answer an attempt.
    package let timeout: TimeAmount
    /// Each endpoint being sent to, and its task: gone from here when the task ends.
    private let running = NIOLockedValueBox<[String: Task<Void, Never>]>([:])

    package init(app: Application, timeout: TimeAmount) {
        self.app = app
        self.timeout = timeout
        var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow, timeout: .init(connect: .seconds(5), read: timeout))
        configuration.connectionPool = .init(idleTimeout: .seconds(30))
        client = HTTPClient(eventLoopGroup: app.eventLoopGroup, configuration: configuration)
    }

    package func shutdown() async {
        for task in running.withLockedValue({ all in defer { all = [:] }; return all.values }) { task.cancel() }
        try? await client.shutdown()
    }

    /// One round. With `wait`, returns when every endpoint's sending has ended (tests, and
    /// `cascade` commands that must see it done); otherwise each runs on.
    package func round(wait: Bool = false) async throws {
        try await enqueue()
        let due = try await WebhookQueries.due(nowMs: app.wallClock.nowMs(), limit: 500, on: app.sql)
        var tasks: [Task<Void, Never>] = []
        for (endpointId, deliveries) in Dictionary(grouping: due, by: \.endpointId) {
            let ordered = deliveries.sorted { ($0.nextAttemptMs ?? 0, $0.createdMs) < ($1.nextAttemptMs ?? 0, $1.createdMs) }
            // An endpoint still being sent to (a slow receiver) is left to its task.
            let started: Task<Void, Never>? = running.withLockedValue { all in
                guard all[endpointId] == nil else { return nil }
                let task = Task {
                    await self.send(ordered, to: endpointId)
                    _ = self.running.withLockedValue { $0.removeValue(forKey: endpointId) }
                }
                all[endpointId] = task
                return task
            }
            if let started { tasks.append(started) }
        }
        if wait { for task in tasks { await task.value } }
    }

    /// Every active endpoint's new events, as deliveries.
    func enqueue() async throws {
        for endpoint in try await WebhookQueries.active(on: app.sql) {
            let events = try await WebhookQueries.events(for: endpoint, limit: 500, on: app.sql)
            guard let last = events.last?.seq else { continue }
            let deliveries = events.filter { endpoint.takes($0.type) }.map { event in
                let id = UUID().uuidString.lowercased()
                let data: JSON = ["seq": .int(event.seq), "transactionId": .string(event.transactionId), "summary": .string(event.summary),
                                  "summaryZh": event.summaryZh.map(JSON.string) ?? .null, "time": .string(Time.rfc3339(event.timeMs))]
                return WebhookDelivery(id: id, endpointId: endpoint.id, orgId: endpoint.orgId, eventType: event.type, eventSeq: event.seq,
                                       body: WebhookService.body(id: id, type: event.type, orgId: endpoint.orgId, createdMs: event.timeMs, data: data),
                                       status: "pending", attempts: 0, nextAttemptMs: event.timeMs, createdMs: app.wallClock.nowMs())
            }
            try await WebhookQueries.enqueue(deliveries, endpoint: endpoint.id, afterSeq: last, on: app.db)
        }
    }

    func send(_ deliveries: [WebhookDelivery], to endpointId: String) async {
        for delivery in deliveries where !Task.isCancelled {
            do {
                // The endpoint as it is now: deleted or disabled since the round began, it gets nothing.
                guard let endpoint = try await WebhookQueries.endpoint(endpointId, of: delivery.orgId, on: app.sql), endpoint.status == "active" else { return }
                guard try await attempt(delivery, endpoint: endpoint) else { return }
            } catch {
                app.logger.warning("webhooks: delivery \(delivery.id) to \(endpointId) not recorded: \(error)")
                return
            }
        }
    }

    /// One attempt, recorded; false when the endpoint was disabled by it.
    func attempt(_ delivery: WebhookDelivery, endpoint: WebhookEndpoint) async throws -> Bool {
        let started = ContinuousClock.now
        let atMs = app.wallClock.nowMs()
        var status: Int?
        var error: String?
        if let why = await app.webhookAddresses.checking(endpoint.url) {
            // Checked again at every delivery: a name may come to point somewhere it must not.
            error = "not sent: the URL \(why)"
        } else {
            do {
                guard let vault = app.keyVault else { throw Unavailable("no key vault on this node") }
                let secret = String(decoding: try vault.open(secret: endpoint.sealedSecret, context: "webhook:\(endpoint.id)"), as: UTF8.self)
                var request = HTTPClientRequest(url: endpoint.url)
                request.method = .POST
                request.headers.add(name: "content-type", value: "application/json")
                request.headers.add(name: "User-Agent", value: "Cascade-Webhooks/1")
                request.headers.add(name: "Cascade-Signature", value: WebhookService.signature(delivery.body, secret: secret, unixSeconds: atMs / 1000))
                request.headers.add(name: "Cascade-Delivery", value: delivery.id)
                request.body = .bytes(ByteBuffer(string: delivery.body))
                let response = try await client.execute(request, timeout: timeout)
                status = Int(response.status.code)
                _ = try? await response.body.collect(upTo: 64 * 1024)
                if !(200..<300).contains(status!) { error = "the receiver answered \(response.status.code) \(response.status.reasonPhrase)" }
            } catch let failure as HTTPClientError where failure == .deadlineExceeded || failure == .readTimeout {
                error = "no answer within \(timeout.nanoseconds / 1_000_000) ms"
            } catch let failure {
                error = "not delivered: \(failure)"
            }
        }
        let elapsed = ContinuousClock.now - started
        let attempt = WebhookAttempt(attempt: delivery.attempts + 1, atMs: atMs, httpStatus: status, error: error,
                                     durationMs: elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000)
        guard let error else {
            try await WebhookQueries.record(attempt, of: delivery, status: "delivered", nextAttemptMs: nil, on: app.db)
            return true
        }
        let refusedURL = error.hasPrefix("not sent: the URL")
        if refusedURL || delivery.attempts >= Self.retryDelaysMs.count {
            try await WebhookQueries.record(attempt, of: delivery, status: "failed", nextAttemptMs: nil, on: app.db)
            let reason = refusedURL ? error : "a delivery failed for a day (\(attempt.attempt) attempts); the last: \(error)"
            try await WebhookQueries.disable(endpoint.id, reason: reason, nowMs: atMs, on: app.sql)
            app.logger.warning("webhooks: endpoint \(endpoint.id) disabled: \(reason)")
            return false
        }
        try await WebhookQueries.record(attempt, of: delivery, status: "pending", nextAttemptMs: atMs + Self.retryDelaysMs[delivery.attempts], on: app.db)
        return true
    }

    /// Runs rounds every `interval` on the writer, until shutdown.
    package static func schedule(_ app: Application, every interval: Duration = .milliseconds(Environment.get("CASCADE_WEBHOOK_POLL_MS").flatMap(Int.init).map { max(100, $0) } ?? 1000)) {
        let sender = app.webhookSender
        app.background.every(interval, after: interval) {
            do { try await sender.round() } catch { app.logger.warning("webhooks: \(error)") }
        }
    }
}

extension Application {
    private struct SenderKey: StorageKey { typealias Value = WebhookSender }

    /// The process's webhook sender, made on first use (and shut down with the application).
    package var webhookSender: WebhookSender {
        get { made ?? makeSender() }
        set {
            storage[SenderKey.self] = newValue
            lifecycle.use(SenderStopper(sender: newValue))
        }
    }

    private var made: WebhookSender? { storage[SenderKey.self] }

    private func makeSender() -> WebhookSender {
        let timeout = Environment.get("CASCADE_WEBHOOK_TIMEOUT_MS").flatMap(Int64.init).map { TimeAmount.milliseconds(max(100, $0)) } ?? .seconds(10)
        let made = WebhookSender(app: self, timeout: timeout)
        storage[SenderKey.self] = made
        lifecycle.use(SenderStopper(sender: made))
        return made
    }

    struct SenderStopper: LifecycleHandler {
        let sender: WebhookSender
        func shutdownAsync(_ application: Application) async { await sender.shutdown() }
    }
}
