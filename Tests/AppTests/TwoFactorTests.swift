import Foundation
import Ledger
import SQLKit
import Testing
import Vapor
import VaporTesting

@testable import Core
@testable import Web
@testable import Commands

/// Two-factor sign-in: required for every user of a bank; a code works once; a wrong one counts
/// toward throttling; recovery codes work once; enrolment is confirmed with a first code; a bank
/// user without one may only enrol; API keys are not asked.
@Suite struct TwoFactorTests {
    static let demoSecret = Base32.decode(DemoSeed.totpSecret)!

    static func code(_ d: DemoPlatform, secret: [UInt8] = demoSecret, stepsAhead: Int64 = 0) -> String {
        TOTP.code(secret: secret, step: TOTP.step(at: d.clock.nowMs() / 1000) + stepsAhead)
    }

    static func login(_ d: DemoPlatform, _ email: String, otp: String? = nil, password: String = DemoSeed.password) async throws -> DemoPlatform.Answer {
        var body: [JSONKey: JSON] = ["email": .string(email), "password": .string(password)]
        if let otp { body["otp"] = .string(otp) }
        return try await d.call(nil, .POST, "/api/v1/auth/login", JSON.object(body).canonicalString)
    }

    @Test func aBankUserSignsInWithACodeThatWorksOnce() async throws {
        try await DemoPlatform.with { d in
            // The password alone: otp_required, and nothing opened.
            let bare = try await Self.login(d, "bank@cascade.demo")
            #expect(bare.status == .unauthorized && bare.code == "otp_required")
            #expect(bare["token"] == nil)
            // A wrong code, and a right one.
            #expect(try await Self.login(d, "bank@cascade.demo", otp: "000000").code == "unauthorized")
            let code = Self.code(d)
            let signedIn = try await Self.login(d, "bank@cascade.demo", otp: code)
            #expect(signedIn.status == .ok && signedIn["token"]?.stringValue?.hasPrefix("cas_l_") == true)
            // The same code again: refused. The next step's is still good once.
            #expect(try await Self.login(d, "bank@cascade.demo", otp: code).code == "unauthorized")
            #expect(try await Self.login(d, "bank@cascade.demo", otp: Self.code(d, stepsAhead: 1)).status == .ok)
            // A supplier has no second factor.
            #expect(try await Self.login(d, "tier1@cascade.demo").status == .ok)
            // An API key of a bank user is not asked for one.
            #expect(try await d.call("bank", .GET, "/api/v1/me").status == .ok)
            // The wrong password with the right code says nothing more than a wrong password.
            #expect(try await Self.login(d, "bank@cascade.demo", otp: Self.code(d, stepsAhead: -1), password: "wrong-password").code == "unauthorized")
        }
    }

    @Test func parallelUsesOfOneCodeLetOneIn() async throws {
        try await DemoPlatform.with { d in
            let code = Self.code(d)
            let statuses = try await withThrowingTaskGroup(of: HTTPResponseStatus.self) { group in
                for _ in 0..<4 { group.addTask { try await Self.login(d, "bank@cascade.demo", otp: code).status } }
                return try await group.reduce(into: [HTTPResponseStatus]()) { $0.append($1) }
            }
            #expect(statuses.filter { $0 == .ok }.count == 1, "\(statuses)")
            #expect(statuses.allSatisfy { $0 == .ok || $0 == .unauthorized })
        }
    }

    @Test func wrongCodesCountTowardThrottling() async throws {
        try await DemoPlatform.with { d in
            for _ in 0..<5 {
                let wrong = try await Self.login(d, "bank2@cascade.demo", otp: "123456")
                #expect(wrong.status == .unauthorized)
            }
            // Locked now, even with the right code.
            let right = try await Self.login(d, "bank2@cascade.demo", otp: Self.code(d))
            #expect(right.status == .tooManyRequests)
        }
    }

