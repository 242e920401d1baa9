import Foundation
import Ledger
import Testing
import Vapor

@testable import App

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
