import Foundation
import Ledger
import SQLKit
import Testing
import VaporTesting

@testable import Core
@testable import Web
@testable import Commands

/// The findings of the attacker's review, each tried as the attacker tried it.
@Suite struct SecurityFindingTests {
    func location(_ d: DemoPlatform, _ path: String) async throws -> String? {
        var location: String?
        try await d.app.testing().test(.GET, path) { res in location = res.headers.first(name: .location) }
        return location
    }

    @Test func theLanguageSwitchRedirectsOnlyWithinTheSite() async throws {
        try await DemoPlatform.with { d in
            // A browser reads `/\evil.example` as `//evil.example`: another site.
            let tries = ["/lang/en?back=/%5Cevil.example": "/", "/lang/en?back=//evil.example": "/", "/lang/en?back=/%09/evil.example": "/",
                         "/lang/en?back=https://evil.example": "/", "/lang/zh?back=/holdings%3Fstatus%3Dactive": "/holdings?status=active"]
            for (path, expected) in tries {
                let got = try await location(d, path)
                #expect(got == expected, "\(path)")
            }
        }
    }

    @Test func anAPIKeysSecretIsNeverStoredNotEvenForAReplay() async throws {
        try await DemoPlatform.with { d in
            let made = try await d.call("tier1", .POST, "/api/v1/api-keys", #"{"name":"ERP"}"#, headers: ["Idempotency-Key": "key-1"])
            let secret = try #require(made["secret"]?.stringValue)
            #expect(made.status == .created && secret.hasPrefix("cas_k_"))
            let kept = try await d.app.sql.raw("SELECT body FROM idempotency_keys WHERE key = 'key-1'").first()!.decode(column: "body", as: String.self)
            #expect(!kept.contains(secret) && !kept.contains(String(secret.dropFirst(12))))
            let replay = try await d.call("tier1", .POST, "/api/v1/api-keys", #"{"name":"ERP"}"#, headers: ["Idempotency-Key": "key-1"])
            #expect(replay.status == .created && replay["secret"] == .null && replay["id"] == made["id"])
            #expect(replay.headers.first(name: "Idempotent-Replayed") == "true")
        }
    }

    @Test func aSuspendedOrgsPeopleAreStoppedAtOnce() async throws {
        try await DemoPlatform.with { d in
            #expect(try await d.call("tier3", .GET, "/api/v1/me").status == .ok)
            #expect(try await d.call("operator", .POST, "/api/v1/orgs/\(d.orgs["tier3"]!)/suspend").status == .ok)
            // Its API key, a sign-in, and anything they would do with either.
            let me = try await d.call("tier3", .GET, "/api/v1/me")
            #expect(me.status == .forbidden && me.json["detail"]?.stringValue?.contains("suspended") == true, "\(me.json)")
            #expect(try await d.call("tier3", .POST, "/api/v1/api-keys", #"{"name":"x"}"#).status == .forbidden)
            let signIn = try await d.call(nil, .POST, "/api/v1/auth/login", #"{"email":"tier3@cascade.demo","password":"\#(DemoSeed.password)"}"#)
            #expect(signIn.status == .forbidden)
            // A wrong password learns nothing of the suspension.
            #expect(try await d.call(nil, .POST, "/api/v1/auth/login", #"{"email":"tier3@cascade.demo","password":"not-the-password"}"#).status == .unauthorized)
            #expect(try await d.call("operator", .POST, "/api/v1/orgs/\(d.orgs["tier3"]!)/activate").status == .ok)
            #expect(try await d.call("tier3", .GET, "/api/v1/me").status == .ok)
        }
    }

    /// A core names another core's document in its own receivable: that opens nothing.
    @Test func namingAnotherOrgsDocumentDoesNotOpenIt() async throws {
        try await DemoPlatform.with { d in
            // setup: the demo core uploads a contract; a second core, with a line at the bank
            let content = "华东重工 购销合同 HT-9\n"
            let sha = Hashing.sha256Hex(Array(content.utf8))
            #expect(try await d.upload("core", content).status == .created)
            let code = CreditCode.complete("91320000MA1K00077")!
            let other = try await d.call("operator", .POST, "/api/v1/orgs", #"""
                {"name":"江北机械","role":"core","creditCode":"\#(code)","admin":{"email":"treasury@jb.example","name":"财务","password":"a-long-password"}}
                """#)
            let core2 = try #require(other["org"]?["id"]?.stringValue)
            let signIn = try await d.call(nil, .POST, "/api/v1/auth/login", #"{"email":"treasury@jb.example","password":"a-long-password"}"#)
            let token = try #require(signIn["token"]?.stringValue)
            let line = try await d.call("bank", .POST, "/api/v1/credit-lines", #"{"coreId":"\#(core2)","limitFen":100000000,"rateBps":400,"expiresOn":"2027-12-31"}"#)
            let lineId = try #require(line["creditLine"]?["id"]?.stringValue ?? line["id"]?.stringValue, "\(line.json)")
            // act: the second core issues to tier 1, naming the first core's file
            let issued = try await d.call(nil, .POST, "/api/v1/receivables", #"""
                {"supplierId":"\#(d.orgs["tier1"]!)","creditLineId":"\#(lineId)","faceFen":100000,"dueDate":"2026-12-20","documents":[{"kind":"contract","sha256":"\#(sha)"}]}
                """#, headers: ["Authorization": "Bearer \(token)"])
            #expect(issued.status == .created, "\(issued.json)")
            // check: neither it nor its supplier gets the file; the uploader and the regulator do
            #expect(try await d.call(nil, .GET, "/api/v1/documents/\(sha)", headers: ["Authorization": "Bearer \(token)"]).status == .notFound)
            #expect(try await d.call("tier1", .GET, "/api/v1/documents/\(sha)").status == .notFound)
            #expect(try await d.call("core", .GET, "/api/v1/documents/\(sha)").status == .ok)
            #expect(try await d.call("regulator", .GET, "/api/v1/documents/\(sha)").status == .ok)
        }
    }

    @Test func answersAreNeverCachedAndTLSIsPinned() async throws {
        try await DemoPlatform.with { d in
            let plain = try await d.call("tier1", .GET, "/api/v1/me")
            #expect(plain.headers.first(name: .cacheControl) == "no-store")
            #expect(plain.headers.first(name: "Strict-Transport-Security") == nil)
            let behindTLS = try await d.call("tier1", .GET, "/api/v1/me", headers: ["X-Forwarded-Proto": "https"])
            #expect(behindTLS.headers.first(name: "Strict-Transport-Security")?.hasPrefix("max-age=") == true)
            let problem = try await d.call(nil, .GET, "/api/v1/me")
            #expect(problem.status == .unauthorized && problem.headers.first(name: .cacheControl) == "no-store")
        }
    }

    @Test func everyFormulaLeadInIsDefused() {
        for lead in ["=", "+", "-", "@", "\t", "\r"] {
            #expect(ExportController.cell(lead + "HYPERLINK(\"http://x\")").hasPrefix("\"'"), "\(lead.unicodeScalars.first!.value)")
        }
        #expect(ExportController.cell("-150") == "\"-150\"")
        #expect(ExportController.cell("常州五金") == "\"常州五金\"")
    }
}

@Suite struct LoginThrottleTests {
    /// An account takes five failures; its attempts count from the moment they start.
    @Test func attemptsCountWhileTheyRun() async {
        let throttle = LoginThrottle(maxFailures: 5, maxAddressFailures: 100, windowMs: 60_000)
        var places: [LoginThrottle.Attempt] = []
        for _ in 0..<5 {
            guard case .success(let a) = await throttle.begin(email: "a@x.cn", address: "10.0.0.1", nowMs: 0) else { Issue.record("refused early"); return }
            places.append(a)
        }
        // A sixth, while five run, waits; once they have failed, it waits for the window.
        guard case .failure = await throttle.begin(email: "A@x.cn", address: "10.0.0.9", nowMs: 0) else { Issue.record("a sixth ran"); return }
        for a in places { await throttle.end(a, failed: true) }
        guard case .failure(let wait) = await throttle.begin(email: "a@x.cn", address: nil, nowMs: 1_000) else { Issue.record("not locked"); return }
        #expect(wait.seconds == 59)
        guard case .success = await throttle.begin(email: "a@x.cn", address: nil, nowMs: 60_001) else { Issue.record("still locked after the window"); return }
    }

    /// One person's typos behind a branch's NAT do not lock the branch out.
    @Test func anAccountsFailuresDoNotLockItsNeighboursAtTheSameAddress() async {
        let throttle = LoginThrottle(maxFailures: 5, maxAddressFailures: 100, windowMs: 60_000)
        for _ in 0..<5 {
            if case .success(let a) = await throttle.begin(email: "clerk@bank.cn", address: "10.1.1.1", nowMs: 0) { await throttle.end(a, failed: true) }
        }
        guard case .success = await throttle.begin(email: "officer@bank.cn", address: "10.1.1.1", nowMs: 0) else { Issue.record("the branch is locked out"); return }
        // A spray across many accounts from one address is stopped there.
        let spray = LoginThrottle(maxFailures: 5, maxAddressFailures: 20, windowMs: 60_000)
        for i in 0..<20 {
            if case .success(let a) = await spray.begin(email: "u\(i)@x.cn", address: "6.6.6.6", nowMs: 0) { await spray.end(a, failed: true) }
        }
        guard case .failure = await spray.begin(email: "fresh@x.cn", address: "6.6.6.6", nowMs: 0) else { Issue.record("the spray went on"); return }
    }
}

@Suite struct FeedVisibilityTests {
    /// Tier 2 paying tier 3 is their business and the issuer's, not tier 1's, who paid tier 2.
    @Test func aSupplierDoesNotSeeItsNeighboursBusiness() async throws {
        try await DemoPlatform.with { d in
            func summaries(_ who: String) async throws -> [String] {
                try await d.call(who, .GET, "/api/v1/events?limit=200").items.compactMap { $0["summary"]?.stringValue }
            }
            let payment = "无锡铸造厂 paid"
            #expect(try await summaries("tier2").contains { $0.hasPrefix(payment) })
            #expect(try await summaries("tier3").contains { $0.hasPrefix(payment) })
            #expect(try await summaries("core").contains { $0.hasPrefix(payment) })
            let tier1 = try await summaries("tier1")
            #expect(!tier1.isEmpty && !tier1.contains { $0.hasPrefix(payment) }, "\(tier1.filter { $0.hasPrefix(payment) })")
            // The sender still hears that its offer was accepted.
            #expect(tier1.contains { $0.hasPrefix("无锡铸造厂 accepted") }, "\(tier1)")
        }
    }
}

@Suite struct OperatorPeopleTests {
    /// The operator sees an org's people but never adds one: whoever it added could sign with
    /// the org's custodial key.
    @Test func theOperatorCannotAddPeopleToAnotherOrg() async throws {
        try await DemoPlatform.with { d in
            let tier1 = d.orgs["tier1"]!
            let added = try await d.call("operator", .POST, "/api/v1/orgs/\(tier1)/users", #"{"email":"mole@ops.example","name":"x","password":"0123456789","role":"admin"}"#)
            #expect(added.status == .forbidden, "\(added.json)")
            #expect(try await d.app.sql.raw("SELECT id FROM users WHERE email = 'mole@ops.example'").first() == nil)
            #expect(try await d.call("operator", .GET, "/api/v1/orgs/\(tier1)/users").status == .ok)
            // The org's own admin adds people, and the operator its own.
            #expect(try await d.call("tier1", .POST, "/api/v1/orgs/\(tier1)/users", #"{"email":"clerk@t1.example","name":"出纳","password":"0123456789"}"#).status == .created)
            #expect(try await d.call("operator", .POST, "/api/v1/orgs/\(d.orgs["operator"]!)/users", #"{"email":"ops2@cascade.demo","name":"运营","password":"0123456789"}"#).status == .created)
        }
    }
}