    @Test func aNewSecretIsConfirmedAndItsRecoveryCodesWorkOnce() async throws {
        try await DemoPlatform.with { d in
            // A bank user with no second factor yet may only enrol one.
            let bank = d.orgs["bank"]!
            let user = try await Accounts(sql: d.app.sql).createUser(org: bank, email: "clerk@bank.example", name: "柜员", role: .maker, password: "clerk-password-1", nowMs: 0)
            let first = try await Self.login(d, "clerk@bank.example", password: "clerk-password-1")
            #expect(first.status == .ok)
            let session = first["token"]!.stringValue!
            let headers = ["Authorization": "Bearer \(session)"]
            #expect(try await d.call(nil, .GET, "/api/v1/me", headers: headers)["user"]?["mustEnrolTwoFactor"] == .bool(true))
            #expect(try await d.call(nil, .GET, "/api/v1/receivables", headers: headers).status == .forbidden)
            // Enrolment asks for the password again.
            #expect(try await d.call(nil, .POST, "/api/v1/auth/two-factor", #"{"password":"wrong"}"#, headers: headers).status == .unauthorized)
            let enrolled = try await d.call(nil, .POST, "/api/v1/auth/two-factor", #"{"password":"clerk-password-1"}"#, headers: headers)
            #expect(enrolled.status == .created)
            let secret = try #require(enrolled["secret"]?.stringValue.flatMap(Base32.decode))
            #expect(secret.count == 20)
            #expect(enrolled["uri"]?.stringValue?.hasPrefix("otpauth://totp/Cascade:clerk%40bank%2Eexample?secret=") == true)
            guard case .array(let codes)? = enrolled["recoveryCodes"] else { Issue.record("no recovery codes"); return }
            #expect(codes.count == 10 && Set(codes.compactMap(\.stringValue)).count == 10)
            // Stored sealed and hashed, never as given.
            let row = try await d.app.sql.raw("SELECT totp_secret FROM users WHERE id = \(bind: user)").first()!
            #expect(try row.decode(column: "totp_secret", as: String.self) != enrolled["secret"]!.stringValue!)
            let stored = try await d.app.sql.raw("SELECT code_hash FROM recovery_codes WHERE user_id = \(bind: user)").all().map { try $0.decode(column: "code_hash", as: String.self) }
            #expect(stored.count == 10 && codes.allSatisfy { !stored.contains($0.stringValue!) })
            // Confirmed with a wrong code: not yet. With the right one: on.
            #expect(try await d.call(nil, .POST, "/api/v1/auth/two-factor/confirm", #"{"otp":"000000"}"#, headers: headers).status == .unprocessableEntity)
            #expect(try await d.call(nil, .POST, "/api/v1/auth/two-factor/confirm", #"{"otp":"\#(Self.code(d, secret: secret))"}"#, headers: headers).status == .noContent)
            #expect(try await d.call(nil, .GET, "/api/v1/receivables", headers: headers).status == .ok)
            // From now on sign-in asks for a code; a recovery code works, once.
            #expect(try await Self.login(d, "clerk@bank.example", password: "clerk-password-1").code == "otp_required")
            let recovery = codes[3].stringValue!
            #expect(try await Self.login(d, "clerk@bank.example", otp: recovery, password: "clerk-password-1").status == .ok)
            #expect(try await Self.login(d, "clerk@bank.example", otp: recovery, password: "clerk-password-1").code == "unauthorized")
            // An API key cannot enrol anyone.
            #expect(try await d.call("bank", .POST, "/api/v1/auth/two-factor", #"{"password":"demo-password"}"#).status == .forbidden)
        }
    }

    @Test func theConsoleAsksForTheCodeAfterThePassword() async throws {
        try await DemoPlatform.with { d in
            var pre = ""
            try await d.app.testing().test(.GET, "/login") { res in pre = res.headers.setCookie?[ConsoleSession.preCookie]?.string ?? "" }
            func post(_ path: String, _ form: String, _ check: (TestingHTTPResponse) throws -> Void) async throws {
                try await d.app.testing().test(.POST, path, headers: ["Content-Type": "application/x-www-form-urlencoded", "Cookie": "\(ConsoleSession.preCookie)=\(pre)"],
                                               body: ByteBuffer(string: "_csrf=\(pre)&" + form), afterResponse: check)
            }
            var challenge = ""
            try await post("/login", "email=bank%40cascade.demo&password=demo-password") { res in
                #expect(res.status == .ok)
                let page = String(buffer: res.body)
                #expect(page.contains("id=\"code-form\""))
                #expect(!(res.headers[.setCookie].contains { $0.hasPrefix("\(ConsoleSession.cookie)=") }), "no session before the code")
                if let r = page.range(of: "name=\"challenge\" value=\"") { challenge = String(page[r.upperBound...].prefix { $0 != "\"" }) }
            }
            #expect(!challenge.isEmpty)
            func code(_ challenge: String, _ code: String, _ check: (TestingHTTPResponse) throws -> Void) async throws {
                try await post("/login/code", "challenge=\(challenge.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)&code=\(code)", check)
            }
            try await code(challenge, "000000") { res in
                #expect(res.status == .unauthorized && String(buffer: res.body).contains("id=\"code-form\""))
            }
            // A challenge edited (its deadline pushed on) names nobody: back to the password.
            let parts = challenge.split(separator: ".")
            try await code("\(parts[0]).\(Int64(parts[1])! + 1).\(parts[2])", Self.code(d)) { res in
                #expect(res.status == .unauthorized && String(buffer: res.body).contains("id=\"login-form\""))
            }
            try await code(challenge, Self.code(d)) { res in
                #expect(res.status == .seeOther && res.headers.first(name: .location) == "/dashboard")
                #expect(res.headers[.setCookie].contains { $0.hasPrefix("\(ConsoleSession.cookie)=cas_l_") })
            }
            // Five minutes later the challenge is no good.
            d.clock.advance(days: 1)
            try await code(challenge, Self.code(d)) { res in
                #expect(res.status == .unauthorized && String(buffer: res.body).contains("id=\"login-form\""))
            }
        }
    }

    @Test func aBankClerkSetsUpTheSecondFactorOnTheConsoleBeforeAnythingElse() async throws {
        try await DemoPlatform.with { d in
            _ = try await Accounts(sql: d.app.sql).createUser(org: d.orgs["bank"]!, email: "clerk@bank.example", name: "柜员", role: .maker, password: "clerk-password-1", nowMs: 0)
            let accounts = Accounts(sql: d.app.sql)
            let found = try #require(try await accounts.credentials(email: "clerk@bank.example", password: "clerk-password-1"))
            let token = try await accounts.openSession(for: found.caller, nowMs: d.clock.nowMs()).token
            let session = ConsoleTests.Session(cookie: "\(ConsoleSession.cookie)=\(token); lang=en", csrf: ConsoleSession.csrf(for: token))
            let first = try await ConsoleTests.get(d, session, "/financings")
            #expect(first.status == .seeOther && first.headers.first(name: .location) == "/two-factor")
            let page = try await ConsoleTests.post(d, session, "/two-factor", ["password": "clerk-password-1"])
            #expect(page.status == .ok && page.html.contains("id=\"recovery-codes\"") && page.html.contains("otpauth://totp/Cascade:"))
            let secretText = try #require(page.html.range(of: "id=\"totp-secret\" value=\"").map { String(page.html[$0.upperBound...].prefix { $0 != "\"" }) })
            let secret = try #require(Base32.decode(secretText))
            #expect(try await ConsoleTests.post(d, session, "/two-factor/confirm", ["code": "000000"]).status == .unprocessableEntity)
            let done = try await ConsoleTests.post(d, session, "/two-factor/confirm", ["code": Self.code(d, secret: secret)])
            #expect(done.status == .seeOther && done.headers.first(name: .location)?.hasPrefix("/dashboard") == true)
            #expect(try await ConsoleTests.get(d, session, "/financings").status == .ok)
        }
    }
}
