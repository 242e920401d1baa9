import Foundation
import Ledger
import SQLKit
import Testing
import VaporTesting

@testable import Core
@testable import Web
@testable import Commands

/// The console through HTTP: pages for each role, CSRF on every form, the regulator's
/// read-only session, translations, headers, error pages.
@Suite struct ConsoleTests {
    struct Session {
        let cookie: String
        let csrf: String
    }

    static func session(_ d: DemoPlatform, _ who: String) async throws -> Session {
        // Straight to a session, second factor or not: these tests are about the pages.
        let accounts = Accounts(sql: d.app.sql)
        let found = try #require(try await accounts.credentials(email: "\(who)@cascade.demo", password: DemoSeed.password))
        let (token, _, _) = try await accounts.openSession(for: found.caller, nowMs: d.clock.nowMs())
        return Session(cookie: "\(ConsoleSession.cookie)=\(token); lang=en", csrf: ConsoleSession.csrf(for: token))
    }

    struct Page {
        var status: HTTPResponseStatus
        var headers: HTTPHeaders
        var html: String
    }

    static func get(_ d: DemoPlatform, _ s: Session?, _ path: String) async throws -> Page {
        var page: Page?
        try await d.app.testing().test(.GET, path, headers: s.map { ["Cookie": $0.cookie] } ?? [:]) { res in
            page = Page(status: res.status, headers: res.headers, html: String(buffer: res.body))
        }
        return page!
    }

    static func post(_ d: DemoPlatform, _ s: Session?, _ path: String, _ form: [String: String], csrf: Bool = true) async throws -> Page {
        var fields = form
        if csrf, let s { fields["_csrf"] = s.csrf }
        let body = fields.map { "\($0.key)=\($0.value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")" }.joined(separator: "&")
        var headers: HTTPHeaders = ["Content-Type": "application/x-www-form-urlencoded"]
        if let s { headers.add(name: "Cookie", value: s.cookie) }
        var page: Page?
        try await d.app.testing().test(.POST, path, headers: headers, body: ByteBuffer(string: body)) { res in
            page = Page(status: res.status, headers: res.headers, html: String(buffer: res.body))
        }
        return page!
    }

    /// Every console form, with ids from the demo's ledger.
    static func forms(_ d: DemoPlatform) async throws -> [(String, [String: String])] {
        let token = try await d.call("regulator", .GET, "/api/v1/tokens?status=active").items[0]["id"]!.stringValue!
        let receivable = try await d.call("regulator", .GET, "/api/v1/receivables").items[0]["id"]!.stringValue!
        let financing = try await d.call("regulator", .GET, "/api/v1/financings").items[0]["id"]!.stringValue!
        let line = try await d.call("regulator", .GET, "/api/v1/credit-lines").items[0]["id"]!.stringValue!
        let tier2 = d.orgs["tier2"]!.description
        return [
            ("/tokens/\(token)/accept", [:]), ("/tokens/\(token)/reject", [:]),
            ("/tokens/\(token)/transfer", ["toOrgId": tier2, "amount": "1.00"]), ("/tokens/\(token)/split", ["amounts": "1\n1"]),
            ("/tokens/\(token)/finance", ["bankId": d.orgs["bank"]!.description]),
            ("/financings/\(financing)/approve", [:]), ("/financings/\(financing)/reject", [:]), ("/financings/\(financing)/cancel", [:]),
            ("/financings/\(financing)/confirm-payout", ["reference": "X"]),
            ("/receivables", ["supplierId": tier2, "creditLineId": line, "face": "1.00", "dueDate": "2026-10-01"]),
            ("/receivables/\(receivable)/settle", ["reference": "X"]),
            ("/credit-lines", ["coreId": d.orgs["core"]!.description, "limit": "1", "rate": "1", "expiresOn": "2027-01-01"]),
            ("/orgs/\(tier2)/suspend", [:]), ("/orgs/\(tier2)/activate", [:]),
            ("/orgs", ["name": "新机构", "role": "supplier", "creditCode": CreditCode.complete("91320500MA1K00055")!]),
            ("/orgs/\(tier2)/users", ["email": "new@cascade.demo", "name": "新人", "password": "0123456789"]),
            ("/policy", ["maxTermDays": "300", "minTermDays": "1", "minPieceFen": "1", "maxFaceFen": "100000000000", "maxTier": "10",
                         "acceptanceWindowDays": "3", "financingCutoffDays": "3", "graceDays": "0"]),
        ]
    }

