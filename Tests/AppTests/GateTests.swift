import Foundation
import Ledger
import SQLKit
import Testing
import VaporTesting

@testable import Core
@testable import Web
@testable import Commands

/// The writer's gate and what it protects: nothing a user sends breaks a block, the chain or the
/// server, whichever way it comes in.
@Suite struct GateTests {
    static func issueBody(_ d: DemoPlatform, line: String, faceFen: Int64 = 100_000, due: String = "2026-12-30", memo: String? = nil) -> String {
        var body = #"{"supplierId":"\#(d.orgs["tier1"]!)","creditLineId":"\#(line)","faceFen":\#(faceFen),"dueDate":"\#(due)""#
        if let memo { body += #","memo":"\#(memo)""# }
        return body + "}"
    }

    static func creditLine(_ d: DemoPlatform) async throws -> String {
        try #require(try await d.call("core", .GET, "/api/v1/credit-lines").items.first?["id"]?.stringValue)
    }

    /// The incident: one memo with U+0000 failed its whole block on PostgreSQL (a 500 for its
    /// caller and for the good issues that shared its block), and on SQLite left a row that no
    /// longer matched the chain. Now it is refused alone, and its block-mates commit.
    @Test func aNulMemoIsRefusedAloneAndItsBlockMatesCommit() async throws {
        try await DemoPlatform.with { d in
            // setup
            let line = try await Self.creditLine(d)
            let heightBefore = await d.height
            // act
            let answers = try await withThrowingTaskGroup(of: (Bool, DemoPlatform.Answer).self) { group in
                for i in 0..<25 {
                    group.addTask {
                        let bad = i == 12
                        return (bad, try await d.call("core", .POST, "/api/v1/receivables", Self.issueBody(d, line: line, memo: bad ? #"before\u0000after"# : "good \(i)")))
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            // check
            let bad = try #require(answers.first { $0.0 }?.1)
            #expect(bad.status == .unprocessableEntity)
            #expect(bad.code == "validation_failed")
            #expect(bad["errors"]?.arrayValue?.first?["field"] == .string("memo"))
            let good = answers.filter { !$0.0 }.map(\.1)
            #expect(good.count == 24)
            #expect(good.allSatisfy { $0.status == .created }, "\(good.map(\.status.code))")
            #expect(await d.height > heightBefore)
            #expect(try await d.chainAgrees())
        }
    }

    /// Every free-text field refuses C0 controls, DEL, C1 controls and lone surrogates with a 422
    /// naming the field, from the API and from the console, and nothing changes.
    @Test func controlCharactersAreRefusedInEveryFreeTextField() async throws {
        try await DemoPlatform.with { d in
            let line = try await Self.creditLine(d)
            let token = try #require(try await d.call("tier1", .GET, "/api/v1/tokens?status=active").items.first { $0["amountFen"] == .int(600_000_00) }?["id"]?.stringValue)
            let tier2 = d.orgs["tier2"]!.description
            let height = await d.height
            var escapes = (0..<0x20).map { String(format: "\\u%04x", $0) } + ["\\u007f", "\\u0085", "\\u009f", "\\ud800", "\\udfff", "\\ud83d"]
            escapes += ["\\n", "\\t", "\\r"]
            for e in escapes {
                let issue = try await d.call("core", .POST, "/api/v1/receivables", Self.issueBody(d, line: line, memo: "a\(e)b"))
                #expect(issue.status == .unprocessableEntity, "\(e): \(issue.json.canonicalString)")
                #expect(issue["errors"]?.arrayValue?.first?["field"] == .string("memo"), "\(e): \(issue.json.canonicalString)")
                let transfer = try await d.call("tier1", .POST, "/api/v1/tokens/\(token)/transfer", #"{"toOrgId":"\#(tier2)","amountFen":100,"memo":"x\#(e)"}"#)
                #expect(transfer.status == .unprocessableEntity && transfer.code == "validation_failed", "\(e)")
            }
            let user = try await d.call("operator", .POST, "/api/v1/orgs", #"{"name":"Bad\u0007Org","role":"supplier","creditCode":"91310000MA1K000009"}"#)
            #expect(user.status == .unprocessableEntity && user["errors"]?.arrayValue?.first?["field"] == .string("name"))
            let login = try await d.call(nil, .POST, "/api/v1/auth/login", #"{"email":"core\u0000@cascade.demo","password":"x"}"#)
            #expect(login.status == .unprocessableEntity && login["errors"]?.arrayValue?.first?["field"] == .string("email"))
            // The console: a memo with a line break is refused at its field, not cut or stored.
            let s = try await ConsoleTests.session(d, "tier1")
            let page = try await ConsoleTests.post(d, s, "/tokens/\(token)/transfer", ["toOrgId": tier2, "amount": "1.00", "memo": "line\nbreak"])
            #expect(page.status == .unprocessableEntity)
            let long = try await ConsoleTests.post(d, s, "/tokens/\(token)/transfer", ["toOrgId": tier2, "amount": "1.00", "memo": String(repeating: "长", count: Limits.maxMemoLength + 1)])
            #expect(long.status == .unprocessableEntity, "the console refuses a long memo as the API does, instead of cutting it")
            #expect(await d.height == height)
            #expect(try await d.chainAgrees())
        }
    }

    /// Only text that is not JSON is a 400; a well-formed number the ledger cannot carry is a 422
    /// naming its field.
    @Test func wellFormedButOutOfRangeValuesAreUnprocessableNotMalformed() async throws {
        try await DemoPlatform.with { d in
            let line = try await Self.creditLine(d)
            for (face, code) in [("1000000000000000000", "amount_out_of_range"), ("-9007199254740992", "amount_out_of_range"), ("1e16", "amount_out_of_range"),
                                 ("1.5", "validation_failed"), ("1.05e1", "validation_failed"), ("1e-3", "validation_failed")] {
                let answer = try await d.call("core", .POST, "/api/v1/receivables", #"{"supplierId":"\#(d.orgs["tier1"]!)","creditLineId":"\#(line)","faceFen":\#(face),"dueDate":"2026-12-30"}"#)
                #expect(answer.status == .unprocessableEntity && answer.code == code, "\(face): \(answer.json.canonicalString)")
                #expect(answer["errors"]?.arrayValue?.first?["field"] == .string("faceFen"), "\(face)")
            }
            let nested = try await d.call("core", .POST, "/api/v1/receivables",
                                          #"{"supplierId":"\#(d.orgs["tier1"]!)","creditLineId":"\#(line)","faceFen":100,"dueDate":"2026-12-30","documents":[{"kind":"invoice","sha256":"x","number":"\ud800"}]}"#)
            #expect(nested.status == .unprocessableEntity && nested["errors"]?.arrayValue?.first?["field"] == .string("documents[0].number"), "\(nested.json.canonicalString)")
            // Two keys that differ in their scalars are two keys, each unknown here: not a duplicate.
            let twins = try await d.call("core", .POST, "/api/v1/receivables", #"{"\u00c5":1,"A\u030a":2}"#)
            #expect(twins.status == .unprocessableEntity && twins["errors"]?.arrayValue?.first?["field"] == .string("A\u{30A}"), "\(twins.json.canonicalString)")
            // JSON Schema counts 100000.0 and 1e5 as integers, and so does a request body (never the chain).
            for face in ["100000.0", "1e5", "1000000e-1"] {
                let integral = try await d.call("core", .POST, "/api/v1/receivables", #"{"supplierId":"\#(d.orgs["tier1"]!)","creditLineId":"\#(line)","faceFen":\#(face),"dueDate":"2026-12-30"}"#)
                #expect(integral.status == .created && integral["receivable"]?["faceFen"] == .int(100_000), "\(face): \(integral.json.canonicalString)")
            }
            let syntax = try await d.call("core", .POST, "/api/v1/receivables", #"{"faceFen":100,"#)
            #expect(syntax.status == .badRequest && syntax.code == "malformed_json")
        }
    }

    /// The incident: a receivable split into more pieces than one `settle` may list was settled
    /// in one transaction that replay refused, and the server did not start again. Now it is
    /// paid in as many transactions as the bound needs, from the console as from the API.
    @Test func aReceivableOfMorePiecesThanOneSettlementMayListIsSettledFromTheConsole() async throws {
        try await DemoPlatform.with { d in
            // setup: 10,001 live pieces of one receivable, all held by tier 1.
            let line = try await Self.creditLine(d)
            let face: Int64 = 1_000_100
            let issued = try await d.call("core", .POST, "/api/v1/receivables", Self.issueBody(d, line: line, faceFen: face, due: "2026-10-31"))
            #expect(issued.status == .created)
            let receivable = try #require(issued["receivable"]?["id"]?.stringValue)
            let root = try #require(issued["tokens"]?.arrayValue?.first?["id"]?.stringValue)
            #expect(try await d.call("tier1", .POST, "/api/v1/tokens/\(root)/accept").status == .ok)
            func split(_ token: String, _ amounts: [Int64]) async throws -> [String] {
                let answer = try await d.call("tier1", .POST, "/api/v1/tokens/\(token)/split", #"{"amountsFen":[\#(amounts.map(String.init).joined(separator: ","))]}"#)
                #expect(answer.status == .created, "\(answer.json.canonicalString)")
                return answer["tokens"]?.arrayValue?.filter { $0["status"] == .string("active") }.compactMap { $0["id"]?.stringValue } ?? []
            }
            let hundred = try await split(root, Array(repeating: 10_000, count: 99) + [10_100])
            #expect(hundred.count == 100)
            try await withThrowingTaskGroup(of: [String].self) { group in
                for (i, piece) in hundred.enumerated() {
                    group.addTask { try await split(piece, i == 99 ? Array(repeating: 100, count: 99) + [200] : Array(repeating: 100, count: 100)) }
                }
                for try await pieces in group { #expect(pieces.count == 100) }
            }
            let twoHundred = try await d.app.sql.raw("SELECT id FROM tokens WHERE receivable_id = \(bind: receivable) AND amount_fen = 200 AND status = 'active'").first()!
                .decode(column: "id", as: String.self)
            _ = try await split(twoHundred, [100, 100])
            // The clearing list comes a page at a time.
            var listed = 0, cursor: String?, pages = 0
            repeat {
                let page = try await d.call("core", .GET, "/api/v1/receivables/\(receivable)/clearing?limit=200" + (cursor.map { "&cursor=\($0)" } ?? ""))
                #expect(page.status == .ok && page.items.count <= 200)
                listed += page.items.count
                cursor = page["nextCursor"]?.stringValue
                pages += 1
            } while cursor != nil && pages < 100
            #expect(listed == 10_001 && pages == 51)
            // So does the tree, and a piece's way back to issuance.
            let tree = try await d.call("core", .GET, "/api/v1/receivables/\(receivable)/tree?limit=200")
            #expect(tree.items.count == 200 && tree["nextCursor"]?.stringValue != nil && tree["receivable"]?["id"] == .string(receivable))
            var steps: [String] = [], next: String? = nil
            repeat {
                let page = try await d.call("tier1", .GET, "/api/v1/tokens/\(twoHundred)/ancestry?limit=1" + (next.map { "&cursor=\($0)" } ?? ""))
                steps += page.items.compactMap { $0["id"]?.stringValue }
                next = page["nextCursor"]?.stringValue
            } while next != nil && steps.count < 10
            #expect(steps.count == 3 && steps.first == twoHundred && steps.last == root)
            // The console's page stays a page: 50 rows of the clearing list, the tree cut to what a
            // picture holds with the rest summarised.
            let s0 = try await ConsoleTests.session(d, "core")
            let view = try await ConsoleTests.get(d, s0, "/receivables/\(receivable)")
            #expect(view.status == .ok)
            #expect(view.html.components(separatedBy: "<tr><td><a href=\"/tokens/").count - 1 == 50)
            #expect(view.html.contains("id=\"next-page\""))
            #expect(view.html.contains("more pieces"))
            #expect(view.html.components(separatedBy: "class=\"node\"").count - 1 <= 60)
            #expect(view.html.utf8.count < 400_000, "\(view.html.utf8.count) bytes")
            _ = try await d.call("operator", .POST, "/api/v1/admin/clock", #"{"today":"2026-10-31"}"#)
            let height = await d.height

            // act
            let s = try await ConsoleTests.session(d, "core")
            let page = try await ConsoleTests.post(d, s, "/receivables/\(receivable)/settle", ["reference": "CNAPS-MANY-0001"])

            // check
            #expect(page.status == .seeOther, "\(page.html.prefix(500))")
            let settled = try await d.call("core", .GET, "/api/v1/receivables/\(receivable)")
            #expect(settled["status"] == .string("settled"))
            #expect(settled["paidFen"] == .int(face))
            let settles = try await d.app.sql.raw("SELECT COUNT(*) AS n FROM transactions WHERE type = 'settle' AND block_height > \(bind: height)").first()!
            #expect(try settles.decode(column: "n", as: Int64.self) == 2)
            #expect(try await d.chainAgrees())
        }
    }
}
