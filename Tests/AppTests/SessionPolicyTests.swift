import Foundation
import Ledger
import Testing
import Vapor

@testable import Core
@testable import Web
@testable import Commands

/// A session ends after the idle timeout without use, and at its lifetime however much it is used.
@Suite struct SessionPolicyTests {
    @Test func aSessionEndsWhenLeftAloneAndAtTheEndOfItsLifetime() async throws {
        try await DemoPlatform.with { d in
            let policy = SessionPolicy()
            #expect(policy.idleMs == 30 * 60_000 && policy.lifetimeMs == 12 * 3_600_000)
            let accounts = Accounts(sql: d.app.sql, policy: policy)
            func signIn() async throws -> String {
                try #require(try await accounts.login(email: "tier1@cascade.demo", password: DemoSeed.password, nowMs: d.clock.nowMs())).token
            }
            func me(_ token: String) async throws -> HTTPResponseStatus {
                try await d.call(nil, .GET, "/api/v1/me", headers: ["Authorization": "Bearer \(token)"]).status
            }
            let token = try await signIn()
            #expect(try await me(token) == .ok)
            // Used every 29 minutes, it stays open for 11 hours 36 minutes...
            for _ in 0..<24 {
                d.clock.advance(minutes: 29)
                #expect(try await me(token) == .ok)
            }
            // ...and ends 12 hours after sign-in, used or not.
            d.clock.advance(minutes: 29)
            #expect(try await me(token) == .unauthorized)
            // Left alone for 31 minutes, a session ends; after 29 it had not.
            let other = try await signIn(), idle = try await signIn()
            d.clock.advance(minutes: 29)
            #expect(try await me(other) == .ok)
            d.clock.advance(minutes: 2)
            #expect(try await me(idle) == .unauthorized, "31 minutes without use")
            #expect(try await me(other) == .ok, "used 2 minutes ago")
            // The console's cookie holds the same session: it ends the same way.
            d.clock.advance(minutes: 31)
            let page = try await ConsoleTests.get(d, ConsoleTests.Session(cookie: "\(ConsoleSession.cookie)=\(other)", csrf: ""), "/dashboard")
            #expect(page.status == .seeOther && page.headers.first(name: .location) == "/login")
        }
    }
}

/// People and keys change only soon after the person gave their password.
@Suite struct ReauthenticationTests {
    @Test func peopleAndKeysChangeOnlySoonAfterThePassword() async throws {
        try await DemoPlatform.with { d in
            let accounts = Accounts(sql: d.app.sql)
            let token = try #require(try await accounts.login(email: "tier1@cascade.demo", password: DemoSeed.password, nowMs: d.clock.nowMs())).token
            let headers = ["Authorization": "Bearer \(token)"]
            func newKey() async throws -> DemoPlatform.Answer { try await d.call(nil, .POST, "/api/v1/api-keys", #"{"name":"ci"}"#, headers: headers) }
            #expect(try await newKey().status == .created)
            // Sixteen minutes on (used meanwhile, so the session is alive), keys and people wait.
            d.clock.advance(minutes: 8)
            #expect(try await d.call(nil, .GET, "/api/v1/me", headers: headers).status == .ok)
            d.clock.advance(minutes: 8)
            let stale = try await newKey()
            #expect(stale.status == .forbidden && stale["detail"]?.stringValue?.contains("/auth/reauthenticate") == true)
            let person = try await d.call(nil, .POST, "/api/v1/orgs/\(d.orgs["tier1"]!)/users", #"{"email":"late@t1.example","name":"x","password":"0123456789"}"#, headers: headers)
            #expect(person.status == .forbidden)
            #expect(try await d.app.sql.raw("SELECT id FROM users WHERE email = 'late@t1.example'").first() == nil, "nothing changed")
            // A wrong password does not open it; the right one does, for this session.
            #expect(try await d.call(nil, .POST, "/api/v1/auth/reauthenticate", #"{"password":"wrong-password"}"#, headers: headers).status == .unauthorized)
            #expect(try await d.call(nil, .POST, "/api/v1/auth/reauthenticate", #"{"password":"demo-password"}"#, headers: headers).status == .noContent)
            #expect(try await newKey().status == .created)
            // A bank user gives the code too.
            let bankFound = try #require(try await accounts.credentials(email: "bank@cascade.demo", password: DemoSeed.password))
            let bank = try await accounts.openSession(for: bankFound.caller, nowMs: d.clock.nowMs() - 20 * 60_000).token
            let bankHeaders = ["Authorization": "Bearer \(bank)"]
            #expect(try await d.call(nil, .POST, "/api/v1/auth/reauthenticate", #"{"password":"demo-password"}"#, headers: bankHeaders).code == "otp_required")
            let code = TwoFactorTests.code(d)
            #expect(try await d.call(nil, .POST, "/api/v1/auth/reauthenticate", #"{"password":"demo-password","otp":"\#(code)"}"#, headers: bankHeaders).status == .noContent)
            // API keys are machine credentials: no password to give again.
            #expect(try await d.call("tier1", .POST, "/api/v1/api-keys", #"{"name":"machine"}"#).status == .created)
        }
    }

    @Test func theConsoleAsksForThePasswordAgainAndGoesBack() async throws {
        try await DemoPlatform.with { d in
            let session = try await ConsoleTests.session(d, "tier1")
            d.clock.advance(minutes: 16)
            let org = d.orgs["tier1"]!
            let stale = try await ConsoleTests.post(d, session, "/orgs/\(org)/users", ["email": "late@t1.example", "name": "x", "password": "0123456789", "role": "maker"])
            #expect(stale.status == .seeOther && stale.headers.first(name: .location)?.hasPrefix("/reauth?back=") == true)
            let form = try await ConsoleTests.get(d, session, stale.headers.first(name: .location)!)
            #expect(form.status == .ok && form.html.contains("id=\"reauth-form\""), "\(form.html.suffix(1500))")
            let wrong = try await ConsoleTests.post(d, session, "/reauth", ["password": "wrong", "back": "/orgs/\(org)/users"])
            #expect(wrong.status == .unauthorized)
            let right = try await ConsoleTests.post(d, session, "/reauth", ["password": DemoSeed.password, "back": "/orgs/\(org)/users"])
            #expect(right.status == .seeOther && right.headers.first(name: .location) == "/orgs/\(org)/users")
            let added = try await ConsoleTests.post(d, session, "/orgs/\(org)/users", ["email": "late@t1.example", "name": "x", "password": "0123456789", "role": "maker"])
            #expect(added.status == .seeOther && added.headers.first(name: .location)?.hasPrefix("/orgs/\(org)/users") == true)
        }
    }
}
