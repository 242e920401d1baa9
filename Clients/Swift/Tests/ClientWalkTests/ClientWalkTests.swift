import CascadeClient
import Foundation
import HTTPTypes
import OpenAPIRuntime
import OpenAPIURLSession
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A receivable from issue to settlement through the Swift client generated from the OpenAPI
/// document, against a running demo: `CASCADE_CLIENT_WALK_URL` (its base, http://host:port) and
/// `CASCADE_CLIENT_WALK_OTP` (the demo's current TOTP code for the bank's two users).
@Suite struct ClientWalkTests {
    /// Adds the session's bearer token to every request.
    struct Bearer: ClientMiddleware {
        let token: String
        func intercept(_ request: HTTPRequest, body: HTTPBody?, baseURL: URL, operationID: String,
                       next: @Sendable (HTTPRequest, HTTPBody?, URL) async throws -> (HTTPResponse, HTTPBody?)) async throws -> (HTTPResponse, HTTPBody?) {
            var request = request
            request.headerFields[.authorization] = "Bearer \(token)"
            return try await next(request, body, baseURL)
        }
    }

    struct Walk {
        let server: URL

        /// The server writes times in RFC 3339 with milliseconds.
        static let configuration = Configuration(dateTranscoder: .iso8601WithFractionalSeconds)

        func anonymous() -> Client { Client(serverURL: server, configuration: Self.configuration, transport: URLSessionTransport()) }

        func session(_ who: String, otp: String? = nil) async throws -> Client {
            let answer = try await anonymous().login(body: .json(.init(email: "\(who)@cascade.demo", password: "demo-password", otp: otp)))
            guard let token = try answer.ok.body.json.value2.token else { throw Failure("no token for \(who)") }
            return Client(serverURL: server, configuration: Self.configuration, transport: URLSessionTransport(), middlewares: [Bearer(token: token)])
        }
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    /// Waits for `condition`, polling, for at most 90 seconds.
    static func until(_ what: String, _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(90)
        while try await !condition() {
            guard ContinuousClock.now < deadline else { throw Failure("not within 90 s: \(what)") }
            try await Task.sleep(for: .milliseconds(500))
        }
    }

    @Test(.enabled(if: ProcessInfo.processInfo.environment["CASCADE_CLIENT_WALK_URL"] != nil, "set CASCADE_CLIENT_WALK_URL to a running demo"))
    func aReceivableFromIssueToSettlement() async throws {
        let env = ProcessInfo.processInfo.environment
        let walk = Walk(server: URL(string: env["CASCADE_CLIENT_WALK_URL"]! + "/api/v1")!)
        let otp = try #require(env["CASCADE_CLIENT_WALK_OTP"], "the demo's TOTP code")
        let bank = try await walk.session("bank", otp: otp), bankChecker = try await walk.session("bank-checker", otp: otp)
        let core = try await walk.session("core"), coreChecker = try await walk.session("core-checker")
        let supplier = try await walk.session("tier1"), op = try await walk.session("operator")

        let orgs = try await core.listOrgs(query: .init(limit: 200)).ok.body.json.value2.items ?? []
        func org(_ name: String) throws -> String { try #require(orgs.first { $0.name == name }?.id) }
        let line = try #require(try await core.listCreditLines().ok.body.json.value2.items?.first?.id)
        let due = Calendar(identifier: .gregorian).date(byAdding: .day, value: 90, to: Date())!
        let dueText = ISO8601DateFormatter.string(from: due, timeZone: TimeZone(secondsFromGMT: 8 * 3600)!, formatOptions: [.withFullDate])

        // ¥1,500,000.00: above 华东重工集团's threshold, so its checker approves the issue.
        let held = try await core.issueReceivable(body: .json(.init(supplierId: try org("苏州精密部件"), creditLineId: line, faceFen: 150_000_000, dueDate: dueText)))
            .accepted.body.json.approval
        let issued = try await coreChecker.approveApproval(path: .init(id: try #require(held.id))).created.body.json
        let receivable = try #require(issued.receivable?.id)
        let token = try #require(issued.tokens?.first?.id)

        let accepted = try await supplier.acceptToken(path: .init(id: token)).ok.body.json
        #expect(accepted.tokens.first?.status == .active)

        let financing = try #require(try await supplier.requestFinancing(body: .json(.init(tokenId: token, bankId: try org("江南商业银行")))).created.body.json.financing?.id)
        let today = ISO8601DateFormatter.string(from: Date(), timeZone: TimeZone(secondsFromGMT: 8 * 3600)!, formatOptions: [.withFullDate])
        let approval = try await bank.approveFinancing(path: .init(id: financing), body: .json(.init(filing: .init(number: "0457-2026-400001", filedOn: today))))
            .accepted.body.json.approval
        _ = try await bankChecker.approveApproval(path: .init(id: try #require(approval.id))).created.body.json
        try await Self.until("the payout") { try await bank.getFinancing(path: .init(id: financing)).ok.body.json.status == .paid }

        _ = try await op.moveBusinessClock(body: .json(.init(today: dueText))).ok.body.json
        let settle = try await core.settleReceivable(path: .init(id: receivable), body: .json(.init(reference: "CNAPS-SWIFT-0001"))).accepted.body.json.approval
        _ = try await coreChecker.approveApproval(path: .init(id: try #require(settle.id))).created.body.json
        try await Self.until("the settlement") { try await core.getReceivable(path: .init(id: receivable)).ok.body.json.status == .settled }
    }
}
