import Foundation
import Ledger
import SQLKit
import Testing
import VaporTesting

@testable import Core
@testable import Web
@testable import Commands

/// An org's admin disables and enables people, ends their sessions and resets their passwords;
/// each takes effect at once, and nobody outside the org can do any of it.
@Suite struct PeopleTests {
    /// A clerk of tier 1 with a session and an API key of their own.
    struct Clerk {
        var id: String
        var session: String
        var key: String
    }

    func clerk(_ d: DemoPlatform, admin: Bool = false) async throws -> Clerk {
        let org = d.orgs["tier1"]!
        let made = try await d.call("tier1", .POST, "/api/v1/orgs/\(org)/users",
                                    #"{"email":"clerk@t1.example","name":"出纳","password":"first-password","role":"\#(admin ? "admin" : "maker")"}"#)
        let id = try #require(made["id"]?.stringValue, "\(made.json)")
        if let held = made["approval"]?["id"]?.stringValue {
            // A new admin starts as a viewer until a second admin, or the operator, agrees.
            #expect(admin && made["role"] == "viewer")
            #expect(try await d.call("operator", .POST, "/api/v1/approvals/\(held)/approve").status == .created)
        }
        let session = try #require(try await signIn(d, "first-password")["token"]?.stringValue)
        let key = try await d.call(nil, .POST, "/api/v1/api-keys", #"{"name":"clerk"}"#, headers: ["Authorization": "Bearer \(session)"])
        // Only admins make API keys: a member's clerk has none.
        return Clerk(id: id, session: session, key: key["secret"]?.stringValue ?? "none")
    }

    func signIn(_ d: DemoPlatform, _ password: String) async throws -> DemoPlatform.Answer {
        try await d.call(nil, .POST, "/api/v1/auth/login", #"{"email":"clerk@t1.example","password":"\#(password)"}"#)
    }

    func me(_ d: DemoPlatform, _ bearer: String) async throws -> HTTPResponseStatus {
        try await d.call(nil, .GET, "/api/v1/me", headers: ["Authorization": "Bearer \(bearer)"]).status
    }

    @Test func aDisabledUsersSessionsAndKeysStopAtOnce() async throws {
        try await DemoPlatform.with { d in
            let org = d.orgs["tier1"]!
            let c = try await clerk(d, admin: true)
            let (sessionBefore, keyBefore) = (try await me(d, c.session), try await me(d, c.key))
            #expect(sessionBefore == .ok && keyBefore == .ok)
            let disabled = try await d.call("tier1", .POST, "/api/v1/orgs/\(org)/users/\(c.id)/disable")
            #expect(disabled.status == .ok && disabled["disabledAt"]?.stringValue != nil, "\(disabled.json)")
            #expect(try await me(d, c.session) == .unauthorized, "the session is gone")
            #expect(try await me(d, c.key) == .forbidden, "the key stops")
            #expect(try await signIn(d, "first-password").status == .forbidden)
            // Enabled again: the key works again; a new sign-in is needed for a session.
            #expect(try await d.call("tier1", .POST, "/api/v1/orgs/\(org)/users/\(c.id)/enable").status == .ok)
            let (keyAfter, sessionAfter) = (try await me(d, c.key), try await me(d, c.session))
            #expect(keyAfter == .ok && sessionAfter == .unauthorized)
            #expect(try await signIn(d, "first-password").status == .ok)
            // An admin does not disable themselves; nobody outside the org touches its people.
            let selfId = try await d.call("tier1", .GET, "/api/v1/me")["user"]!["id"]!.stringValue!
            #expect(try await d.call("tier1", .POST, "/api/v1/orgs/\(org)/users/\(selfId)/disable").status == .forbidden)
            for who in ["tier2", "operator", "regulator"] {
                #expect(try await d.call(who, .POST, "/api/v1/orgs/\(org)/users/\(c.id)/disable").status == .forbidden, "\(who)")
            }
            // Another org's user id, through one's own org: not found.
            let tier2User = try await d.call("tier2", .GET, "/api/v1/me")["user"]!["id"]!.stringValue!
            #expect(try await d.call("tier1", .POST, "/api/v1/orgs/\(org)/users/\(tier2User)/disable").status == .notFound)
            #expect(try await d.call("tier1", .POST, "/api/v1/orgs/\(org)/users/not-a-uuid/disable").code == "validation_failed")
            let audit = try await d.app.sql.raw("SELECT action FROM audit_log WHERE action LIKE 'user.%' ORDER BY seq").all().map { try $0.decode(column: "action", as: String.self) }
            // The clerk was added as a viewer, made an admin once the operator agreed, then disabled and enabled.
            #expect(audit == ["user.create", "user.role", "user.disable", "user.enable"])
        }
    }

    @Test func endingSessionsSignsAPersonOutEverywhere() async throws {
        try await DemoPlatform.with { d in
            let org = d.orgs["tier1"]!
            let c = try await clerk(d)
            let second = try #require(try await signIn(d, "first-password")["token"]?.stringValue)
            let ended = try await d.call("tier1", .POST, "/api/v1/orgs/\(org)/users/\(c.id)/end-sessions")
            #expect(ended["ended"] == .int(2))
            let (first, again) = (try await me(d, c.session), try await me(d, second))
            #expect(first == .unauthorized && again == .unauthorized)
        }
    }

    @Test func aTemporaryPasswordMustBeChangedBeforeAnythingElse() async throws {
        try await DemoPlatform.with { d in
            let org = d.orgs["tier1"]!
            let c = try await clerk(d, admin: true)
            let reset = try await d.call("tier1", .POST, "/api/v1/orgs/\(org)/users/\(c.id)/reset-password", headers: ["Idempotency-Key": "reset-1"])
            let temporary = try #require(reset["temporaryPassword"]?.stringValue)
            #expect(temporary.count == 16 && reset["user"]?["mustChangePassword"] == .bool(true))
            // Shown once: not kept for a replay, and the old session is gone.
            let replay = try await d.call("tier1", .POST, "/api/v1/orgs/\(org)/users/\(c.id)/reset-password", headers: ["Idempotency-Key": "reset-1"])
            #expect(replay["temporaryPassword"] == .null)
            let kept = try await d.app.sql.raw("SELECT body FROM idempotency_keys WHERE key = 'reset-1'").first()!.decode(column: "body", as: String.self)
            #expect(!kept.contains(temporary))
            #expect(try await me(d, c.session) == .unauthorized)
            #expect(try await signIn(d, "first-password").status == .unauthorized)
            // Signed in with it, the person may only change it.
            let signedIn = try await signIn(d, temporary)
            let token = try #require(signedIn["token"]?.stringValue)
            #expect(signedIn["user"]?["mustChangePassword"] == .bool(true))
            let auth = ["Authorization": "Bearer \(token)"]
            #expect(try await d.call(nil, .GET, "/api/v1/tokens", headers: auth).status == .forbidden)
            #expect(try await d.call(nil, .POST, "/api/v1/auth/password", #"{"currentPassword":"wrong-one-x","newPassword":"second-password"}"#, headers: auth).status == .unauthorized)
            #expect(try await d.call(nil, .POST, "/api/v1/auth/password", #"{"currentPassword":"\#(temporary)","newPassword":"short"}"#, headers: auth).code == "validation_failed")
            #expect(try await d.call(nil, .POST, "/api/v1/auth/password", #"{"currentPassword":"\#(temporary)","newPassword":"second-password"}"#, headers: auth).status == .noContent)
            #expect(try await d.call(nil, .GET, "/api/v1/tokens", headers: auth).status == .ok, "the session that changed it goes on")
            #expect(try await signIn(d, "second-password").status == .ok)
            // An API key is a machine credential: it changes no one's password.
            #expect(try await d.call(nil, .POST, "/api/v1/auth/password", #"{"currentPassword":"second-password","newPassword":"third-password"}"#,
                                     headers: ["Authorization": "Bearer \(c.key)"]).status == .forbidden)
        }
    }
}

@Suite struct PeoplePagesTests {
    /// On the console: the admin's People page disables a clerk, and resets the password of
    /// another, whose next sign-in goes to the password page before anything else.
    /// Making a clerk a checker on the console waits for a second admin or the operator, who
    /// decides it on the approval's page.
    @Test func aNewCheckerWaitsForTheOperatorOnTheConsole() async throws {
        try await DemoPlatform.with { d in
            let org = d.orgs["tier1"]!
            let clerk = try #require(try await d.call("tier1", .POST, "/api/v1/orgs/\(org)/users", #"{"email":"clerk@t1.example","name":"出纳","password":"first-password"}"#)["id"]?.stringValue)
            let admin = try await ConsoleTests.session(d, "tier1")
            let held = try await ConsoleTests.post(d, admin, "/orgs/\(org)/users/\(clerk)/role", ["role": "checker"])
            let location = try #require(held.headers.first(name: .location))
            #expect(held.status == .seeOther && location.hasPrefix("/approvals/") && location.hasSuffix("?done=held"), "\(location)")
            let path = String(location.prefix { $0 != "?" })
            #expect(!(try await ConsoleTests.get(d, admin, path).html.contains("id=\"approve\"")), "not the admin who asked")
            let op = try await ConsoleTests.session(d, "operator")
            #expect(try await ConsoleTests.get(d, op, path).html.contains("id=\"approve\""))
            let done = try await ConsoleTests.post(d, op, "\(path)/approve", [:])
            #expect(done.headers.first(name: .location) == "\(path)?done=approval_approved")
            #expect(try await d.app.sql.raw("SELECT role FROM users WHERE id = \(bind: clerk)").first()?.decode(column: "role", as: String.self) == "checker")
        }
    }

