import Crypto
import Foundation
import Ledger
import NIOConcurrencyHelpers
import SQLKit
import Testing
import VaporTesting

@testable import Core
@testable import Web

/// Signed webhooks (SPEC §5 `/webhooks`) against a real receiver on loopback: what it is sent,
/// how the signature checks, retries with backoff on the test's clock, a receiver that never
/// answers, endpoints disabled after a day of failures, and the SSRF check.
@Suite struct WebhookTests {
    /// A receiver on loopback: answers each POST with the next of `answers` (200 once they run
    /// out), or never, for `hang`.
    final class Receiver: Sendable {
        struct Received: Sendable {
            var body: String
            var signature: String
            var delivery: String
        }
        let app: Application
        let port: Int
        let received = NIOLockedValueBox<[Received]>([])
        let answers: NIOLockedValueBox<[HTTPResponseStatus]>
        let hang: Bool
        /// The answers held back, given when the receiver stops.
        let held = NIOLockedValueBox<[EventLoopPromise<Response>]>([])

        init(answers: [HTTPResponseStatus] = [], hang: Bool = false) async throws {
            app = try await Application.make(.testing)
            self.answers = NIOLockedValueBox(answers)
            self.hang = hang
            let received = self.received, queued = self.answers, held = self.held
            app.on(.POST, "hook", body: .collect(maxSize: "1mb")) { req async throws -> Response in
                received.withLockedValue {
                    $0.append(Received(body: req.body.string ?? "", signature: req.headers.first(name: "Cascade-Signature") ?? "",
                                       delivery: req.headers.first(name: "Cascade-Delivery") ?? ""))
                }
                if hang {
                    // Never answers: the sender's deadline ends the attempt.
                    let later = req.eventLoop.makePromise(of: Response.self)
                    held.withLockedValue { $0.append(later) }
                    return try await later.futureResult.get()
                }
                let status = queued.withLockedValue { $0.isEmpty ? HTTPResponseStatus.ok : $0.removeFirst() }
                return Response(status: status)
            }
            try await app.server.start(address: .hostname("127.0.0.1", port: 0))
            port = app.http.server.shared.localAddress?.port ?? 0
        }

        var url: String { "http://127.0.0.1:\(port)/hook" }
        var count: Int { received.withLockedValue { $0.count } }

        /// Answers what was held back, 503.
        func release() {
            for promise in held.withLockedValue({ all in defer { all = [] }; return all }) { promise.succeed(Response(status: .serviceUnavailable)) }
        }

        func stop() async throws {
            release()
            await app.server.shutdown()
            try await app.asyncShutdown()
        }
    }

    static func with(answers: [HTTPResponseStatus] = [], hang: Bool = false, _ body: (DemoPlatform, Receiver) async throws -> Void) async throws {
        try await DemoPlatform.with { d in
            let receiver = try await Receiver(answers: answers, hang: hang)
            do { try await body(d, receiver) } catch {
                try await receiver.stop()
                throw error
            }
            try await receiver.stop()
        }
    }

    /// Checks a `Cascade-Signature` header as a receiver would (the README's ten lines).
    static func verifies(_ header: String, body: String, secret: String) -> Bool {
        let parts = Dictionary(uniqueKeysWithValues: header.split(separator: ",").compactMap { part -> (String, String)? in
            let kv = part.split(separator: "=", maxSplits: 1)
            return kv.count == 2 ? (String(kv[0]), String(kv[1])) : nil
        })
        guard let t = parts["t"], let v1 = parts["v1"] else { return false }
        let mac = HMAC<SHA256>.authenticationCode(for: Data("\(t).\(body)".utf8), using: SymmetricKey(data: Data(secret.utf8)))
        return Hex.encode(Array(mac)) == v1
    }