    @Test func everyFormRefusesAPostWithoutItsCSRFToken() async throws {
        try await DemoPlatform.with { d in
            let height = await d.height
            for who in ["tier1", "core", "bank", "operator"] {
                let s = try await Self.session(d, who)
                for (path, form) in try await Self.forms(d) + [("/logout", [:]), ("/chain/verify", [:])] {
                    let page = try await Self.post(d, s, path, form, csrf: false)
                    #expect(page.status == .forbidden && page.html.contains("The form has expired"), "\(who) \(path): \(page.status)")
                    var wrong = form
                    wrong["_csrf"] = String(repeating: "0", count: 64)
                    #expect(try await Self.post(d, s, path, wrong, csrf: false).status == .forbidden, "\(who) \(path) with a wrong token")
                }
            }
            // The login form too: without the pre-session cookie's token it does not sign in.
            #expect(try await Self.post(d, nil, "/login", ["email": "core@cascade.demo", "password": DemoSeed.password]).status == .forbidden)
            #expect(await d.height == height)
        }
    }

    @Test func aRegulatorsSessionCannotPostAnyForm() async throws {
        try await DemoPlatform.with { d in
            let height = await d.height
            let s = try await Self.session(d, "regulator")
            for (path, form) in try await Self.forms(d) {
                let page = try await Self.post(d, s, path, form)
                #expect(page.status == .forbidden, "\(path): \(page.status)")
                #expect(!page.html.contains("Fatal") && page.html.contains("<h1>"))
            }
            #expect(await d.height == height)
            // What it may do: start a verification, and sign out.
            #expect(try await Self.post(d, s, "/chain/verify", [:]).status == .seeOther)
            await d.app.chainVerification.wait()
            let verified = try await Self.get(d, s, "/chain")
            #expect(verified.status == .ok && verified.html.contains("The chain verifies") && !verified.html.contains("http-equiv=\"refresh\""))
            // Its pages offer no form that changes anything but its session, language or a verification.
            for path in ["/dashboard", "/overview", "/orgs", "/orgs/\(d.orgs["bank"]!)/exposure", "/audit", "/policy", "/receivables", "/chain", "/events", "/receivables/\(try await d.call("regulator", .GET, "/api/v1/receivables").items[0]["id"]!.stringValue!)"] {
                let page = try await Self.get(d, s, path)
                #expect(page.status == .ok, "\(path): \(page.status)")
                let actions = page.html.components(separatedBy: "<form method=\"post\" action=\"").dropFirst().map { $0.prefix { $0 != "\"" } }
                // The forms are found (every page has its sign-out), and they are only those.
                #expect(actions.contains("/logout"), "\(path): no forms found")
                #expect(actions.allSatisfy { $0 == "/logout" || $0 == "/chain/verify" }, "\(path): \(actions)")
            }
        }
    }

