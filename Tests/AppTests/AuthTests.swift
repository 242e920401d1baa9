import Foundation
import Ledger
import Testing
import VaporTesting

@testable import Core
@testable import Web
@testable import Commands

@Suite struct AuthTests {
    func json(_ res: TestingHTTPResponse) -> JSON { (try? JSON.parse(Array(res.body.readableBytesView))) ?? .null }

    @Test func loginMeAndLogout() async throws {
        try await SelfSignedTransactionTests.withServer { app, c in
            // setup: a supplier's user
            try await Accounts(sql: app.sql).createUser(org: c.ids["s1"]!, email: "Tier1@Cascade.Demo", name: "李静", role: .admin,
                                                        password: "demo-password", nowMs: c.clock.nowMs())
            var token = ""
            // act: log in
            try await app.testing().test(.POST, "/api/v1/auth/login", headers: ["Content-Type": "application/json"],
                                         body: ByteBuffer(string: #"{"email":"tier1@cascade.demo","password":"demo-password"}"#)) { res in
                #expect(res.status == .ok)
                let body = json(res)
                token = body["token"]?.stringValue ?? ""
                #expect(body["org"]?["role"] == .string("supplier") && body["user"]?["name"] == .string("李静"))
            }
            #expect(token.hasPrefix("cas_l_"))
            // check: the token works, is not stored in the clear, and stops working after logout
            try await app.testing().test(.GET, "/api/v1/me", headers: ["Authorization": "Bearer \(token)"]) { res in
                #expect(res.status == .ok && json(res)["user"]?["email"] == .string("tier1@cascade.demo"))
            }
            let stored = try await app.sql.raw("SELECT secret_hash FROM sessions").all().map { try $0.decode(column: "secret_hash", as: String.self) }
            #expect(stored == [Accounts.secretHash(token)])
            try await app.testing().test(.POST, "/api/v1/auth/logout", headers: ["Authorization": "Bearer \(token)"]) { #expect($0.status == .noContent) }
            try await app.testing().test(.GET, "/api/v1/me", headers: ["Authorization": "Bearer \(token)"]) { #expect($0.status == .unauthorized) }
        }
    }

    @Test func wrongCredentialsAreUnauthorizedAndSayNothingMore() async throws {
        try await SelfSignedTransactionTests.withServer { app, c in
            try await Accounts(sql: app.sql).createUser(org: c.ids["bank"]!, email: "bank@cascade.demo", name: "王", role: .maker,
                                                        password: "demo-password", nowMs: 0)
            for body in [#"{"email":"bank@cascade.demo","password":"wrong"}"#, #"{"email":"nobody@cascade.demo","password":"demo-password"}"#] {
                try await app.testing().test(.POST, "/api/v1/auth/login", headers: ["Content-Type": "application/json"], body: ByteBuffer(string: body)) { res in
                    #expect(res.status == .unauthorized && json(res)["detail"] == .string("the email or the password is wrong"))
                }
            }
            try await app.testing().test(.POST, "/api/v1/auth/login", headers: ["Content-Type": "application/json"],
                                         body: ByteBuffer(string: #"{"email":5,"password":"x"}"#)) { res in
                #expect(res.status == .unprocessableEntity && json(res)["code"] == .string("validation_failed"))
            }
            try await app.testing().test(.GET, "/api/v1/me") { res in
                #expect(res.status == .unauthorized && json(res)["code"] == .string("unauthorized"))
            }
            try await app.testing().test(.GET, "/api/v1/me", headers: ["Authorization": "Bearer cas_k_forged"]) { #expect($0.status == .unauthorized) }
        }
    }

    @Test func apiKeysAuthenticateAndAreStoredHashed() async throws {
        try await SelfSignedTransactionTests.withServer { app, c in
            let accounts = Accounts(sql: app.sql)
            let userId = try await accounts.createUser(org: c.ids["core"]!, email: "core@cascade.demo", name: "赵", role: .admin, password: "demo-password", nowMs: 0)
            let caller = Caller(userId: userId, orgId: c.ids["core"]!, email: "core@cascade.demo", name: "赵", userRole: .admin, viaAPIKey: false)
            let key = try await accounts.createAPIKey(for: caller, name: "ERP", nowMs: 0)
            try await app.testing().test(.GET, "/api/v1/me", headers: ["Authorization": "Bearer \(key.secret)"]) { res in
                #expect(res.status == .ok && json(res)["org"]?["role"] == .string("core"))
            }
            let hashes = try await app.sql.raw("SELECT key_hash FROM api_keys").all().map { try $0.decode(column: "key_hash", as: String.self) }
            #expect(hashes == [Accounts.secretHash(key.secret)])
            try await app.sql.raw("UPDATE api_keys SET revoked_ms = 1").run()
            try await app.testing().test(.GET, "/api/v1/me", headers: ["Authorization": "Bearer \(key.secret)"]) { #expect($0.status == .unauthorized) }
        }
    }
}
