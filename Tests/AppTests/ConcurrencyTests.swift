import Foundation
import NIOConcurrencyHelpers
import Ledger
import SQLKit
import Testing
import VaporTesting

@testable import Core
@testable import Web
@testable import Commands

/// 64 requests at once to each write route: sign-in, API keys, users, uploads and every ledger
/// operation. None may answer 5xx, on either database; where only one can win, exactly one
/// does; and the chain agrees with its projections afterwards.
@Suite struct ConcurrencyTests {
    static let n = 64

    /// Sends `n` requests at once, the i-th made by `request(i)`, and returns their answers in order.
    func burst(_ d: DemoPlatform, _ route: String, _ request: @escaping @Sendable (Int) -> Request) async throws -> [DemoPlatform.Answer] {
        let answers = try await withThrowingTaskGroup(of: (Int, DemoPlatform.Answer).self) { group in
            for i in 0..<Self.n {
                group.addTask {
                    let r = request(i)
                    return (i, try await d.call(r.who, r.method, r.path, r.body, headers: r.headers))
                }
            }
            var answers: [(Int, DemoPlatform.Answer)] = []
            for try await answer in group { answers.append(answer) }
            return answers.sorted { $0.0 < $1.0 }.map(\.1)
        }
        let failures = answers.filter { $0.status.code >= 500 }
        #expect(failures.count == 0, "\(route): \(failures.count) of \(Self.n) answered 5xx, first \(failures.first.map { "\($0.status) \($0.json)" } ?? "")")
        return answers
    }

    struct Request: Sendable {
        var who: String?
        var method: HTTPMethod
        var path: String
        var body: String? = nil
        var headers: [String: String] = [:]
    }

    func count(_ answers: [DemoPlatform.Answer], _ status: HTTPResponseStatus) -> Int { answers.filter { $0.status == status }.count }