    @Test func anAdminManagesPeopleOnTheConsole() async throws {
        try await DemoPlatform.with { d in
            let org = d.orgs["tier1"]!
            let made = try await d.call("tier1", .POST, "/api/v1/orgs/\(org)/users", #"{"email":"clerk@t1.example","name":"出纳","password":"first-password"}"#)
            let clerk = try #require(made["id"]?.stringValue)
            let admin = try await ConsoleTests.session(d, "tier1")
            let page = try await ConsoleTests.get(d, admin, "/orgs/\(org)/users")
            #expect(page.status == .ok && page.html.contains("/orgs/\(org)/users/\(clerk)/disable") && page.html.contains("href=\"/orgs/\(org)/users\""))
            #expect(try await ConsoleTests.post(d, admin, "/orgs/\(org)/users/\(clerk)/disable", [:]).status == .seeOther)
            let disabled = try await ConsoleTests.get(d, admin, "/orgs/\(org)/users")
            #expect(disabled.html.contains("/orgs/\(org)/users/\(clerk)/enable"))
            #expect(try await ConsoleTests.post(d, admin, "/orgs/\(org)/users/\(clerk)/enable", [:]).status == .seeOther)
            // The reset shows the temporary password once, on the page.
            let reset = try await ConsoleTests.post(d, admin, "/orgs/\(org)/users/\(clerk)/reset-password", [:])
            let temporary = try #require(reset.html.firstMatch(of: /clerk@t1\.example: ([A-Za-z0-9]{16})/).map { String($0.1) }, "\(reset.status)")
            let (token, _, _) = try #require(try await Accounts(sql: d.app.sql).login(email: "clerk@t1.example", password: temporary, nowMs: d.clock.nowMs()))
            let clerkSession = ConsoleTests.Session(cookie: "\(ConsoleSession.cookie)=\(token); lang=en", csrf: ConsoleSession.csrf(for: token))
            let elsewhere = try await ConsoleTests.get(d, clerkSession, "/holdings")
            #expect(elsewhere.status == .seeOther && elsewhere.headers.first(name: .location) == "/password")
            let changed = try await ConsoleTests.post(d, clerkSession, "/password", ["currentPassword": temporary, "newPassword": "my-own-password"])
            #expect(changed.status == .seeOther && changed.headers.first(name: .location)?.hasPrefix("/dashboard") == true, "\(changed.status)")
            #expect(try await ConsoleTests.get(d, clerkSession, "/holdings").status == .ok)
            // Nobody else's admin gets the buttons, or may press them.
            let other = try await ConsoleTests.session(d, "tier2")
            #expect(try await ConsoleTests.post(d, other, "/orgs/\(org)/users/\(clerk)/disable", [:]).status == .forbidden)
        }
    }
}