    @Test func eachRoleSeesItsPagesAndOnlyItsNavigation() async throws {
        try await DemoPlatform.with { d in
            let pages: [String: [String]] = [
                "tier1": ["/dashboard", "/inbox", "/holdings", "/financings", "/events"],
                "core": ["/dashboard", "/receivables", "/receivables/new", "/credit-lines"],
                "bank": ["/dashboard", "/financings", "/credit-lines", "/holdings"],
                "regulator": ["/dashboard", "/overview", "/orgs", "/orgs/\(d.orgs["tier1"]!)/exposure", "/receivables", "/chain", "/audit", "/policy"],
                "operator": ["/dashboard", "/orgs", "/chain", "/policy", "/audit", "/orgs/\(d.orgs["tier1"]!)/users"],
            ]
            for (who, paths) in pages {
                let s = try await Self.session(d, who)
                for path in paths {
                    let page = try await Self.get(d, s, path)
                    #expect(page.status == .ok, "\(who) \(path): \(page.status)")
                    #expect(page.headers.first(name: "Content-Security-Policy")?.contains("frame-ancestors 'none'") == true)
                    #expect(page.headers.first(name: "X-Content-Type-Options") == "nosniff")
                    #expect(!page.html.contains("<script>"), "no inline script")
                }
            }
            // A supplier's navigation has no issuing, no chain; a page it may not see is a 403 page.
            let supplier = try await Self.session(d, "tier1")
            let dashboard = try await Self.get(d, supplier, "/dashboard").html
            #expect(dashboard.contains("href=\"/inbox\"") && !dashboard.contains("href=\"/receivables/new\"") && !dashboard.contains("href=\"/chain\""))
            let chain = try await Self.get(d, supplier, "/chain")
            #expect(chain.status == .forbidden && chain.html.contains("Your role may not do this") && !chain.html.contains("Error"))
            let missing = try await Self.get(d, supplier, "/receivables/" + String(repeating: "a", count: 64))
            #expect(missing.status == .notFound && missing.html.contains("Not found"))
            // Signed out, pages send you to sign in.
            #expect(try await Self.get(d, nil, "/dashboard").status == .seeOther)
        }
    }

    @Test func amountsDatesAndStatusesReadAsPeopleExpect() async throws {
        try await DemoPlatform.with { d in
            let s = try await Self.session(d, "tier1")
            let holdings = try await Self.get(d, s, "/holdings").html
            #expect(holdings.contains("<td class=\"num\">¥600,000.00</td>"))
            #expect(holdings.contains("<td>2026-11-30</td>"))
            #expect(holdings.contains("<span class=\"badge s-active\">Active</span>"))
            let core = try await Self.session(d, "core")
            let r = try await d.call("core", .GET, "/api/v1/receivables").items.first { $0["memo"] == .string("齿轮箱壳体 第一批") }!["id"]!.stringValue!
            let detail = try await Self.get(d, core, "/receivables/\(r)").html
            // The tree: one node per token, each with its id.
            let nodes = detail.components(separatedBy: "data-token-id=\"").count - 1
            let tokens = try await d.call("core", .GET, "/api/v1/receivables/\(r)/tree").items.count
            #expect(nodes == tokens && tokens == 5)
            #expect(detail.contains("<svg") && detail.contains("¥1,000,000.00"))
        }
    }

    @Test func aRefusedFormKeepsWhatWasTypedAndSaysWhyNextToTheField() async throws {
        try await DemoPlatform.with { d in
            let s = try await Self.session(d, "tier1")
            let token = try await d.call("tier1", .GET, "/api/v1/tokens?status=active").items.first { $0["amountFen"] == .int(600_000_00) }!["id"]!.stringValue!
            let page = try await Self.post(d, s, "/tokens/\(token)/transfer", ["toOrgId": d.orgs["tier2"]!.description, "amount": "600,000.01", "memo": "模具费"])
            #expect(page.status == .unprocessableEntity)
            #expect(page.html.contains("value=\"600,000.01\"") && page.html.contains("value=\"模具费\""))
            #expect(page.html.contains("The amount is out of range"))
            #expect(page.html.contains("<p class=\"field-error\" id=\"transfer-amount-error\">The amount is out of range</p>"))
            let typo = try await Self.post(d, s, "/tokens/\(token)/transfer", ["toOrgId": d.orgs["tier2"]!.description, "amount": "12.345"])
            #expect(typo.html.contains("id=\"transfer-amount-error\">Enter an amount in yuan with at most two decimals"))
        }
    }