    @Test func signInsKeysAndUsersAtOnce() async throws {
        try await DemoPlatform.with { d in
            let signIns = try await burst(d, "sign-in") { _ in
                Request(who: nil, method: .POST, path: "/api/v1/auth/login", body: #"{"email":"tier1@cascade.demo","password":"\#(DemoSeed.password)"}"#)
            }
            // Each attempt takes one of the account's five places while it runs: some wait (429).
            #expect(count(signIns, .ok) >= 1 && count(signIns, .ok) + count(signIns, .tooManyRequests) == Self.n)
            // Guesses all at once: no more than five are even tried.
            let wrong = try await burst(d, "wrong passwords") { i in
                Request(who: nil, method: .POST, path: "/api/v1/auth/login", body: #"{"email":"tier2@cascade.demo","password":"wrong-\#(i)"}"#)
            }
            #expect(count(wrong, .unauthorized) <= 5 && count(wrong, .unauthorized) + count(wrong, .tooManyRequests) == Self.n, "\(wrong.map(\.status.code))")
            let keys = try await burst(d, "API keys") { i in Request(who: "tier1", method: .POST, path: "/api/v1/api-keys", body: #"{"name":"k\#(i)"}"#) }
            #expect(count(keys, .created) == Self.n)
            let org = d.orgs["tier1"]!
            let users = try await burst(d, "users") { i in
                Request(who: "tier1", method: .POST, path: "/api/v1/orgs/\(org)/users", body: #"{"email":"clerk\#(i)@tier1.example","name":"出纳 \#(i)","password":"0123456789"}"#)
            }
            #expect(count(users, .created) == Self.n)
            // One email, 64 times: one user, and 63 precise refusals.
            let same = try await burst(d, "one email") { _ in
                Request(who: "tier1", method: .POST, path: "/api/v1/orgs/\(org)/users", body: #"{"email":"twin@tier1.example","name":"双","password":"0123456789"}"#)
            }
            #expect(count(same, .created) == 1 && count(same, .unprocessableEntity) == Self.n - 1, "\(same.map(\.status.code))")
            let token = try #require(signIns.first { $0.status == .ok }?["token"]?.stringValue)
            let logouts = try await burst(d, "sign out") { _ in
                Request(who: nil, method: .POST, path: "/api/v1/auth/logout", headers: ["Authorization": "Bearer \(token)"])
            }
            #expect(logouts.allSatisfy { [.noContent, .unauthorized].contains($0.status) } && count(logouts, .noContent) >= 1, "\(logouts.map(\.status.code))")
            let revoke = keys[0]["id"]!.stringValue!
            let revokes = try await burst(d, "revoke one key") { _ in Request(who: "tier1", method: .DELETE, path: "/api/v1/api-keys/\(revoke)") }
            #expect(revokes.allSatisfy { [.noContent, .notFound].contains($0.status) })
            // Every sign-in, key and user left one audit entry, each with its own number.
            let audit = try await d.app.sql.raw("SELECT COUNT(*) AS n, COUNT(DISTINCT seq) AS d FROM audit_log").first()!
            #expect(try audit.decode(column: "n", as: Int.self) == audit.decode(column: "d", as: Int.self))
            let logins = try await d.app.sql.raw("SELECT COUNT(*) AS n FROM audit_log WHERE action = 'login'").first()!
            #expect(try logins.decode(column: "n", as: Int.self) == count(signIns, .ok))
        }
    }

    @Test func consoleSignInsAndUploadsAtOnce() async throws {
        try await DemoPlatform.with { d in
            var pre = ""
            try await d.app.testing().test(.GET, "/login") { res in pre = res.headers.setCookie?[ConsoleSession.preCookie]?.string ?? "" }
            let signIns = try await burst(d, "console sign-in") { [pre] _ in
                Request(who: nil, method: .POST, path: "/login", body: "_csrf=\(pre)&email=core%40cascade.demo&password=\(DemoSeed.password)",
                        headers: ["Content-Type": "application/x-www-form-urlencoded", "Cookie": "\(ConsoleSession.preCookie)=\(pre)"])
            }
            #expect(count(signIns, .seeOther) >= 1 && count(signIns, .seeOther) + count(signIns, .tooManyRequests) == Self.n)
            let uploads = try await burst(d, "uploads") { i in
                // Half the files are the same file.
                let (body, type) = DemoPlatform.uploadBody("购销合同 No. HT-\(i % 2 == 0 ? 0 : i)\n")
                return Request(who: "core", method: .POST, path: "/api/v1/documents", body: body, headers: ["Content-Type": type])
            }
            #expect(uploads.allSatisfy { [.created, .ok].contains($0.status) }, "\(uploads.map(\.status.code))")
            let stored = try await d.app.sql.raw("SELECT COUNT(*) AS n FROM documents").first()!
            #expect(try stored.decode(column: "n", as: Int.self) == 1 + Self.n / 2)
        }
    }

    @Test func everyLedgerOperationAtOnce() async throws {
        try await DemoPlatform.with { d in
            let tier1 = d.orgs["tier1"]!, tier2 = d.orgs["tier2"]!, core = d.orgs["core"]!, bank = d.orgs["bank"]!
            let line = try #require(try await d.call("core", .GET, "/api/v1/credit-lines").items.first?["id"]?.stringValue)
            // Issues: 64 receivables to tier 1, due soon.
            let due = BusinessDate(epochMs: d.clock.nowMs()).adding(days: 40).description
            let issued = try await burst(d, "issue") { i in
                Request(who: "core", method: .POST, path: "/api/v1/receivables",
                        body: #"{"supplierId":"\#(tier1)","creditLineId":"\#(line)","faceFen":\#(1_000_000 + i),"dueDate":"\#(due)"}"#)
            }
            #expect(count(issued, .created) == Self.n, "\(issued.map(\.status.code))")
            let offers = issued.compactMap { $0["tokens"]?.arrayValue?.first?["id"]?.stringValue }
            // Accepts: each offer once, then one offer 64 times.
            let accepted = try await burst(d, "accept") { i in Request(who: "tier1", method: .POST, path: "/api/v1/tokens/\(offers[i])/accept") }
            #expect(count(accepted, .ok) == Self.n)
            // Splits: one token, 64 times; one wins.
            let splits = try await burst(d, "split one token") { _ in
                Request(who: "tier1", method: .POST, path: "/api/v1/tokens/\(offers[0])/split", body: #"{"amountsFen":[500000,500000]}"#)
            }
            #expect(count(splits, .created) == 1 && count(splits, .conflict) == Self.n - 1)
            // Transfers: 63 tokens at once, and one of them 64 times.
            let transfers = try await burst(d, "transfer") { i in
                Request(who: "tier1", method: .POST, path: "/api/v1/tokens/\(offers[1 + i % (Self.n - 1)])/transfer",
                        body: #"{"toOrgId":"\#(tier2)","amountFen":100000}"#)
            }
            #expect(count(transfers, .created) == Self.n - 1 && count(transfers, .conflict) == 1, "\(transfers.map(\.status.code))")
            // Financing: one token offered to the bank 64 times; one request stands.
            let active = try await d.call("tier1", .GET, "/api/v1/tokens?status=active&limit=200").items
            let pieces = active.compactMap { $0["id"]?.stringValue }
            let financed = try await burst(d, "request financing") { _ in
                Request(who: "tier1", method: .POST, path: "/api/v1/financings", body: #"{"tokenId":"\#(pieces[0])","bankId":"\#(bank)"}"#)
            }
            #expect(count(financed, .created) == 1 && count(financed, .conflict) == Self.n - 1, "\(financed.map(\.status.code))")
            let financing = try #require(financed.first { $0.status == .created }?["financing"]?["id"]?.stringValue)
            let approvals = try await burst(d, "approve") { _ in Request(who: "bank", method: .POST, path: "/api/v1/financings/\(financing)/approve") }
            #expect(count(approvals, .ok) == 1 && count(approvals, .conflict) == Self.n - 1, "\(approvals.map(\.status.code))")
            let payouts = try await burst(d, "confirm payout") { _ in
                Request(who: "bank", method: .POST, path: "/api/v1/financings/\(financing)/confirm-payout", body: #"{"reference":"CNAPS-1"}"#)
            }
            #expect(count(payouts, .ok) == 1 && count(payouts, .conflict) == Self.n - 1, "\(payouts.map(\.status.code))")
            // The same Idempotency-Key 64 times: one operation, the rest replays or "still running".
            let held = pieces[1], amount = active[1]["amountFen"]!.intValue!
            let same = try await burst(d, "one idempotency key") { _ in
                Request(who: "tier1", method: .POST, path: "/api/v1/tokens/\(held)/split", body: #"{"amountsFen":[100000,\#(amount - 100_000)]}"#,
                        headers: ["Idempotency-Key": "split-once"])
            }
            #expect(same.allSatisfy { [.created, .conflict].contains($0.status) }, "\(same.map(\.status.code))")
            let splitTxs = try await d.app.sql.raw("SELECT COUNT(*) AS n FROM tokens WHERE parent_id = \(bind: held)").first()!
            #expect(try splitTxs.decode(column: "n", as: Int.self) == 2)
            // Refusals and withdrawals: an offer refused 64 times, financings declined and withdrawn.
            let offer = try #require(transfers.first { $0.status == .created }?["tokens"]?.arrayValue?.first?["id"]?.stringValue)
            let refusals = try await burst(d, "refuse an offer") { _ in Request(who: "tier2", method: .POST, path: "/api/v1/tokens/\(offer)/reject") }
            #expect(count(refusals, .ok) == 1 && count(refusals, .conflict) == Self.n - 1, "\(refusals.map(\.status.code))")
            let asked = try await burst(d, "two more financings") { i in
                Request(who: "tier1", method: .POST, path: "/api/v1/financings", body: #"{"tokenId":"\#(pieces[2 + i % 2])","bankId":"\#(bank)"}"#)
            }
            let open = asked.filter { $0.status == .created }.compactMap { $0["financing"]?["id"]?.stringValue }
            #expect(open.count == 2, "\(asked.map(\.status.code))")
            let declines = try await burst(d, "decline") { _ in Request(who: "bank", method: .POST, path: "/api/v1/financings/\(open[0])/reject") }
            #expect(count(declines, .ok) == 1 && count(declines, .conflict) == Self.n - 1, "\(declines.map(\.status.code))")
            let withdrawals = try await burst(d, "withdraw") { _ in Request(who: "tier1", method: .POST, path: "/api/v1/financings/\(open[1])/cancel") }
            #expect(count(withdrawals, .ok) == 1 && count(withdrawals, .conflict) == Self.n - 1, "\(withdrawals.map(\.status.code))")
            // Credit lines, orgs, policy, suspensions.
            let lines = try await burst(d, "credit lines") { i in
                Request(who: "bank", method: .POST, path: "/api/v1/credit-lines", body: #"{"coreId":"\#(core)","limitFen":\#(100_000_000 + i),"rateBps":450,"expiresOn":"2027-12-31"}"#)
            }
            #expect(count(lines, .created) == Self.n)
            let orgs = try await burst(d, "register orgs") { i in
                let code = CreditCode.complete("91320500MA1K1\(String(format: "%04d", i))")!
                return Request(who: "operator", method: .POST, path: "/api/v1/orgs", body: #"{"name":"供应商 \#(i)","role":"supplier","creditCode":"\#(code)"}"#)
            }
            #expect(count(orgs, .created) == Self.n, "\(orgs.map(\.status.code))")
            let changes = try await burst(d, "change a credit line") { i in
                Request(who: "bank", method: .PATCH, path: "/api/v1/credit-lines/\(lines[0]["creditLine"]?["id"]?.stringValue ?? lines[0]["id"]?.stringValue ?? "")",
                        body: #"{"limitFen":\#(200_000_000 + i)}"#)
            }
            #expect(count(changes, .ok) == Self.n, "\(changes.map(\.status.code))")
            let policy = try await d.call("operator", .GET, "/api/v1/policy").json.canonicalString
            let policies = try await burst(d, "policy") { _ in Request(who: "operator", method: .PUT, path: "/api/v1/policy", body: policy) }
            #expect(count(policies, .ok) == Self.n)
            let newOrg = orgs[0]["org"]!["id"]!.stringValue!
            let suspensions = try await burst(d, "suspend") { i in
                Request(who: "operator", method: .POST, path: "/api/v1/orgs/\(newOrg)/\(i % 2 == 0 ? "suspend" : "activate")")
            }
            #expect(suspensions.allSatisfy { [.ok, .conflict].contains($0.status) }, "\(suspensions.map(\.status.code))")
            // The demo clock moved 64 times at once (each runs the jobs): it only goes forward.
            let today = BusinessDate(epochMs: d.clock.nowMs())
            let moves = try await burst(d, "move the clock") { i in
                Request(who: "operator", method: .POST, path: "/api/v1/admin/clock", body: #"{"today":"\#(today.adding(days: Int64(i % 3)))"}"#)
            }
            #expect(moves.allSatisfy { [.ok, .unprocessableEntity].contains($0.status) }, "\(moves.map(\.status.code))")
            // Settlement: at maturity, one receivable settled 64 times at once; one settles it.
            d.clock.advance(days: 40)
            let receivable = issued[Self.n - 1]["receivable"]!["id"]!.stringValue!
            let settles = try await burst(d, "settle") { _ in
                Request(who: "core", method: .POST, path: "/api/v1/receivables/\(receivable)/settle", body: #"{"reference":"PAY-1"}"#)
            }
            #expect(count(settles, .ok) + count(settles, .created) >= 1, "\(settles.map(\.status.code))")
            #expect(try await d.chainAgrees())
        }
    }
}

@Suite struct VerificationRunTests {
    /// Verification is one run per node: callers who ask while it is going join it (they see
    /// whose run it is), and its progress and result can be read while and after it runs.
    @Test func verificationsAskedAtOnceShareOneRun() async throws {
        try await DemoPlatform.with { d in
            // setup: the run is held open until both requests wait for it
            let release = NIOLockedValueBox(false)
            let verification = d.app.chainVerification
            await verification.setBeforeRun { try? await poll("the test to let the run go") { release.withLockedValue { $0 } } }
            async let first = d.call("regulator", .GET, "/api/v1/chain/verify")
            try await poll("the first request to wait") { await verification.waiting == 1 }
            async let second = d.call("operator", .GET, "/api/v1/chain/verify")
            try await poll("the second request to join") { await verification.waiting == 2 }
            // check: a third caller sees the run in progress, and whose it is
            let during = try await d.call("operator", .GET, "/api/v1/chain/verify/progress")
            #expect(during["running"] == .bool(true) && during["startedBy"] == .string("regulator@cascade.demo"), "\(during.json)")
            release.withLockedValue { $0 = true }
            let (a, b) = try await (first, second)
            // check: one run, one result, for both
            #expect(a.status == .ok && b.status == .ok && a["ok"] == .bool(true) && a["height"] == b["height"])
            #expect(a["startedBy"] == .string("regulator@cascade.demo") && b["startedBy"] == a["startedBy"], "\(a.json) \(b.json)")
            #expect(a["seconds"] == b["seconds"], "one run, one timing")
            let after = try await d.call("regulator", .GET, "/api/v1/chain/verify/progress")
            #expect(after["running"] == .bool(false) && after["result"]?["ok"] == .bool(true))
            #expect(after["blocksDone"] == after["blocksTotal"])
            #expect(try await d.call("tier1", .GET, "/api/v1/chain/verify/progress").code == "forbidden")
        }
    }
}
