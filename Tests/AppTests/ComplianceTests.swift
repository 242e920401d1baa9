import Foundation
import Ledger
import SQLKit
import Testing
import VaporTesting

@testable import Core
@testable import Web
@testable import Commands

/// 银发〔2025〕77号 through the API and the console, on the demo as `cascade demo` seeds it (the
/// format-2 rules on): the bank's filing and term review, recorded defaults, disclosure for anyone,
/// and the regulator's monitoring. Every refusal is precise and changes nothing.
@Suite struct ComplianceTests {
    /// A fresh request by tier 1 of `amountFen` due in `days`, financed at `bank`; its id.
    static func financingRequest(_ d: DemoPlatform, faceFen: Int64 = 50_000_00, days: Int64, bank: String = "bank2", recourse: Bool? = nil) async throws -> String {
        let core = d.orgs["core"]!.description
        let line = try await d.call("core", .GET, "/api/v1/credit-lines").items.first { $0["coreId"] == .string(core) && $0["rateBps"] == .int(350) }!["id"]!.stringValue!
        let due = d.app.businessDate.adding(days: days)
        let issued = try await d.call("core", .POST, "/api/v1/receivables",
                                      #"{"supplierId":"\#(d.orgs["tier1"]!)","creditLineId":"\#(line)","faceFen":\#(faceFen),"dueDate":"\#(due)"}"#)
        let token = try #require(issued["tokens"]?.arrayValue?.first?["id"]?.stringValue, "\(issued.json)")
        #expect(try await d.call("tier1", .POST, "/api/v1/tokens/\(token)/accept").status == .ok)
        let withRecourse = recourse.map { #","recourse":\#($0)"# } ?? ""
        let request = try await d.call("tier1", .POST, "/api/v1/financings", #"{"tokenId":"\#(token)","bankId":"\#(d.orgs[bank]!)"\#(withRecourse)}"#)
        return try #require(request["financing"]?["id"]?.stringValue, "\(request.json)")
    }

    @Test func anApprovalNamesItsFilingAndALongTermItsReview() async throws {
        try await DemoPlatform.with(compliance: true) { d in
            let long = try await Self.financingRequest(d, days: 200, recourse: true)
            let short = try await Self.financingRequest(d, days: 90)
            #expect(try await d.call("bank2", .GET, "/api/v1/financings/\(long)")["recourse"] == .bool(true))
            #expect(try await d.call("bank2", .GET, "/api/v1/financings/\(short)")["recourse"] == .bool(false))
            let today = d.app.businessDate, tomorrow = d.app.businessDate.adding(days: 1)
            let height = await d.height
            func approve(_ id: String, _ body: String?) async throws -> DemoPlatform.Answer { try await d.call("bank2", .POST, "/api/v1/financings/\(id)/approve", body) }
            // Refused, each precisely, in SPEC order; nothing is signed.
            #expect(try await approve(long, nil).code == "term_review_required")
            #expect(try await approve(long, #"{"filing":{"number":"0457-2026-000900","filedOn":"\#(today)"}}"#).code == "term_review_required")
            #expect(try await approve(long, #"{"termReview":{"reason":"已核验"}}"#).code == "filing_required")
            let future = try await approve(short, #"{"filing":{"number":"0457-2026-000900","filedOn":"\#(tomorrow)"}}"#)
            #expect(future.status == .conflict && future.code == "filing_required" && future["detail"]?.stringValue?.contains("\(tomorrow)") == true)
            for (body, field) in [(#"{"filing":{"number":"0457 2026","filedOn":"\#(today)"}}"#, "filing.number"),
                                  (#"{"filing":{"number":"\#(String(repeating: "9", count: 41))","filedOn":"\#(today)"}}"#, "filing.number"),
                                  (#"{"filing":{"number":"0457-1","filedOn":"2026-13-01"}}"#, "filing.filedOn"),
                                  (#"{"filing":"0457-1"}"#, "filing"),
                                  (#"{"termReview":{"reason":"ok\u0000"},"filing":{"number":"A-1","filedOn":"\#(today)"}}"#, "termReview.reason"),
                                  (#"{"termReview":{"reason":"\#(String(repeating: "审", count: 201))"},"filing":{"number":"A-1","filedOn":"\#(today)"}}"#, "termReview.reason"),
                                  (#"{"recourse":true}"#, "recourse")] {
                let answer = try await approve(long, body)
                #expect(answer.status == .unprocessableEntity && answer["errors"]?.arrayValue?.first?["field"] == .string(field), "\(body): \(answer.json)")
            }
            #expect(await d.height == height)
            // Approved with both: the financing carries them, and the registry export its filing.
            let done = try await approve(long, #"{"filing":{"number":"0457-2026-000900","filedOn":"\#(today)"},"termReview":{"reason":"装备交付周期长，已核验合同"}}"#)
            #expect(done.status == .ok, "\(done.json)")
            #expect(done["financing"]?["filing"] == ["number": "0457-2026-000900", "filedOn": .string(today.description)])
            #expect(done["financing"]?["termReview"] == ["reason": "装备交付周期长，已核验合同"])
            #expect(try await approve(short, #"{"filing":{"number":"0457-2026-000901","filedOn":"\#(today)"}}"#).status == .ok)
            let (_, registry) = try await ExportTests.csv(d, "bank2", "/api/v1/exports/registry-filing.csv")
            #expect(registry.contains { $0.contains("0457-2026-000900") && $0.contains("有追索权") } && registry.contains { $0.contains("0457-2026-000901") })
            // No approved financing lacks a filing on this chain.
            let unfiled = try await d.app.sql.raw("SELECT COUNT(*) AS n FROM financings WHERE status IN ('approved', 'paid') AND filing_number IS NULL").first()!
            #expect(try unfiled.decode(column: "n", as: Int.self) == 0)
            #expect(try await d.chainAgrees())
        }
    }

    @Test func aPreparedApprovalCarriesItsFilingToTheChecker() async throws {
        try await DemoPlatform.with(fourEyes: true, compliance: true) { d in
            let id = try await Self.financingRequest(d, days: 200, bank: "bank")
            let today = d.app.businessDate
            // Prepared without what the ledger would ask: refused now, not held for the checker.
            #expect(try await d.call("bank", .POST, "/api/v1/financings/\(id)/approve", #"{"filing":{"number":"0457-2026-000902","filedOn":"\#(today)"}}"#).code == "term_review_required")
            #expect(try await d.app.sql.raw("SELECT COUNT(*) AS n FROM approvals").first()!.decode(column: "n", as: Int.self) == 0)
            let held = try await d.call("bank", .POST, "/api/v1/financings/\(id)/approve",
                                        #"{"filing":{"number":"0457-2026-000902","filedOn":"\#(today)"},"termReview":{"reason":"已核贸易背景"}}"#)
            #expect(held.status == .accepted && held["approval"]?["summary"]?.stringValue?.contains("0457-2026-000902") == true, "\(held.json)")
            let approval = held["approval"]!["id"]!.stringValue!
            let signed = try await d.call("bank-checker", .POST, "/api/v1/approvals/\(approval)/approve")
            #expect(signed.status == .created, "\(signed.json)")
            let f = try await d.call("bank", .GET, "/api/v1/financings/\(id)")
            #expect(f["status"] == "approved" && f["filing"]?["number"] == "0457-2026-000902" && f["termReview"]?["reason"] == "已核贸易背景")
            #expect(try await d.chainAgrees())
        }
    }

    @Test func aRecordedDefaultStopsIssuingUntilLifted() async throws {
        try await DemoPlatform.with(compliance: true) { d in
            let core = d.orgs["core"]!.description, bank = d.orgs["bank"]!.description
            let height = await d.height
            for (who, org, body, code) in [("tier1", core, #"{"inDefault":true,"reason":"x"}"#, "forbidden"),
                                           ("regulator", core, #"{"inDefault":true,"reason":"x"}"#, "forbidden"),
                                           ("core", core, #"{"inDefault":false,"reason":"x"}"#, "forbidden"),
                                           ("operator", bank, #"{"inDefault":true,"reason":"x"}"#, "invalid_counterparty"),
                                           ("operator", "11111111-1111-4111-8111-111111111111", #"{"inDefault":true,"reason":"x"}"#, "not_found"),
                                           ("operator", core, #"{"inDefault":true,"reason":"a\u0007b"}"#, "validation_failed"),
                                           ("operator", core, #"{"inDefault":true,"reason":"\#(String(repeating: "x", count: 201))"}"#, "validation_failed"),
                                           ("operator", core, #"{"inDefault":"yes","reason":"x"}"#, "validation_failed"),
                                           ("operator", core, #"{"reason":"x"}"#, "validation_failed")] {
                let answer = try await d.call(who, .POST, "/api/v1/orgs/\(org)/default", body)
                #expect(answer.code == code, "\(who) \(body): \(answer.json)")
            }
            #expect(await d.height == height)
            let recorded = try await d.call("operator", .POST, "/api/v1/orgs/\(core)/default", #"{"inDefault":true,"reason":"2026 年度第二期超短期融资券违约"}"#)
            #expect(recorded.status == .ok && recorded["org"]?["inDefault"] == .bool(true) && recorded["org"]?["defaultReason"] == "2026 年度第二期超短期融资券违约")
            let line = try await d.call("core", .GET, "/api/v1/credit-lines").items[0]["id"]!.stringValue!
            let issue = #"{"supplierId":"\#(d.orgs["tier1"]!)","creditLineId":"\#(line)","faceFen":100,"dueDate":"\#(d.app.businessDate.adding(days: 30))"}"#
            let refused = try await d.call("core", .POST, "/api/v1/receivables", issue)
            #expect(refused.status == .conflict && refused.code == "issuer_in_default" && refused["detail"]?.stringValue?.contains("超短期融资券") == true)
            // The console's issue form says why and offers no button to press.
            let form = try await ConsoleTests.get(d, try await ConsoleTests.session(d, "core"), "/receivables/new").html
            #expect(form.contains("id=\"in-default\"") && form.contains("超短期融资券") && form.contains("id=\"issue\" disabled"))
            let disclosed = try await d.call(nil, .GET, "/api/v1/disclosures/\(core)")
            #expect(disclosed["inDefault"] == .bool(true) && disclosed["defaultReason"] == "2026 年度第二期超短期融资券违约")
            #expect(try await d.call("operator", .POST, "/api/v1/orgs/\(core)/default", #"{"inDefault":false,"reason":"已兑付"}"#).status == .ok)
            #expect(try await d.call("core", .POST, "/api/v1/receivables", issue).status == .created)
            let audit = try await d.app.sql.raw("SELECT COUNT(*) AS n FROM audit_log WHERE action IN ('org.default', 'org.default-lifted')").first()!
            #expect(try audit.decode(column: "n", as: Int.self) == 2)
            #expect(try await d.chainAgrees())
        }
    }

    @Test func disclosureIsForAnyoneAndFollowsThePayments() async throws {
        try await DemoPlatform.with(compliance: true) { d in
            let core = d.orgs["core"]!.description, core2 = d.orgs["core2"]!.description
            // Signed out: every core enterprise; 苏南机电集团 ten days overdue, once paid on time.
            let all = try await d.call(nil, .GET, "/api/v1/disclosures")
            #expect(all.status == .ok && Set(all.items.compactMap { $0["orgId"]?.stringValue }) == [core, core2])
            let sunan = try await d.call(nil, .GET, "/api/v1/disclosures/\(core2)")
            #expect(sunan["inDefault"] == .bool(true) && sunan["overdueCount"] == .int(1) && sunan["overdueFen"] == .int(120_000_00)
                    && sunan["maxDaysOverdue"] == .int(10) && sunan["settledOnTimeCount"] == .int(1) && sunan["settledLateCount"] == .int(0)
                    && sunan["outstandingFen"] == .int(120_000_00), "\(sunan.json)")
            let huadong = try await d.call(nil, .GET, "/api/v1/disclosures/\(core)")
            #expect(huadong["inDefault"] == .bool(false) && huadong["outstandingFen"] == .int(3_500_000_00) && huadong["outstandingCount"] == .int(3))
            #expect(try await d.call(nil, .GET, "/api/v1/disclosures?overdue=true").items.compactMap { $0["orgId"]?.stringValue } == [core2])
            #expect(try await d.call(nil, .GET, "/api/v1/disclosures?overdue=false").items.count == 2)
            #expect(try await d.call(nil, .GET, "/api/v1/disclosures?overdue=maybe").code == "validation_failed")
            #expect(try await d.call(nil, .GET, "/api/v1/disclosures?limit=1")["nextCursor"]?.stringValue != nil)
            #expect(try await d.call(nil, .GET, "/api/v1/disclosures/\(d.orgs["tier1"]!)").code == "not_found")
            #expect(try await d.call(nil, .GET, "/api/v1/disclosures/not-an-id").code == "validation_failed")
            // The page and its CSV, signed out.
            let page = try await ConsoleTests.get(d, nil, "/disclosures?overdue=true")
            #expect(page.status == .ok && page.html.contains("苏南机电集团") && !page.html.contains("data-org-id=\"\(core)\""))
            var csv = ""
            try await d.app.testing().test(.GET, "/exports/disclosures.csv") { res in
                #expect(res.status == .ok && res.headers.contentType?.description.hasPrefix("text/csv") == true)
                csv = String(decoding: Array(res.body.readableBytesView).dropFirst(3), as: UTF8.self)
            }
            #expect(csv.contains("\"苏南机电集团\"") && csv.contains("\"120000.00\"") && csv.contains("\"10\""))
            // Paid late, it is in default no more and its record says so.
            let late = try await d.call("core2", .GET, "/api/v1/receivables?status=overdue").items[0]["id"]!.stringValue!
            #expect(try await d.call("core2", .POST, "/api/v1/receivables/\(late)/settle", #"{"reference":"CNAPS-SN-LATE"}"#).status == .ok)
            let after = try await d.call(nil, .GET, "/api/v1/disclosures/\(core2)")
            #expect(after["inDefault"] == .bool(false) && after["overdueCount"] == .int(0) && after["maxDaysOverdue"] == .int(0)
                    && after["settledLateCount"] == .int(1) && after["outstandingFen"] == .int(0), "\(after.json)")
            #expect(try await d.call(nil, .GET, "/api/v1/disclosures?overdue=true").items.isEmpty)
            #expect(try await d.chainAgrees())
        }
    }

    @Test func theRegulatorMonitorsWhat77AsksAndOthersMayNot() async throws {
        try await DemoPlatform.with(compliance: true) { d in
            let m = try await d.call("regulator", .GET, "/api/v1/monitoring")
            #expect(m.status == .ok, "\(m.json)")
            #expect(m["inDefault"]?.arrayValue?.map { $0["orgId"] } == [.string(d.orgs["core2"]!.description)])
            // The demo's 200-day receivable, financed once, with its review.
            let reviews = try #require(m["termReviews"]?.arrayValue)
            #expect(reviews.count == 1 && reviews[0]["termDays"] == .int(200) && reviews[0]["financedCount"] == .int(1) && reviews[0]["reviewedCount"] == .int(1))
            #expect(m["unfiledCount"] == .int(0) && m["deepPieces"]?.arrayValue?.isEmpty == true && m["splitBursts"]?.arrayValue?.isEmpty == true)
            // Alert levels are settings: lowered, the demo's three tiers and its splits show.
            d.app.monitoringAlerts = MonitoringQueries.Alerts(tier: 2, piecesPerDay: 2)
            let low = try await d.call("regulator", .GET, "/api/v1/monitoring?days=60")
            #expect(low["deepPieces"]?.arrayValue?.first?["maxTier"] == .int(3) && low["splitBursts"]?.arrayValue?.isEmpty == false, "\(low.json)")
            for who in ["core", "tier1", "bank"] { #expect(try await d.call(who, .GET, "/api/v1/monitoring").code == "forbidden") }
            for bad in ["days=0", "days=367", "days=x"] { #expect(try await d.call("regulator", .GET, "/api/v1/monitoring?\(bad)").code == "validation_failed") }
            let page = try await ConsoleTests.get(d, try await ConsoleTests.session(d, "regulator"), "/monitoring")
            #expect(page.status == .ok && page.html.contains("苏南机电集团") && page.html.contains("id=\"unfiled-count\">0<"))
            // A financing approved on an older policy, without a filing, is listed.
            var policy = try await d.call("operator", .GET, "/api/v1/policy").json.objectValue!
            policy["filingRequired"] = false
            #expect(try await d.call("operator", .PUT, "/api/v1/policy", JSON.object(policy).canonicalString).status == .ok)
            let id = try await Self.financingRequest(d, days: 60)
            #expect(try await d.call("bank2", .POST, "/api/v1/financings/\(id)/approve").status == .ok)
            #expect(try await d.call("regulator", .GET, "/api/v1/monitoring")["unfiled"]?.arrayValue?.map { $0["financingId"] } == [.string(id)])
            // The exposure page splits it: with recourse and without, and tier 1's contingent liability.
            let exposure = try await d.call("regulator", .GET, "/api/v1/orgs/\(d.orgs["bank2"]!)/exposure")
            let byTier1 = try #require(exposure["financedAsBank"]?.arrayValue?.first)
            #expect(byTier1["withRecourseFen"] == .int(2_000_000_00) && byTier1["withoutRecourseFen"] == .int(50_000_00))
        }
    }
}