    @Test func theOperatorRegistersAnOrgAndSetsThePolicyThroughTheForms() async throws {
        try await DemoPlatform.with { d in
            let op = try await Self.session(d, "operator")
            let bad = try await Self.post(d, op, "/orgs", ["name": "坏代码", "role": "supplier", "creditCode": "91320500MA1K00050"])
            #expect(bad.status == .unprocessableEntity && bad.html.contains("id=\"credit-code-error\"") && bad.html.contains("value=\"坏代码\""))
            let code = CreditCode.complete("91320500MA1K00056")!
            let ok = try await Self.post(d, op, "/orgs", ["name": "昆山紧固件", "role": "supplier", "creditCode": code, "adminEmail": "boss@ks.example",
                                                          "adminName": "王", "adminPassword": "a-long-password"])
            #expect(ok.status == .seeOther)
            #expect(try await Self.get(d, op, "/orgs").html.contains("昆山紧固件"))
            #expect(try await Accounts(sql: d.app.sql).login(email: "boss@ks.example", password: "a-long-password", nowMs: d.clock.nowMs()) != nil)
            var policy = ["maxTermDays": "180", "minTermDays": "1", "minPieceFen": "100", "maxFaceFen": "100000000000", "maxTier": "5",
                          "acceptanceWindowDays": "3", "financingCutoffDays": "3", "graceDays": "2"]
            #expect(try await Self.post(d, op, "/policy", policy).status == .seeOther)
            #expect(await d.app.sequencer!.read(\.policy).maxTier == 5)
            policy["maxTier"] = "x"
            let refused = try await Self.post(d, op, "/policy", policy)
            #expect(refused.status == .unprocessableEntity && refused.html.contains("value=\"x\""))
            let audit = try await Self.get(d, op, "/audit").html
            #expect(audit.contains("org.register") && audit.contains("policy.set"))
        }
    }

    @Test func longTablesPage() async throws {
        try await DemoPlatform.with { d in
            for i in 0..<110 {
                try await AuditLog.record(AuditLog.Entry(action: "test.entry", detail: "entry \(i)"), nowMs: Int64(i), on: d.app.sql)
            }
            let op = try await Self.session(d, "operator")
            func rows(_ html: String) -> Int { html.components(separatedBy: "<tr><td>").count - 1 }
            let first = try await Self.get(d, op, "/audit?action=test.entry")
            #expect(rows(first.html) == 50 && first.html.contains("href=\"/audit?action=test.entry&amp;page=2\"") && !first.html.contains("rel=\"prev\""))
            let third = try await Self.get(d, op, "/audit?action=test.entry&page=3")
            #expect(rows(third.html) == 10 && third.html.contains("rel=\"prev\"") && !third.html.contains("rel=\"next\""))
            #expect(third.html.contains("entry 0<") && !first.html.contains("entry 0<"))
        }
    }

