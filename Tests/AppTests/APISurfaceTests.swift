import Foundation
import Ledger
import SQLKit
import Testing
import VaporTesting

@testable import Core
@testable import Web
@testable import Commands

/// The API's surface: the OpenAPI document against the routes, pages, idempotency, onboarding,
/// keys, documents, and bad input everywhere.
@Suite struct APISurfaceTests {
    /// `METHOD /path/{param}` for every route the application serves under /api/v1.
    static func servedRoutes(_ app: Application) -> Set<String> {
        Set(app.routes.all.compactMap { route -> String? in
            let parts = route.path.map { component -> String in
                if case .parameter(let name) = component { return "{\(name)}" }
                return component.description
            }
            guard parts.starts(with: ["api", "v1"]) else { return nil }
            return "\(route.method.rawValue) /" + parts.dropFirst(2).joined(separator: "/")
        })
    }

    /// `METHOD /path` for every operation `Public/openapi.yaml` describes.
    static func documentedRoutes() throws -> Set<String> {
        let text = try String(contentsOf: TestDatabase.packageRoot.appendingPathComponent("Public/openapi.yaml"), encoding: .utf8)
        var routes = Set<String>(), path: String?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("  /") && line.hasSuffix(":") { path = String(line.dropFirst(2).dropLast()); continue }
            if !line.hasPrefix("  ") { path = nil; continue }
            if let path, line.hasPrefix("    "), !line.hasPrefix("     "), line.hasSuffix(":") {
                let method = line.trimmingCharacters(in: .whitespaces).dropLast().uppercased()
                if ["GET", "POST", "PUT", "PATCH", "DELETE"].contains(method) { routes.insert("\(method) \(path)") }
            }
        }
        return routes
    }

    @Test func theOpenAPIDocumentDescribesEveryRouteAndNoOther() async throws {
        let app = try await Application.make(.testing)
        try routes(app)
        let served = Self.servedRoutes(app)
        try await app.asyncShutdown()
        let documented = try Self.documentedRoutes()
        #expect(served.count > 50)
        #expect(served.subtracting(documented).sorted() == [], "served but not documented")
        #expect(documented.subtracting(served).sorted() == [], "documented but not served")
    }

    @Test func theDocumentIsServed() async throws {
        try await DemoPlatform.with { d in
            try await d.app.testing().test(.GET, "/api/v1/openapi.yaml") { res in
                #expect(res.status == .ok && String(buffer: res.body).hasPrefix("openapi: 3.1.0"))
            }
        }
    }

    @Test func listsPageWithCursorsAndRefuseBadLimits() async throws {
        try await DemoPlatform.with { d in
            var seen: [String] = [], cursor: String?
            repeat {
                let page = try await d.call("tier1", .GET, "/api/v1/orgs?limit=3" + (cursor.map { "&cursor=\($0)" } ?? ""))
                #expect(page.status == .ok && page.items.count <= 3)
                seen += page.items.compactMap { $0["id"]?.stringValue }
                cursor = page["nextCursor"]?.stringValue
            } while cursor != nil && seen.count < 100
            #expect(seen.count == DemoSeed.members.count && Set(seen).count == DemoSeed.members.count)
            for bad in ["limit=0", "limit=201", "limit=abc", "cursor=zzz", "cursor=WyJhIl0", "status=lost"] {
                let answer = try await d.call("regulator", .GET, "/api/v1/tokens?\(bad)")
                #expect(answer.status == .unprocessableEntity && answer.code == "validation_failed", "\(bad)")
            }
            // Tokens newest first, over two pages, no repeats.
            let first = try await d.call("regulator", .GET, "/api/v1/tokens?limit=5")
            let second = try await d.call("regulator", .GET, "/api/v1/tokens?limit=5&cursor=\(first["nextCursor"]!.stringValue!)")
            let ids = (first.items + second.items).compactMap { $0["id"]?.stringValue }
            #expect(ids.count == 10 && Set(ids).count == 10)
        }
    }

    @Test func anIdempotencyKeyReplaysTheFirstAnswerAndRefusesAnotherBody() async throws {
        try await DemoPlatform.with { d in
            let token = try await d.call("tier1", .GET, "/api/v1/tokens?status=active").items.first { $0["amountFen"] == .int(600_000_00) }!["id"]!.stringValue!
            let tier3 = d.orgs["tier3"]!.description
            let body = #"{"toOrgId":"\#(tier3)","amountFen":1000}"#
            let first = try await d.call("tier1", .POST, "/api/v1/tokens/\(token)/transfer", body, headers: ["Idempotency-Key": "pay-1"])
            let height = await d.height
            let replay = try await d.call("tier1", .POST, "/api/v1/tokens/\(token)/transfer", body, headers: ["Idempotency-Key": "pay-1"])
            #expect(first.status == .created && replay.status == .created && replay.json == first.json)
            #expect(replay.headers.first(name: "Idempotent-Replayed") == "true")
            #expect(await d.height == height)
            let other = try await d.call("tier1", .POST, "/api/v1/tokens/\(token)/transfer", #"{"toOrgId":"\#(tier3)","amountFen":2000}"#, headers: ["Idempotency-Key": "pay-1"])
            #expect(other.status == .conflict && other.code == "idempotency_conflict")
            // A refusal is an answer too: replayed, not retried.
            let refused = try await d.call("tier1", .POST, "/api/v1/tokens/\(token)/transfer", body, headers: ["Idempotency-Key": "pay-2"])
            #expect(refused.code == "token_not_active")
            #expect(try await d.call("tier1", .POST, "/api/v1/tokens/\(token)/transfer", body, headers: ["Idempotency-Key": "pay-2"]).code == "token_not_active")
            // Another user's key space is its own.
            #expect(try await d.call("tier2", .POST, "/api/v1/tokens/\(token)/transfer", body, headers: ["Idempotency-Key": "pay-1"]).code == "not_holder")
            #expect(await d.height == height)
        }
    }

    @Test func theOperatorOnboardsAnOrgWhoseAdminManagesKeysAndUsers() async throws {
        try await DemoPlatform.with { d in
            let code = CreditCode.complete("91320500MA1K00099")!
            let created = try await d.call("operator", .POST, "/api/v1/orgs", #"""
                {"name":"昆山紧固件","role":"supplier","creditCode":"\#(code)","admin":{"email":"Admin@KS.example","name":"王会计","password":"a-long-password"}}
                """#)
            #expect(created.status == .created && created["org"]?["role"] == .string("supplier") && created["user"]?["role"] == .string("admin"), "\(created.json)")
            let org = try #require(created["org"]?["id"]?.stringValue)
            #expect(try await d.call("operator", .POST, "/api/v1/orgs", #"{"name":"x","role":"supplier","creditCode":"91320500MA1K00090"}"#).code == "validation_failed")
            #expect(try await d.call("tier1", .POST, "/api/v1/orgs", #"{"name":"x","role":"supplier","creditCode":"\#(code)"}"#).code == "forbidden")
            // Its admin signs in, makes an API key, and uses it.
            var token = ""
            try await d.app.testing().test(.POST, "/api/v1/auth/login", headers: ["Content-Type": "application/json"],
                                           body: ByteBuffer(string: #"{"email":"admin@ks.example","password":"a-long-password"}"#)) { res in
                #expect(res.status == .ok)
                token = (try? JSON.parse(Array(res.body.readableBytesView)))?["token"]?.stringValue ?? ""
            }
            let headers: HTTPHeaders = ["Authorization": "Bearer \(token)", "Content-Type": "application/json"]
            var key = "", keyId = ""
            try await d.app.testing().test(.POST, "/api/v1/api-keys", headers: headers, body: ByteBuffer(string: #"{"name":"ERP"}"#)) { res in
                let json = (try? JSON.parse(Array(res.body.readableBytesView))) ?? .null
                #expect(res.status == .created)
                key = json["secret"]?.stringValue ?? ""
                keyId = json["id"]?.stringValue ?? ""
            }
            try await d.app.testing().test(.GET, "/api/v1/me", headers: ["Authorization": "Bearer \(key)"]) { res in
                #expect(res.status == .ok && String(buffer: res.body).contains(org))
            }
            try await d.app.testing().test(.POST, "/api/v1/orgs/\(org)/users", headers: headers,
                                           body: ByteBuffer(string: #"{"email":"clerk@ks.example","name":"李出纳","password":"0123456789"}"#)) { res in
                #expect(res.status == .created)
            }
            // Another org's admin may not add people here.
            #expect(try await d.call("tier1", .POST, "/api/v1/orgs/\(org)/users", #"{"email":"a@b.c","name":"x","password":"0123456789"}"#).code == "forbidden")
            try await d.app.testing().test(.DELETE, "/api/v1/api-keys/\(keyId)", headers: headers) { res in #expect(res.status == .noContent) }
            try await d.app.testing().test(.GET, "/api/v1/me", headers: ["Authorization": "Bearer \(key)"]) { res in #expect(res.status == .unauthorized) }
            // Suspended, it can receive nothing.
            #expect(try await d.call("operator", .POST, "/api/v1/orgs/\(org)/suspend")["org"]?["status"] == .string("suspended"))
            let token1 = try await d.call("tier1", .GET, "/api/v1/tokens?status=active").items[0]["id"]!.stringValue!
            #expect(try await d.call("tier1", .POST, "/api/v1/tokens/\(token1)/transfer", #"{"toOrgId":"\#(org)","amountFen":100}"#).code == "org_suspended")
            let audit = try await d.app.sql.raw("SELECT action FROM audit_log ORDER BY seq").all().map { try $0.decode(column: "action", as: String.self) }
            #expect(audit == ["org.register", "user.create", "login", "apikey.create", "user.create", "apikey.revoke", "org.suspend"])
            #expect(try await d.chainAgrees())
        }
    }

    @Test func aDocumentIsStoredByItsHashAndShownOnlyToThoseWhoMaySeeIt() async throws {
        try await DemoPlatform.with { d in
            let content = "购销合同 No. HT-2026-77\n"
            let sha = Hashing.sha256Hex(Array(content.utf8))
            let (body, type) = DemoPlatform.uploadBody(content, number: "HT-2026-77")
            try await d.app.testing().test(.POST, "/api/v1/documents", headers: ["Authorization": "Bearer \(d.keys["core"]!)", "Content-Type": type],
                                           body: ByteBuffer(string: body)) { res in
                let json = (try? JSON.parse(Array(res.body.readableBytesView))) ?? .null
                #expect(res.status == .created && json["sha256"] == .string(sha) && json["size"] == .int(Int64(content.utf8.count)))
            }
            try await d.app.testing().test(.GET, "/api/v1/documents/\(sha)", headers: ["Authorization": "Bearer \(d.keys["core"]!)"]) { res in
                #expect(res.status == .ok && String(buffer: res.body) == content)
            }
            #expect(try await d.call("tier3", .GET, "/api/v1/documents/\(sha)").status == .notFound)
            #expect(try await d.call("regulator", .GET, "/api/v1/documents/\(sha)").status == .ok)
            #expect(try await d.call("core", .POST, "/api/v1/documents", #"{"kind":"contract"}"#).code == "validation_failed")
        }
    }

    /// Every route, with malformed ids, wrong types, huge numbers and junk bodies: a precise
    /// problem, never a 500, and the chain does not move.
    /// Every route, with hostile ids and bodies, as a supplier and as the regulator; the routes
    /// dealt out to four parts that run side by side (together they were the run's longest test).
    @Test(arguments: 0..<4) func noInputProducesAServerError(part: Int) async throws {
        try await DemoPlatform.with { d in
            let height = await d.height
            let ids = ["x", "00", String(repeating: "f", count: 32), String(repeating: "f", count: 64), "00000000-0000-4000-8000-000000000000", "-1", "9223372036854775808"]
            let bodies = [nil, "{", "[]", "null", #"{"amountFen":1e400}"#, #"{"amountFen":9007199254740993}"#, #"{"faceFen":-5,"supplierId":7}"#,
                          #"{"toOrgId":"\#(d.orgs["tier2"]!)","amountFen":-1}"#, #"{"amountsFen":[1]}"#, "{\"memo\":\"" + String(repeating: "长", count: 70_000) + "\"}",
                          #"{"limitFen":1000000000000000001,"rateBps":10001,"coreId":"x","expiresOn":"2026-02-30"}"#, #"{"unknown":true}"#]
            let routes = Self.servedRoutes(d.app).sorted().enumerated().filter { $0.offset % 4 == part }.map(\.element)
            var tried = 0
            for route in routes {
                let parts = route.split(separator: " ", maxSplits: 1)
                let method = HTTPMethod(rawValue: String(parts[0]))
                for id in ids {
                    let path = "/api/v1" + parts[1].replacingOccurrences(of: "{id}", with: id).replacingOccurrences(of: "{sha256}", with: id)
                        .replacingOccurrences(of: "{height}", with: id)
                    for body in (method == .GET ? [nil] : bodies) {
                        for who in ["tier1", "regulator"] {
                            let answer = try await d.call(who, method, path, body)
                            tried += 1
                            #expect(answer.status.code < 500, "\(who) \(method) \(path) \(body?.prefix(60) ?? "")")
                            if answer.status.code >= 400 { #expect(answer.code != nil, "\(method) \(path): no problem code") }
                        }
                    }
                }
            }
            #expect(tried > 500)
            #expect(await d.height == height)
        }
    }
}

/// CSV exports: UTF-8 with a BOM, a header, what the caller may see.
@Suite struct ExportTests {
    static func csv(_ d: DemoPlatform, _ who: String, _ path: String) async throws -> (HTTPResponseStatus, [String]) {
        var result: (HTTPResponseStatus, [String]) = (.ok, [])
        try await d.app.testing().test(.GET, path, headers: ["Authorization": "Bearer \(d.keys[who]!)"]) { res in
            let bytes = Array(res.body.readableBytesView)
            if res.status == .ok {
                #expect(bytes.starts(with: [0xEF, 0xBB, 0xBF]), "BOM")
                #expect(res.headers.contentType?.description.hasPrefix("text/csv") == true)
            }
            result = (res.status, String(decoding: bytes.dropFirst(3), as: UTF8.self).split(separator: "\r\n").map(String.init))
        }
        return result
    }

    @Test func exportsShowWhatTheCallerMaySee() async throws {
        try await DemoPlatform.with { d in
            let (_, all) = try await Self.csv(d, "regulator", "/api/v1/exports/receivables.csv")
            #expect(all.count == 7 && all[0].hasPrefix("\"编号 number\"") && all.contains { $0.contains("华东重工集团") } && all.contains { $0.contains("苏南机电集团") })
            let (_, tier3) = try await Self.csv(d, "tier3", "/api/v1/exports/receivables.csv")
            #expect(tier3.count == 2)
            let (_, tokens) = try await Self.csv(d, "tier1", "/api/v1/exports/tokens.csv")
            let live = try await d.call("tier1", .GET, "/api/v1/tokens?status=active").items.count + (try await d.call("tier1", .GET, "/api/v1/tokens?status=pending").items.count)
                + (try await d.call("tier1", .GET, "/api/v1/tokens?status=spent").items.count) + (try await d.call("tier1", .GET, "/api/v1/tokens?status=locked").items.count)
                + (try await d.call("tier1", .GET, "/api/v1/tokens?status=settled").items.count)
            #expect(tokens.count == live + 1)
            let (_, registry) = try await Self.csv(d, "regulator", "/api/v1/exports/registry-filing.csv")
            // Every approved financing, with its 中登网 filing: 江南商业银行's of ¥200,000.00 and
            // 沪上保理's 200-day one, with recourse and its term review.
            let atBank = try #require(registry.first { $0.contains(DemoSeed.members[5].creditCode) })
            #expect(registry.count == 3 && atBank.contains(DemoSeed.members[2].creditCode) && atBank.contains("应收账款转让") && atBank.contains("\"200000.00\"")
                    && atBank.contains("\"0457-2026-000801\"") && atBank.contains("无追索权"))
            let longTerm = try #require(registry.first { $0.contains("0457-2026-000802") })
            #expect(longTerm.contains("有追索权") && longTerm.contains("大型装备交付验收周期长"))
            #expect(try await Self.csv(d, "tier1", "/api/v1/exports/registry-filing.csv").0 == .forbidden)
            // An org's admin reads its own org's audit log, what the operator did to it included;
            // one of its members does not.
            #expect(try await d.call("operator", .POST, "/api/v1/orgs/\(d.orgs["tier1"]!)/suspend").status == .ok)
            #expect(try await d.call("operator", .POST, "/api/v1/orgs/\(d.orgs["tier1"]!)/activate").status == .ok)
            let (ownStatus, own) = try await Self.csv(d, "tier1", "/api/v1/exports/audit-log.csv")
            let tier1Name = DemoSeed.members.first { $0.key == "tier1" }!.name
            #expect(ownStatus == .ok && own.count >= 3 && own.dropFirst().allSatisfy { $0.contains(tier1Name) })
            #expect(own.contains { $0.contains("org.suspend") } && own.contains { $0.contains("org.activate") })
            let member = try await Accounts(sql: d.app.sql).createUser(org: d.orgs["tier1"]!, email: "clerk@tier1.example", name: "clerk", role: .maker, password: "clerk-password-1", nowMs: 0)
            let memberKey = try await Accounts(sql: d.app.sql).createAPIKey(for: Caller(userId: member, orgId: d.orgs["tier1"]!, email: "clerk@tier1.example", name: "clerk", userRole: .maker, viaAPIKey: false),
                                                                            name: "m", nowMs: 0).secret
            try await d.app.testing().test(.GET, "/api/v1/exports/audit-log.csv", headers: ["Authorization": "Bearer \(memberKey)"]) { res in #expect(res.status == .forbidden) }
            let (_, audit) = try await Self.csv(d, "operator", "/api/v1/exports/audit-log.csv")
            #expect(audit.count >= 1)
            let r = try await d.call("core", .GET, "/api/v1/receivables").items.first { $0["memo"] == .string("齿轮箱壳体 第一批") }!["id"]!.stringValue!
            let (_, clearing) = try await Self.csv(d, "core", "/api/v1/receivables/\(r)/clearing.csv")
            #expect(clearing.count == 4)  // header, tier 1 change, tier 2 change, tier 3
            let (_, mine) = try await Self.csv(d, "tier3", "/api/v1/receivables/\(r)/clearing.csv")
            #expect(mine.count == 2 && mine[1].contains("常州五金加工"))
        }
    }

    @Test func aCellThatLooksLikeAFormulaIsDefused() {
        #expect(ExportController.cell("=HYPERLINK(\"x\")") == "\"'=HYPERLINK(\"\"x\"\")\"")
        #expect(ExportController.cell("-12") == "\"-12\"")
    }
}
