import Foundation
import Ledger
import SQLKit
import Testing
import VaporTesting

@testable import Core
@testable import Web
@testable import Commands

/// SPEC §3 from start to finish through HTTP, each step by the role that does it, on the demo
/// consortium.
@Suite struct LifecycleTests {
    @Test func issueAcceptTransferSplitFinanceAndSettleAsEachRole() async throws {
        try await DemoPlatform.with { d in
            let tier1 = d.orgs["tier1"]!.description, tier2 = d.orgs["tier2"]!.description, bank2 = d.orgs["bank2"]!.description
            // The core enterprise sees its two lines and issues against the first.
            let lines = try await d.call("core", .GET, "/api/v1/credit-lines")
            #expect(lines.status == .ok && lines.items.count == 2)
            let line = lines.items.first { $0["rateBps"] == .int(350) }!["id"]!.stringValue!
            let doc = String(repeating: "ab", count: 32)
            let issued = try await d.call("core", .POST, "/api/v1/receivables", #"""
                {"supplierId":"\#(tier1)","creditLineId":"\#(line)","faceFen":1000000,"dueDate":"2026-11-30","documents":[{"kind":"invoice","sha256":"\#(doc)","number":"INV-T-1"}],"memo":"测试"}
                """#)
            #expect(issued.status == .created && issued["receivable"]?["status"] == .string("pending") && issued["receivable"]?["issueDate"] == .string("2026-09-01"))
            let receivable = issued["receivable"]!["id"]!.stringValue!
            let offer = issued["tokens"]!.arrayValue![0]["id"]!.stringValue!
            // The same invoice again is the same trade financed twice.
            let again = try await d.call("core", .POST, "/api/v1/receivables", #"""
                {"supplierId":"\#(tier1)","creditLineId":"\#(line)","faceFen":5,"dueDate":"2026-11-30","documents":[{"kind":"invoice","sha256":"\#(doc)","number":"INV-T-1"}]}
                """#)
            #expect(again.status == .conflict && again.code == "duplicate_invoice")
            // The first supplier finds it in its inbox and accepts.
            let inbox = try await d.call("tier1", .GET, "/api/v1/tokens?status=pending")
            #expect(inbox.items.contains { $0["id"] == .string(offer) })
            #expect(try await d.call("tier1", .POST, "/api/v1/tokens/\(offer)/accept").status == .ok)
            // It pays the second tier, which accepts and splits.
            let paid = try await d.call("tier1", .POST, "/api/v1/tokens/\(offer)/transfer", #"{"toOrgId":"\#(tier2)","amountFen":300000}"#)
            #expect(paid.status == .created)
            let toTier2 = paid["tokens"]!.arrayValue![0]["id"]!.stringValue!
            #expect(paid["tokens"]!.arrayValue![0]["tier"] == .int(2))
            #expect(try await d.call("tier2", .POST, "/api/v1/tokens/\(toTier2)/accept").status == .ok)
            let split = try await d.call("tier2", .POST, "/api/v1/tokens/\(toTier2)/split", #"{"amountsFen":[100000,200000]}"#)
            #expect(split.status == .created)
            let piece = split["tokens"]!.arrayValue![0]["id"]!.stringValue!
            // Another supplier cannot see it; the regulator can.
            #expect(try await d.call("tier3", .GET, "/api/v1/tokens/\(piece)").status == .notFound)
            #expect(try await d.call("regulator", .GET, "/api/v1/tokens/\(piece)").status == .ok)
            // Quotes side by side: both banks, different rates, 90 days to maturity.
            let quotes = try await d.call("tier2", .GET, "/api/v1/tokens/\(piece)/quotes")
            #expect(quotes.items.count == 2)
            let q2 = quotes.items.first { $0["bankId"] == .string(bank2) }!
            #expect(q2["rateBps"] == .int(420) && q2["days"] == .int(90))
            #expect(q2["interestFen"] == .int(Money.discountInterestFen(amountFen: 100_000, rateBps: 420, days: 90)))
            #expect(try await d.call("tier1", .GET, "/api/v1/tokens/\(piece)/quotes").status == .notFound)
            // Financing at the second bank, at the quoted numbers; the bank approves and pays out.
            let requested = try await d.call("tier2", .POST, "/api/v1/financings", #"{"tokenId":"\#(piece)","bankId":"\#(bank2)"}"#)
            #expect(requested.status == .created && requested["financing"]?["payoutFen"] == q2["payoutFen"])
            let financing = requested["financing"]!["id"]!.stringValue!
            let queue = try await d.call("bank2", .GET, "/api/v1/financings?status=requested")
            #expect(queue.items.map { $0["id"] } == [.string(financing)])
            #expect(try await d.call("bank", .POST, "/api/v1/financings/\(financing)/approve").code == "not_holder")
            #expect(try await d.call("bank2", .POST, "/api/v1/financings/\(financing)/approve")["financing"]?["status"] == .string("approved"))
            let payout = try await d.call("bank2", .POST, "/api/v1/financings/\(financing)/confirm-payout", #"{"reference":"CNAPS-T-1"}"#)
            #expect(payout["financing"]?["status"] == .string("paid"))
            // Before maturity the core cannot pay; on the due date it pays every piece.
            #expect(try await d.call("core", .POST, "/api/v1/receivables/\(receivable)/settle", #"{"reference":"EARLY"}"#).code == "not_yet_due")
            #expect(try await d.call("operator", .POST, "/api/v1/admin/clock", #"{"today":"2026-11-30"}"#).status == .ok)
            let clearing = try await d.call("core", .GET, "/api/v1/receivables/\(receivable)/clearing")
            #expect(clearing.items.count == 3 && clearing.items.map { $0["amountFen"]?.intValue ?? 0 }.reduce(0, +) == 1_000_000)
            let tier2Rows = try await d.call("tier2", .GET, "/api/v1/receivables/\(receivable)/clearing")
            #expect(tier2Rows.items.count == 1 && tier2Rows.items[0]["amountFen"] == .int(200_000))
            let settled = try await d.call("core", .POST, "/api/v1/receivables/\(receivable)/settle", #"{"reference":"CNAPS-SETTLE-1"}"#)
            #expect(settled.status == .ok && settled["receivable"]?["status"] == .string("settled") && settled["receivable"]?["paidFen"] == .int(1_000_000))
            let payments = try await d.app.sql.raw("SELECT kind, amount_fen FROM payments WHERE receivable_id = \(bind: receivable) ORDER BY kind, amount_fen").all()
                .map { "\(try $0.decode(column: "kind", as: String.self)) \(try $0.decode(column: "amount_fen", as: Int64.self))" }
            #expect(payments == ["payout \(q2["payoutFen"]!.intValue!)", "settlement 100000", "settlement 200000", "settlement 700000"])
            // The tree shows every piece (the offer, the payment and its change, two split pieces,
            // the bank's piece), to the issuer and the regulator, not to a holder.
            let tree = try await d.call("regulator", .GET, "/api/v1/receivables/\(receivable)/tree")
            #expect(tree.items.count == 6 && tree.items.allSatisfy { $0["holderName"]?.stringValue?.isEmpty == false })
            #expect(try await d.call("tier2", .GET, "/api/v1/receivables/\(receivable)/tree").code == "forbidden")
            // The second tier's feed tells its story in order.
            let events = try await d.call("tier2", .GET, "/api/v1/events")
            let types = events.items.map { $0["type"]?.stringValue ?? "" }
            #expect(types.contains("transfer") && types.contains("requestFinancing") && types.contains("settle"))
            let seqs = events.items.compactMap { $0["seq"]?.intValue }
            #expect(seqs == seqs.sorted())
            let verified = try await d.call("regulator", .GET, "/api/v1/chain/verify")
            #expect(verified["ok"] == .bool(true) && verified["problems"] == .array([]))
            #expect(try await d.chainAgrees())
        }
    }

    @Test func theRegulatorReadsEverythingAndChangesNothing() async throws {
        try await DemoPlatform.with { d in
            let height = await d.height
            let token = try await d.call("regulator", .GET, "/api/v1/tokens?status=active").items[0]["id"]!.stringValue!
            let receivable = try await d.call("regulator", .GET, "/api/v1/receivables").items[0]["id"]!.stringValue!
            let line = try await d.call("regulator", .GET, "/api/v1/credit-lines").items[0]["id"]!.stringValue!
            let financing = try await d.call("regulator", .GET, "/api/v1/financings").items[0]["id"]!.stringValue!
            let tier2 = d.orgs["tier2"]!.description, core = d.orgs["core"]!.description
            let writes: [(HTTPMethod, String, String?)] = [
                (.POST, "/api/v1/tokens/\(token)/transfer", #"{"toOrgId":"\#(tier2)","amountFen":1}"#),
                (.POST, "/api/v1/tokens/\(token)/split", #"{"amountsFen":[1,1]}"#),
                (.POST, "/api/v1/tokens/\(token)/accept", nil),
                (.POST, "/api/v1/receivables", #"{"supplierId":"\#(tier2)","creditLineId":"\#(line)","faceFen":1,"dueDate":"2026-10-01"}"#),
                (.POST, "/api/v1/receivables/\(receivable)/settle", #"{"reference":"x"}"#),
                (.POST, "/api/v1/credit-lines", #"{"coreId":"\#(core)","limitFen":1,"rateBps":1,"expiresOn":"2027-01-01"}"#),
                (.PATCH, "/api/v1/credit-lines/\(line)", #"{"status":"frozen"}"#),
                (.POST, "/api/v1/financings", #"{"tokenId":"\#(token)","bankId":"\#(d.orgs["bank"]!)"}"#),
                (.POST, "/api/v1/financings/\(financing)/approve", nil),
                (.POST, "/api/v1/orgs", #"{"name":"X","role":"supplier","creditCode":"91320500MA1K00009"}"#),
                (.POST, "/api/v1/orgs/\(tier2)/suspend", nil),
                (.POST, "/api/v1/orgs/\(tier2)/users", #"{"email":"x@y.z","name":"x","password":"0123456789"}"#),
                (.PUT, "/api/v1/policy", #"{"maxTermDays":1,"minTermDays":1,"minPieceFen":1,"maxFaceFen":1,"maxTier":1,"acceptanceWindowDays":1,"financingCutoffDays":1,"graceDays":1}"#),
                (.POST, "/api/v1/admin/clock", #"{"today":"2027-01-01"}"#),
            ]
            for (method, path, body) in writes {
                let answer = try await d.call("regulator", method, path, body)
                #expect(answer.status == .forbidden, "\(method) \(path): \(answer.status) \(answer.json)")
            }
            #expect(await d.height == height)
            // What it may read.
            for path in ["/api/v1/receivables/\(receivable)/tree", "/api/v1/blocks", "/api/v1/blocks/1", "/api/v1/chain/export", "/api/v1/stats", "/api/v1/policy"] {
                #expect(try await d.call("regulator", .GET, path).status == .ok, "\(path)")
            }
        }
    }

    @Test func offersExpireAndReceivablesGoOverdueWhenTheClockMoves() async throws {
        try await DemoPlatform.with { d in
            // The demo leaves a new receivable pending in the first supplier's inbox (due in
            // 120 days) and a payment pending for the second tier.
            let session = try await d.call(nil, .POST, "/api/v1/auth/login", #"{"email":"regulator@cascade.demo","password":"demo-password"}"#)["token"]!.stringValue!
            let pending = try await d.call("regulator", .GET, "/api/v1/tokens?status=pending").items
            #expect(pending.count == 2)
            // Three days later the offers still stand; on the fourth they lapse.
            let moved = try await d.call("operator", .POST, "/api/v1/admin/clock", #"{"today":"2026-09-04"}"#)
            #expect(moved["jobsRun"] == .int(0))
            #expect(try await d.call("operator", .POST, "/api/v1/admin/clock", #"{"today":"2026-09-05"}"#)["jobsRun"] == .int(2))
            #expect(try await d.call("regulator", .GET, "/api/v1/tokens?status=pending").items.isEmpty)
            #expect(try await d.call("regulator", .GET, "/api/v1/tokens?status=expired").items.count == 2)
            #expect(try await d.call("regulator", .GET, "/api/v1/receivables?status=rejected").items.count == 1)
            // The clock does not go back.
            #expect(try await d.call("operator", .POST, "/api/v1/admin/clock", #"{"today":"2026-09-01"}"#).code == "validation_failed")
            // The 60-day receivable is due 2026-10-31; with no grace it is overdue the day after.
            #expect(try await d.call("operator", .POST, "/api/v1/admin/clock", #"{"today":"2026-11-01"}"#)["jobsRun"] == .int(1))
            // (苏南机电集团's ¥120,000.00 was overdue already, since the demo's history.)
            let overdue = try await d.call("regulator", .GET, "/api/v1/receivables?status=overdue").items.filter { $0["issuerId"] == .string(d.orgs["core"]!.description) }
            #expect(overdue.count == 1 && overdue[0]["dueDate"] == .string("2026-10-31"))
            #expect(try await d.call("regulator", .GET, "/api/v1/stats")["overdueFen"] == .int(620_000_00))
            // Sessions live on real time: two months of business dates later, still signed in.
            #expect(try await d.call(nil, .GET, "/api/v1/me", headers: ["Authorization": "Bearer \(session)"]).status == .ok)
            #expect(try await d.chainAgrees())
        }
    }

    @Test func theAdminClockExistsOnlyOutsideProduction() async throws {
        let app = try await Application.make(.production)
        try routes(app)
        #expect(!app.routes.all.contains { $0.path.map(\.description).joined(separator: "/") == "api/v1/admin/clock" })
        try await app.asyncShutdown()
    }
}