    /// Waits for `condition`, polling, for at most 60 seconds.
    static func poll(_ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while try await !condition() {
            guard ContinuousClock.now < deadline else { Issue.record("not within 60 seconds"); return }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    static func register(_ d: DemoPlatform, _ who: String = "tier1", url: String, events: [String] = ["*"]) async throws -> DemoPlatform.Answer {
        let list = events.map { "\"\($0)\"" }.joined(separator: ",")
        return try await d.call(who, .POST, "/api/v1/webhooks", #"{"url":"\#(url)","events":[\#(list)]}"#)
    }

    /// 苏州精密部件 is sent a new receivable (the core's issue), signed; a retry after a 500 on the
    /// test's clock; the delivery log shows both attempts.
    @Test func eventsAreStoredSignedAndRetried() async throws {
        try await Self.with(answers: [.internalServerError]) { d, receiver in
            let created = try await Self.register(d, url: receiver.url, events: ["issue", "transfer"])
            #expect(created.status == .created, "\(created.json)")
            let secret = created["secret"]!.stringValue!
            #expect(secret.hasPrefix("whsec_"))
            let id = created["id"]!.stringValue!
            #expect(try await d.call("tier1", .GET, "/api/v1/webhooks").items.first?["secret"] == nil, "the secret is shown once")

            let line = try await d.call("core", .GET, "/api/v1/credit-lines").items[0]["id"]!.stringValue!
            let issue = try await d.call("core", .POST, "/api/v1/receivables",
                                         #"{"supplierId":"\#(d.orgs["tier1"]!)","creditLineId":"\#(line)","faceFen":10000,"dueDate":"2026-10-15"}"#)
            #expect(issue.status == .created)
            try await d.app.webhookSender.round(wait: true)
            #expect(receiver.count == 1)
            var deliveries = try await d.call("tier1", .GET, "/api/v1/webhooks/\(id)/deliveries").items
            #expect(deliveries.count == 1 && deliveries[0]["status"] == "pending" && deliveries[0]["lastHttpStatus"] == 500, "\(deliveries)")
            // Not again before its time; then again, delivered.
            try await d.app.webhookSender.round(wait: true)
            #expect(receiver.count == 1)
            d.clock.advance(ms: 61_000)
            try await d.app.webhookSender.round(wait: true)
            #expect(receiver.count == 2)
            deliveries = try await d.call("tier1", .GET, "/api/v1/webhooks/\(id)/deliveries").items
            #expect(deliveries[0]["status"] == "delivered" && deliveries[0]["attempts"] == 2)
            guard case .array(let log)? = deliveries[0]["attemptLog"] else { Issue.record("no log"); return }
            #expect(log.map { $0["httpStatus"] } == [500, 200])

            let sent = receiver.received.withLockedValue { $0 }
            #expect(sent[0].body == sent[1].body && sent[0].delivery == sent[1].delivery, "a retry sends the same delivery")
            #expect(Self.verifies(sent[1].signature, body: sent[1].body, secret: secret))
            #expect(!Self.verifies(sent[1].signature, body: sent[1].body + " ", secret: secret))
            let body = try JSON.parse(Array(sent[1].body.utf8))
            #expect(body["type"] == "issue" && body["orgId"]?.stringValue == d.orgs["tier1"]!.description)
            #expect(body["data"]?["transactionId"] == issue["transactionId"])
            // An event type the endpoint did not ask for is not sent.
            try await d.app.sql.raw("SELECT 1").run()
            #expect(try await d.app.sql.raw("SELECT COUNT(*) AS n FROM webhook_deliveries").first()!.decode(column: "n", as: Int64.self) == 1)
        }
    }

    /// A receiver that never answers costs one deadline an attempt and holds no one else up; a
    /// day of failures disables the endpoint, and its admin reads why.
    @Test func aReceiverThatNeverAnswersIsDisabledAfterADay() async throws {
        try await Self.with(hang: true) { d, silent in
            let patient = WebhookSender(app: d.app, timeout: .seconds(120))
            d.app.webhookSender = patient
            let good = try await Receiver()
            defer { Task { try? await good.stop() } }
            let stuck = try await Self.register(d, url: silent.url)["id"]!.stringValue!
            _ = try await Self.register(d, "bank", url: good.url)
            // An event for both: 苏州精密部件 asks 江南商业银行 to finance a piece.
            let token = try await d.call("tier1", .GET, "/api/v1/tokens?status=active").items[0]["id"]!.stringValue!
            #expect(try await d.call("tier1", .POST, "/api/v1/financings", #"{"tokenId":"\#(token)","bankId":"\#(d.orgs["bank"]!)"}"#).status == .created)
            try await patient.round(wait: false)
            // The bank's receiver is sent its event while the other one's attempt still hangs.
            try await Self.poll { good.count == 1 && silent.count == 1 }
            #expect(try await d.call("tier1", .GET, "/api/v1/webhooks/\(stuck)/deliveries").items[0]["attempts"] == 0, "still in flight")
            // A round meanwhile leaves the busy endpoint alone.
            try await patient.round(wait: true)
            #expect(silent.count == 1)
            silent.release()
            try await Self.poll { try await d.call("tier1", .GET, "/api/v1/webhooks/\(stuck)/deliveries").items[0]["attempts"] == 1 }
            d.app.webhookSender = WebhookSender(app: d.app, timeout: .milliseconds(300))
            for delay in WebhookSender.retryDelaysMs {
                d.clock.advance(ms: delay + 1)
                try await d.app.webhookSender.round(wait: true)
            }
            #expect(silent.count == WebhookSender.retryDelaysMs.count + 1)
            let endpoint = try await d.call("tier1", .GET, "/api/v1/webhooks").items.first { $0["id"]?.stringValue == stuck }
            #expect(endpoint?["status"] == "disabled" && endpoint?["disabledReason"]?.stringValue?.contains("failed for a day") == true, "\(String(describing: endpoint))")
            let delivery = try await d.call("tier1", .GET, "/api/v1/webhooks/\(stuck)/deliveries").items[0]
            #expect(delivery["status"] == "failed" && delivery["lastError"]?.stringValue?.contains("no answer within") == true)
        }
    }

    /// Deliveries are stored before they are sent: a sender made anew (a restarted process)
    /// sends what the last one left.
    @Test func deliveriesSurviveARestart() async throws {
        try await Self.with { d, receiver in
            let id = try await Self.register(d, url: receiver.url)["id"]!.stringValue!
            let token = try await d.call("tier1", .GET, "/api/v1/tokens?status=active").items[0]["id"]!.stringValue!
            _ = try await d.call("tier1", .POST, "/api/v1/tokens/\(token)/split", #"{"amountsFen":[100,\#(try await d.call("tier1", .GET, "/api/v1/tokens/\(token)")["amountFen"]!.intValue! - 100)]}"#)
            try await d.app.webhookSender.enqueue()
            #expect(receiver.count == 0)
            let stored = try await d.app.sql.raw("SELECT COUNT(*) AS n FROM webhook_deliveries WHERE status = 'pending'").first()!.decode(column: "n", as: Int64.self)
            #expect(stored == 1)
            let restarted = WebhookSender(app: d.app, timeout: .seconds(5))
            try await restarted.round(wait: true)
            await restarted.shutdown()
            #expect(receiver.count == 1)
            #expect(try await d.call("tier1", .GET, "/api/v1/webhooks/\(id)/deliveries").items[0]["status"] == "delivered")
        }
    }

    @Test func whoMayRegisterAndWhere() async throws {
        try await DemoPlatform.with { d in
            // Production's rules: https, no loopback; private, link-local and the platform's own never.
            d.app.webhookAddresses = WebhookAddresses(policy: WebhookAddressPolicy(production: true, ownHosts: ["cascade.example"]),
                                                      resolve: { host in ["rebind.example": ["169.254.169.254"], "hooks.example": ["93.184.215.14"],
                                                                          "mixed.example": ["93.184.215.14", "10.0.0.7"]][host] })
            let refused: [(String, String)] = [
                ("https://127.0.0.1/hook", "loopback"), ("https://169.254.169.254/latest/meta-data", "link-local"),
                ("https://10.1.2.3/h", "private"), ("https://192.168.0.10/h", "private"), ("https://[::1]/h", "loopback"),
                ("https://[::ffff:127.0.0.1]/h", "loopback"), ("https://[fd00::1]/h", "private"), ("https://0.0.0.0/h", "unspecified"),
                ("https://rebind.example/h", "169.254.169.254"), ("https://mixed.example/h", "10.0.0.7"), ("https://nowhere.example/h", "does not resolve"),
                ("http://hooks.example/h", "must be https"), ("https://cascade.example/h", "platform itself"),
                ("https://user:pw@hooks.example/h", "user name"), ("ftp://hooks.example/h", "must be https"), ("not a url", "spaces"),
            ]
            for (url, words) in refused {
                let answer = try await Self.register(d, url: url)
                #expect(answer.status == .unprocessableEntity && answer.text.contains(words), "\(url): \(answer.text)")
            }
            #expect(try await Self.register(d, url: "https://hooks.example/h").status == .created)
            #expect(try await Self.register(d, url: "https://hooks.example/h", events: ["nonsense"]).status == .unprocessableEntity)
            #expect(try await Self.register(d, url: "https://hooks.example/h", events: []).status == .unprocessableEntity)
            // Not an admin: a maker, a checker.
            #expect(try await Self.register(d, "core-checker", url: "https://hooks.example/h").status == .forbidden)
            let mine = try await d.call("tier1", .GET, "/api/v1/webhooks").items[0]["id"]!.stringValue!
            #expect(try await d.call("tier2", .GET, "/api/v1/webhooks/\(mine)/deliveries").status == .notFound)
            #expect(try await d.call("tier2", .DELETE, "/api/v1/webhooks/\(mine)").status == .notFound)
            #expect(try await d.call("tier1", .DELETE, "/api/v1/webhooks/\(mine)").status == .noContent)
            #expect(try await d.call("tier1", .GET, "/api/v1/webhooks").items.isEmpty)
            #expect(try await d.call("tier1", .DELETE, "/api/v1/webhooks/\(mine)").status == .notFound)
        }
    }

    /// An org has at most ten endpoints, however many registrations come at once.
    @Test func parallelRegistrationsStopAtTen() async throws {
        try await DemoPlatform.with { d in
            let answers = try await withThrowingTaskGroup(of: HTTPResponseStatus.self) { group in
                for i in 0..<32 { group.addTask { try await Self.register(d, url: "http://127.0.0.1:9/h\(i)").status } }
                return try await group.reduce(into: [HTTPResponseStatus]()) { $0.append($1) }
            }
            #expect(answers.filter { $0 == .created }.count == WebhookService.maxEndpoints)
            #expect(answers.filter { $0 == .unprocessableEntity }.count == 32 - WebhookService.maxEndpoints)
            #expect(try await d.call("tier1", .GET, "/api/v1/webhooks").items.count == WebhookService.maxEndpoints)
        }
    }

    /// A name that resolved to a public address when registered and to the metadata service at
    /// delivery is not sent to: the endpoint is disabled with why.
    @Test func theAddressIsCheckedAgainAtDelivery() async throws {
        try await Self.with { d, receiver in
            let id = try await Self.register(d, url: "http://hooks.test:\(receiver.port)/hook")
            #expect(id.status == .unprocessableEntity, "hooks.test does not resolve yet")
            let answers = NIOLockedValueBox(["127.0.0.1"])
            d.app.webhookAddresses = WebhookAddresses(policy: WebhookAddressPolicy(production: false), resolve: { host in host == "hooks.test" ? answers.withLockedValue { $0 } : nil })
            let endpoint = try await Self.register(d, url: "http://hooks.test:\(receiver.port)/hook")["id"]!.stringValue!
            answers.withLockedValue { $0 = ["169.254.169.254"] }
            let token = try await d.call("tier1", .GET, "/api/v1/tokens?status=active").items[0]["id"]!.stringValue!
            _ = try await d.call("tier1", .POST, "/api/v1/financings", #"{"tokenId":"\#(token)","bankId":"\#(d.orgs["bank"]!)"}"#)
            try await d.app.webhookSender.round(wait: true)
            #expect(receiver.count == 0)
            let listed = try await d.call("tier1", .GET, "/api/v1/webhooks").items.first { $0["id"]?.stringValue == endpoint }
            #expect(listed?["status"] == "disabled" && listed?["disabledReason"]?.stringValue?.contains("169.254.169.254") == true, "\(String(describing: listed))")
        }
    }
}
