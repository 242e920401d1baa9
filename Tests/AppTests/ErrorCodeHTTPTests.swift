import Foundation
import Ledger
import SQLKit
import Testing
import VaporTesting

@testable import Core
@testable import Web
@testable import Commands

/// Every stable code of SPEC §5 through HTTP, with its status, each provoked the way a client
/// would; and 64 clients racing to spend one token.
@Suite struct ErrorCodeHTTPTests {
    @Test func everyCodeComesWithItsStatus() async throws {
        try await DemoPlatform.with { d in
            var seen: [String: UInt] = [:]
            func expect(_ code: String, _ status: HTTPResponseStatus, _ answer: DemoPlatform.Answer, sourceLocation: SourceLocation = #_sourceLocation) {
                #expect(answer.code == code && answer.status == status, "\(answer.status) \(answer.json)", sourceLocation: sourceLocation)
                // The problem document says the status the response has (RFC 9457 §3.1.2).
                #expect(answer["status"]?.intValue == Int64(answer.status.code), "\(answer.json)", sourceLocation: sourceLocation)
                seen[code] = answer.status.code
            }
            let tier2 = d.orgs["tier2"]!.description, tier3 = d.orgs["tier3"]!.description, bank = d.orgs["bank"]!.description
            let big = try await d.call("tier1", .GET, "/api/v1/tokens?status=active").items.first { $0["amountFen"] == .int(600_000_00) }!["id"]!.stringValue!
            let tier2Token = try await d.call("tier2", .GET, "/api/v1/tokens?status=active").items.first { $0["tier"] == .int(2) }!["id"]!.stringValue!
            let lines = try await d.call("core", .GET, "/api/v1/credit-lines").items
            let line = lines.first { $0["rateBps"] == .int(350) }!["id"]!.stringValue!
            func issue(_ faceFen: Int64, due: String) async throws -> DemoPlatform.Answer {
                try await d.call("core", .POST, "/api/v1/receivables", #"{"supplierId":"\#(d.orgs["tier1"]!)","creditLineId":"\#(line)","faceFen":\#(faceFen),"dueDate":"\#(due)"}"#)
            }

            expect("malformed_json", .badRequest, try await d.call("tier1", .POST, "/api/v1/tokens/\(big)/transfer", "{"))
            expect("unauthorized", .unauthorized, try await d.call(nil, .GET, "/api/v1/tokens"))
            expect("forbidden", .forbidden, try await d.call("tier1", .POST, "/api/v1/credit-lines", #"{"coreId":"\#(d.orgs["core"]!)","limitFen":1,"rateBps":1,"expiresOn":"2027-01-01"}"#))
            // An e-CNY payout from a bank's wallet that does not hold it (tier 1's ¥220,000 piece).
            _ = try await EcnyTests.connect(d, bankBalance: 1)
            let piece = try await d.call("tier1", .GET, "/api/v1/tokens?status=active").items.first { $0["amountFen"] == .int(220_000_00) }!["id"]!.stringValue!
            let short = try await d.call("tier1", .POST, "/api/v1/financings", #"{"tokenId":"\#(piece)","bankId":"\#(bank)"}"#)["financing"]!["id"]!.stringValue!
            expect("insufficient_balance", .conflict, try await d.call("bank", .POST, "/api/v1/financings/\(short)/approve"))
            expect("not_holder", .forbidden, try await d.call("tier2", .POST, "/api/v1/tokens/\(big)/split", #"{"amountsFen":[1,59999999]}"#))
            expect("not_found", .notFound, try await d.call("tier1", .GET, "/api/v1/receivables/\(String(repeating: "0", count: 64))"))
            expect("payload_too_large", .payloadTooLarge, try await d.call("tier1", .POST, "/api/v1/tokens/\(big)/transfer", "{\"memo\":\"" + String(repeating: "x", count: 70_000) + "\"}"))
            expect("validation_failed", .unprocessableEntity, try await d.call("tier1", .POST, "/api/v1/tokens/\(big)/transfer", #"{"toOrgId":"\#(tier2)","amountFen":"5"}"#))
            expect("amount_out_of_range", .unprocessableEntity, try await d.call("tier1", .POST, "/api/v1/tokens/\(big)/transfer", #"{"toOrgId":"\#(tier2)","amountFen":-5}"#))
            expect("split_sum_mismatch", .unprocessableEntity, try await d.call("tier1", .POST, "/api/v1/tokens/\(big)/split", #"{"amountsFen":[1,2]}"#))
            expect("invalid_counterparty", .unprocessableEntity, try await d.call("tier1", .POST, "/api/v1/tokens/\(big)/transfer", #"{"toOrgId":"\#(bank)","amountFen":5}"#))
            let sha = String(repeating: "c", count: 64)
            expect("duplicate_invoice", .conflict, try await d.call("core", .POST, "/api/v1/receivables", #"""
                {"supplierId":"\#(d.orgs["tier1"]!)","creditLineId":"\#(line)","faceFen":100,"dueDate":"2026-12-01","documents":[{"kind":"invoice","sha256":"\#(sha)","number":"INV-2026-0001"}]}
                """#))
            expect("term_out_of_range", .unprocessableEntity, try await issue(100, due: "2027-12-01"))
            expect("insufficient_credit", .conflict, try await issue(10_000_000_000, due: "2026-12-01"))
            #expect(try await d.call("bank", .PATCH, "/api/v1/credit-lines/\(line)", #"{"status":"frozen"}"#).status == .ok)
            expect("credit_line_unusable", .conflict, try await issue(100, due: "2026-12-01"))
            #expect(try await d.call("bank", .PATCH, "/api/v1/credit-lines/\(line)", #"{"status":"active"}"#).status == .ok)
            let paid = try await d.call("bank", .GET, "/api/v1/financings?status=paid").items[0]["id"]!.stringValue!
            expect("financing_not_open", .conflict, try await d.call("bank", .POST, "/api/v1/financings/\(paid)/approve"))
            let offered = try await issue(100_000, due: "2026-12-01")["tokens"]!.arrayValue![0]["id"]!.stringValue!
            #expect(try await d.call("tier1", .POST, "/api/v1/tokens/\(offered)/accept").status == .ok)
            let early = try await d.call("tier1", .POST, "/api/v1/early-payments", #"{"tokenId":"\#(offered)","rateBps":700}"#)["earlyPayment"]!["id"]!.stringValue!
            #expect(try await d.call("core", .POST, "/api/v1/early-payments/\(early)/reject").status == .ok)
            expect("early_payment_not_open", .conflict, try await d.call("tier1", .POST, "/api/v1/early-payments/\(early)/cancel"))
            let bank3 = try await d.call("operator", .POST, "/api/v1/orgs", #"{"name":"新设银行","role":"bank","creditCode":"\#(CreditCode.complete("91320000MA1K00077")!)"}"#)
            let bank3Id = try #require(bank3["org"]?["id"]?.stringValue)
            expect("no_credit_line", .conflict, try await d.call("tier1", .POST, "/api/v1/financings", #"{"tokenId":"\#(big)","bankId":"\#(bank3Id)"}"#))
            _ = try await d.call("operator", .POST, "/api/v1/orgs/\(tier3)/suspend")
            expect("org_suspended", .conflict, try await d.call("tier1", .POST, "/api/v1/tokens/\(big)/transfer", #"{"toOrgId":"\#(tier3)","amountFen":5}"#))
            _ = try await d.call("operator", .POST, "/api/v1/orgs/\(tier3)/activate")
            var policy = try await d.call("tier1", .GET, "/api/v1/policy").json.objectValue!
            policy["maxTier"] = 2
            #expect(try await d.call("operator", .PUT, "/api/v1/policy", JSON.object(policy).canonicalString).status == .ok)
            expect("tier_limit_exceeded", .conflict, try await d.call("tier2", .POST, "/api/v1/tokens/\(tier2Token)/transfer", #"{"toOrgId":"\#(tier3)","amountFen":5}"#))
            // 77号 (format 2): the operator turns its rules on. 苏南机电集团 has an overdue receivable.
            policy["reviewTermDays"] = 183
            policy["filingRequired"] = true
            policy["defaultBlocksIssue"] = true
            #expect(try await d.call("operator", .PUT, "/api/v1/policy", JSON.object(policy).canonicalString).status == .ok)
            let core2Line = try await d.call("core2", .GET, "/api/v1/credit-lines").items[0]["id"]!.stringValue!
            expect("issuer_in_default", .conflict, try await d.call("core2", .POST, "/api/v1/receivables",
                                                                   #"{"supplierId":"\#(d.orgs["tier1"]!)","creditLineId":"\#(core2Line)","faceFen":100,"dueDate":"2026-12-01"}"#))
            let long = try await issue(100_000_00, due: "2027-05-01")
            let longToken = long["tokens"]!.arrayValue![0]["id"]!.stringValue!
            #expect(try await d.call("tier1", .POST, "/api/v1/tokens/\(longToken)/accept").status == .ok)
            let longFinancing = try await d.call("tier1", .POST, "/api/v1/financings", #"{"tokenId":"\#(longToken)","bankId":"\#(d.orgs["bank2"]!)"}"#)["financing"]!["id"]!.stringValue!
            expect("term_review_required", .conflict, try await d.call("bank2", .POST, "/api/v1/financings/\(longFinancing)/approve"))
            expect("filing_required", .conflict, try await d.call("bank2", .POST, "/api/v1/financings/\(longFinancing)/approve", #"{"termReview":{"reason":"已核验"}}"#))
            let replay = try await d.call("tier1", .POST, "/api/v1/tokens/\(big)/transfer", #"{"toOrgId":"\#(tier2)","amountFen":5}"#, headers: ["Idempotency-Key": "k"])
            #expect(replay.status == .created)
            expect("token_not_active", .conflict, try await d.call("tier1", .POST, "/api/v1/tokens/\(big)/transfer", #"{"toOrgId":"\#(tier2)","amountFen":5}"#))
            expect("idempotency_conflict", .conflict, try await d.call("tier1", .POST, "/api/v1/tokens/\(big)/transfer", #"{"toOrgId":"\#(tier2)","amountFen":6}"#, headers: ["Idempotency-Key": "k"]))
            let change = replay["tokens"]!.arrayValue![1]["id"]!.stringValue!
            expect("not_yet_due", .conflict, try await d.call("core", .POST, "/api/v1/receivables/\(replay["tokens"]!.arrayValue![0]["receivableId"]!.stringValue!)/settle", #"{"reference":"x"}"#))
            // The first receivable is due 2026-11-30: within three days no financing, on the day no transfer.
            _ = try await d.call("operator", .POST, "/api/v1/admin/clock", #"{"today":"2026-11-27"}"#)
            expect("financing_cutoff", .conflict, try await d.call("tier1", .POST, "/api/v1/financings", #"{"tokenId":"\#(change)","bankId":"\#(bank)"}"#))
            _ = try await d.call("operator", .POST, "/api/v1/admin/clock", #"{"today":"2026-11-30"}"#)
            expect("past_due", .conflict, try await d.call("tier1", .POST, "/api/v1/tokens/\(change)/transfer", #"{"toOrgId":"\#(tier2)","amountFen":5}"#))
            // A bank's grant waits for its checker; decided once, it is not decided again.
            try await ApprovalRecords.replaceRules(d.orgs["bank"]!, with: ApprovalRules.defaults(for: .bank), on: d.app.db)
            let held = try await d.call("bank", .POST, "/api/v1/credit-lines", #"{"coreId":"\#(d.orgs["core"]!)","limitFen":100,"rateBps":300,"expiresOn":"2027-06-01"}"#)
            let approval = held["approval"]?["id"]?.stringValue ?? ""
            #expect(try await d.call("bank-checker", .POST, "/api/v1/approvals/\(approval)/reject", #"{"reason":"no"}"#).status == .ok)
            expect("approval_not_pending", .conflict, try await d.call("bank-checker", .POST, "/api/v1/approvals/\(approval)/approve"))
            // A bank user's password alone asks for the second factor.
            expect("otp_required", .unauthorized, try await login(d, "bank@cascade.demo", DemoSeed.password))
            // Five wrong passwords, then even the right one waits.
            for _ in 0..<5 {
                #expect(try await login(d, "tier1@cascade.demo", "wrong-password").status == .unauthorized)
            }
            expect("rate_limited", .tooManyRequests, try await login(d, "tier1@cascade.demo", DemoSeed.password))
            d.clock.advance(days: 1)
            #expect(try await login(d, "tier1@cascade.demo", DemoSeed.password).status == .ok)

            // Every code of the spec was seen, with its status, except the console's csrf_failed and
            // unavailable, which needs the database gone (OutageTests).
            let all = ErrorCode.allCases.map(\.rawValue).filter { $0 != "csrf_failed" && $0 != "unavailable" }
            #expect(Set(seen.keys) == Set(all), "not provoked: \(Set(all).subtracting(seen.keys).sorted())")
            #expect(try await d.chainAgrees())
        }
    }

    func login(_ d: DemoPlatform, _ email: String, _ password: String) async throws -> DemoPlatform.Answer {
        try await d.call(nil, .POST, "/api/v1/auth/login", #"{"email":"\#(email)","password":"\#(password)"}"#)
    }

    @Test func sixtyFourClientsSpendOneTokenAndOneWins() async throws {
        try await DemoPlatform.with { d in
            let token = try await d.call("tier1", .GET, "/api/v1/tokens?status=active").items.first { $0["amountFen"] == .int(600_000_00) }!["id"]!.stringValue!
            let tier2 = d.orgs["tier2"]!.description
            let answers = try await withThrowingTaskGroup(of: DemoPlatform.Answer.self) { group in
                for i in 0..<64 {
                    group.addTask {
                        try await d.call("tier1", .POST, "/api/v1/tokens/\(token)/transfer", #"{"toOrgId":"\#(tier2)","amountFen":\#(1000 + i)}"#)
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(answers.filter { $0.status == .created }.count == 1)
            #expect(answers.filter { $0.code == "token_not_active" }.count == 63)
            // Value conserved: the receivable's live pieces still sum to its face.
            let receivable = try await d.call("tier1", .GET, "/api/v1/tokens/\(token)")["receivableId"]!.stringValue!
            let clearing = try await d.call("core", .GET, "/api/v1/receivables/\(receivable)/clearing")
            #expect(clearing.items.compactMap { $0["amountFen"]?.intValue }.reduce(0, +) == 1_000_000_00)
            #expect(try await d.chainAgrees())
        }
    }
}

@Suite struct ErrorCodeStatusTests {
    /// SPEC §5: each stable code has exactly this HTTP status.
    @Test func everyCodeHasTheSpecStatus() {
        let table: [Int: [String]] = [
            400: ["malformed_json"],
            401: ["unauthorized", "otp_required"],
            403: ["forbidden", "not_holder", "csrf_failed"],
            404: ["not_found"],
            409: ["token_not_active", "financing_not_open", "insufficient_credit", "credit_line_unusable", "no_credit_line",
                  "tier_limit_exceeded", "past_due", "not_yet_due", "financing_cutoff", "duplicate_invoice", "org_suspended",
                  "issuer_in_default", "term_review_required", "filing_required", "early_payment_not_open",
                  "idempotency_conflict", "approval_not_pending", "insufficient_balance"],
            413: ["payload_too_large"],
            422: ["validation_failed", "amount_out_of_range", "split_sum_mismatch", "term_out_of_range", "invalid_counterparty"],
            429: ["rate_limited"],
            503: ["unavailable"],
        ]
        var seen: Set<String> = []
        for (status, codes) in table {
            for code in codes {
                #expect(ErrorCode(rawValue: code)?.httpStatus == status, "\(code)")
                seen.insert(code)
            }
        }
        #expect(Set(ErrorCode.allCases.map(\.rawValue)) == seen)
    }
}