    @Test func signInIsThrottledAfterRepeatedFailures() async throws {
        try await DemoPlatform.with { d in
            var pre = ""
            try await d.app.testing().test(.GET, "/login") { res in pre = res.headers.setCookie?[ConsoleSession.preCookie]?.string ?? "" }
            func attempt(_ password: String) async throws -> HTTPResponseStatus {
                var status: HTTPResponseStatus = .ok
                try await d.app.testing().test(.POST, "/login", headers: ["Content-Type": "application/x-www-form-urlencoded", "Cookie": "\(ConsoleSession.preCookie)=\(pre)"],
                                               body: ByteBuffer(string: "_csrf=\(pre)&email=tier1%40cascade.demo&password=\(password)")) { res in status = res.status }
                return status
            }
            for _ in 0..<5 { #expect(try await attempt("nope-nope") == .unauthorized) }
            #expect(try await attempt(DemoSeed.password) == .tooManyRequests)
            d.clock.advance(days: 1)
            #expect(try await attempt(DemoSeed.password) == .seeOther)
        }
    }

    @Test func bothLanguagesHaveEveryWord() throws {
        let root = TestDatabase.packageRoot.appendingPathComponent("Templates")
        let translations = try Translations.load(from: root.path + "/")
        let zh = Set(translations.table("zh").keys), en = Set(translations.table("en").keys)
        #expect(zh.subtracting(en).sorted() == [] && en.subtracting(zh).sorted() == [])
        // Every word a template or the console asks for exists.
        var used = Set<String>()
        let files = FileManager.default.enumerator(atPath: root.path)!.compactMap { $0 as? String }.filter { $0.hasSuffix(".leaf") }
        for file in files {
            let text = try String(contentsOf: root.appendingPathComponent(file), encoding: .utf8)
            for match in text.matches(of: /#\(t\.([a-z_]+)\)/) { used.insert(String(match.1)) }
        }
        #expect(used.count > 80)
        #expect(used.subtracting(en).sorted() == [])
        for code in ErrorCode.allCases { #expect(en.contains("error_\(code.rawValue)"), "error_\(code.rawValue)") }
        for role in OrgRole.allCases { #expect(en.contains("role_\(role.rawValue)")) }
        let statuses = TokenStatus.allCases.map(\.rawValue) + ReceivableStatus.allCases.map(\.rawValue) + FinancingStatus.allCases.map(\.rawValue)
            + CreditLineStatus.allCases.map(\.rawValue) + OrgStatus.allCases.map(\.rawValue)
        for status in statuses { #expect(en.contains("status_\(status)"), "status_\(status)") }
    }

    @Test func yuanAsPeopleTypeIt() {
        #expect(YuanInput.fen("12,345.67") == 1_234_567)
        #expect(YuanInput.fen("¥ 1.5") == 150)
        #expect(YuanInput.fen("0.01") == 1)
        #expect(YuanInput.fen("7") == 700)
        for bad in ["", "1.234", "-1", "abc", "1e3", "1..2", "92233720368547758.08", "1.", ".5x"] { #expect(YuanInput.fen(bad) == nil, "\(bad)") }
    }
}

extension ConsoleTests {
    @Test func theIssueFormCarriesItsDocument() async throws {
        try await DemoPlatform.with { d in
            let s = try await Self.session(d, "core")
            let line = try await d.call("core", .GET, "/api/v1/credit-lines").items[0]["id"]!.stringValue!
            let content = "购销合同 HT-CONSOLE-1"
            let sha = Hashing.sha256Hex(Array(content.utf8))
            let b = "cascade-form"
            var body = ""
            for (k, v) in ["_csrf": s.csrf, "supplierId": d.orgs["tier1"]!.description, "creditLineId": line, "face": "1,000.00", "dueDate": "2026-10-15",
                           "invoiceNumber": "INV-CONSOLE-1", "documentSha256": ""] {
                body += "--\(b)\r\nContent-Disposition: form-data; name=\"\(k)\"\r\n\r\n\(v)\r\n"
            }
            body += "--\(b)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"ht.txt\"\r\nContent-Type: text/plain\r\n\r\n\(content)\r\n--\(b)--\r\n"
            var location = ""
            try await d.app.testing().test(.POST, "/receivables", headers: ["Cookie": s.cookie, "Content-Type": "multipart/form-data; boundary=\(b)"],
                                           body: ByteBuffer(string: body)) { res in
                #expect(res.status == .seeOther, "\(String(buffer: res.body).prefix(300))")
                location = res.headers.first(name: .location) ?? ""
            }
            #expect(location.hasPrefix("/receivables/"))
            let page = try await Self.get(d, s, String(location.prefix { $0 != "?" }))
            #expect(page.html.contains(sha))
            try await d.app.testing().test(.GET, "/api/v1/documents/\(sha)", headers: ["Authorization": "Bearer \(d.keys["tier1"]!)"]) { res in
                #expect(res.status == .ok && String(buffer: res.body) == content)
            }
        }
    }
}
