import Foundation
import Ledger
import NIOConcurrencyHelpers
import SQLKit
import Testing
import VaporTesting

@testable import Core
@testable import Web
@testable import Commands

/// Maker-checker (四眼原则): what waits for a checker, who may decide it, and that nothing is
/// signed before a checker approves it. The demo's rules: 江南商业银行 (`bank`) every bank action,
/// 华东重工集团 (`core`) issues from ¥1,000,000.00 and settling, 沪上保理 (`bank2`) none.
@Suite struct ApprovalTests {
    /// tier 1 asks `bank` to finance its ¥200,000 piece of the first receivable.
    static func request(_ d: DemoPlatform, bank: String = "bank", fen: Int64 = 200_000_00) async throws -> String {
        // The largest piece tier 1 holds of the first receivable, split to give `fen` (¥200,000).
        let held = try await d.call("tier1", .GET, "/api/v1/tokens?status=active").items.filter { $0["tier"] == .int(1) && ($0["amountFen"]?.intValue ?? 0) > fen + 100_000_00 }
        let token = try #require(held.max { ($0["amountFen"]?.intValue ?? 0) < ($1["amountFen"]?.intValue ?? 0) })
        let rest = token["amountFen"]!.intValue! - fen
        let split = try await d.call("tier1", .POST, "/api/v1/tokens/\(token["id"]!.stringValue!)/split", #"{"amountsFen":[\#(fen),\#(rest)]}"#)
        #expect(split.status == .created, "\(split.json)")
        let piece = split["tokens"]!.arrayValue!.first { $0["amountFen"] == .int(fen) }!["id"]!.stringValue!
        let f = try await d.call("tier1", .POST, "/api/v1/financings", #"{"tokenId":"\#(piece)","bankId":"\#(d.orgs[bank]!)"}"#)
        #expect(f.status == .created, "\(f.json)")
        return f["financing"]!["id"]!.stringValue!
    }

    func audit(_ d: DemoPlatform, _ action: String) async throws -> [String] {
        try await d.app.sql.raw("SELECT detail FROM audit_log WHERE action = \(bind: action) ORDER BY seq").all().map { try $0.decode(column: "detail", as: String.self) }
    }

    @Test func aBanksApprovalWaitsForItsCheckerAndIsSignedOnlyThen() async throws {
        try await DemoPlatform.with(fourEyes: true) { d in
            let f = try await Self.request(d)
            let height = await d.height
            let held = try await d.call("bank", .POST, "/api/v1/financings/\(f)/approve")
            #expect(held.status == .accepted, "\(held.json)")
            let approval = held["approval"]!
            #expect(approval["status"] == "pending" && approval["action"] == "approveFinancing")
            #expect(approval["preparedBy"]?["email"] == "bank@cascade.demo" && approval["preparedAt"]?.stringValue != nil)
            #expect(approval["amountFen"] == .int(200_000_00) && approval["subjectId"] == .string(f))
            #expect(approval["summary"]?.stringValue?.contains("¥200,000.00") == true)
            // Nothing was signed: the chain did not move and the financing is still requested.
            #expect(await d.height == height)
            #expect(try await d.call("bank", .GET, "/api/v1/financings/\(f)")["status"] == "requested")
            let id = approval["id"]!.stringValue!
            // The maker does not approve it; nor does anyone outside the bank; the regulator reads it.
            #expect(try await d.call("bank", .POST, "/api/v1/approvals/\(id)/approve").status == .forbidden)
            #expect(try await d.call("tier1", .GET, "/api/v1/approvals/\(id)").status == .notFound)
            #expect(try await d.call("bank2", .POST, "/api/v1/approvals/\(id)/approve").status == .notFound)
            #expect(try await d.call("regulator", .GET, "/api/v1/approvals/\(id)").status == .ok)
            #expect(try await d.call("regulator", .POST, "/api/v1/approvals/\(id)/approve").status == .forbidden)
            #expect(try await d.call("bank-checker", .GET, "/api/v1/approvals?status=pending").items.map { $0["id"] } == [.string(id)])

            let approved = try await d.call("bank-checker", .POST, "/api/v1/approvals/\(id)/approve")
            #expect(approved.status == .created, "\(approved.json)")
            #expect(approved["financing"]?["status"] == "approved" && approved["transactionId"]?.stringValue != nil)
            #expect(approved["approval"]?["status"] == "approved" && approved["approval"]?["decidedBy"]?["email"] == "bank-checker@cascade.demo")
            #expect(approved["approval"]?["transactionIds"] == .array([approved["transactionId"]!]))
            #expect(await d.height == height + 1)

            // The payout waits too, and then pays.
            let payout = try await d.call("bank", .POST, "/api/v1/financings/\(f)/confirm-payout", #"{"reference":"CNAPS-4E-1"}"#)
            #expect(payout.status == .accepted && payout["approval"]?["action"] == "confirmPayout")
            let paid = try await d.call("bank-checker", .POST, "/api/v1/approvals/\(payout["approval"]!["id"]!.stringValue!)/approve")
            #expect(paid.status == .created && paid["financing"]?["status"] == "paid")

            #expect(try await audit(d, "approval.prepare").count == 2)
            #expect(try await audit(d, "approval.approve").allSatisfy { $0.contains("prepared by bank@cascade.demo") })
            #expect(try await d.chainAgrees())
        }
    }

    @Test func whoPreparedItDoesNotApproveItEvenAsAChecker() async throws {
        try await DemoPlatform.with(fourEyes: true) { d in
            let f = try await Self.request(d)
            // A maker of the bank prepares; an admin then makes them a checker.
            let bank = d.orgs["bank"]!
            let clerk = try await Accounts(sql: d.app.sql).createUser(org: bank, email: "clerk@bank.example", name: "柜员", role: .maker, password: "clerk-password-1", nowMs: 0)
            let row = try await d.app.sql.raw("SELECT id, org_id, email, name, role FROM users WHERE id = \(bind: clerk)").first()!
            let key = try await Accounts(sql: d.app.sql).createAPIKey(for: try Accounts.caller(row, viaAPIKey: true), name: "t", nowMs: 0).secret
            func asClerk(_ method: HTTPMethod, _ path: String, _ body: String? = nil) async throws -> HTTPResponseStatus {
                var status: HTTPResponseStatus = .internalServerError
                var headers: HTTPHeaders = ["Authorization": "Bearer \(key)"]
                if body != nil { headers.contentType = .json }
                try await d.app.testing().test(method, path, headers: headers, body: body.map { ByteBuffer(string: $0) }) { status = $0.status }
                return status
            }
            var held: DemoPlatform.Answer?
            try await d.app.testing().test(.POST, "/api/v1/financings/\(f)/approve", headers: ["Authorization": "Bearer \(key)"]) { res in
                held = DemoPlatform.Answer(status: res.status, headers: res.headers, json: try JSON.parse(Array(res.body.readableBytesView)))
            }
            let id = try #require(held?["approval"]?["id"]?.stringValue)
            let changed = try await d.call("bank", .PATCH, "/api/v1/orgs/\(bank)/users/\(clerk)", #"{"role":"checker"}"#)
            #expect(changed.status == .accepted, "\(changed.json)")
            let made = try await d.call("operator", .POST, "/api/v1/approvals/\(changed["approval"]!["id"]!.stringValue!)/approve")
            #expect(made.status == .created && made["user"]?["role"] == "checker", "\(made.json)")
            #expect(try await asClerk(.POST, "/api/v1/approvals/\(id)/approve") == .forbidden)
            #expect(try await asClerk(.POST, "/api/v1/approvals/\(id)/reject", #"{"reason":"mine"}"#) == .forbidden)
            // As a checker the clerk prepares nothing more.
            #expect(try await asClerk(.POST, "/api/v1/financings/\(f)/approve") == .forbidden)
            #expect(try await d.call("bank-checker", .POST, "/api/v1/approvals/\(id)/approve").status == .created)
        }
    }

    @Test func aCheckerRejectsWithAReasonAndNothingIsSigned() async throws {
        try await DemoPlatform.with(fourEyes: true) { d in
            let f = try await Self.request(d)
            let id = try await d.call("bank", .POST, "/api/v1/financings/\(f)/approve")["approval"]!["id"]!.stringValue!
            let height = await d.height
            #expect(try await d.call("bank-checker", .POST, "/api/v1/approvals/\(id)/reject", #"{"reason":"  "}"#).code == "validation_failed")
            #expect(try await d.call("bank-checker", .POST, "/api/v1/approvals/\(id)/reject", "{}").code == "validation_failed")
            let rejected = try await d.call("bank-checker", .POST, "/api/v1/approvals/\(id)/reject", #"{"reason":"发票与合同金额不符"}"#)
            #expect(rejected.status == .ok && rejected["approval"]?["status"] == "rejected" && rejected["approval"]?["reason"] == "发票与合同金额不符")
            #expect(await d.height == height)
            #expect(try await d.call("bank", .GET, "/api/v1/financings/\(f)")["status"] == "requested")
            #expect(try await d.call("bank-checker", .POST, "/api/v1/approvals/\(id)/approve").code == "approval_not_pending")
            #expect(try await d.call("bank-checker", .POST, "/api/v1/approvals/\(id)/reject", #"{"reason":"again"}"#).code == "approval_not_pending")
            #expect(try await audit(d, "approval.reject").first?.contains("发票与合同金额不符") == true)
            // Unknown and malformed ids.
            #expect(try await d.call("bank-checker", .POST, "/api/v1/approvals/\(UUID().uuidString.lowercased())/approve").status == .notFound)
            #expect(try await d.call("bank-checker", .GET, "/api/v1/approvals/x'%20OR%201=1").code == "validation_failed")
        }
    }

    @Test func theMakerWithdrawsWhatTheyPreparedAndNobodyElseDoes() async throws {
        try await DemoPlatform.with(fourEyes: true) { d in
            let f = try await Self.request(d)
            let id = try await d.call("bank", .POST, "/api/v1/financings/\(f)/approve")["approval"]!["id"]!.stringValue!
            let height = await d.height
            // Not the checker, not another org, not the regulator: they reject, or cannot see it.
            #expect(try await d.call("bank-checker", .POST, "/api/v1/approvals/\(id)/withdraw").status == .forbidden)
            #expect(try await d.call("bank2", .POST, "/api/v1/approvals/\(id)/withdraw").status == .notFound)
            #expect(try await d.call("regulator", .POST, "/api/v1/approvals/\(id)/withdraw").status == .forbidden)
            #expect(try await d.call("bank", .POST, "/api/v1/approvals/\(id)/withdraw", #"{"reason":"x"}"#).code == "validation_failed")
            let withdrawn = try await d.call("bank", .POST, "/api/v1/approvals/\(id)/withdraw")
            #expect(withdrawn.status == .ok && withdrawn["approval"]?["status"] == "withdrawn", "\(withdrawn.json)")
            #expect(withdrawn["approval"]?["decidedBy"]?["email"] == "bank@cascade.demo")
            // Never performed: nothing signed, the financing still requested, and no checker can approve it now.
            #expect(await d.height == height)
            #expect(try await d.call("bank", .GET, "/api/v1/financings/\(f)")["status"] == "requested")
            #expect(try await d.call("bank-checker", .POST, "/api/v1/approvals/\(id)/approve").code == "approval_not_pending")
            #expect(try await d.call("bank", .POST, "/api/v1/approvals/\(id)/withdraw").code == "approval_not_pending")
            #expect(try await d.call("bank", .GET, "/api/v1/approvals?status=withdrawn").items.map { $0["id"] } == [.string(id)])
            #expect(try await audit(d, "approval.withdraw").count == 1)
            // One already decided is not withdrawn either.
            let again = try await d.call("bank", .POST, "/api/v1/financings/\(f)/approve")["approval"]!["id"]!.stringValue!
            #expect(try await d.call("bank-checker", .POST, "/api/v1/approvals/\(again)/reject", #"{"reason":"no"}"#).status == .ok)
            #expect(try await d.call("bank", .POST, "/api/v1/approvals/\(again)/withdraw").code == "approval_not_pending")
        }
    }

    @Test func aWithdrawalRacingApprovalsEndsOneWayOnly() async throws {
        try await DemoPlatform.with(fourEyes: true) { d in
            let f = try await Self.request(d)
            let id = try await d.call("bank", .POST, "/api/v1/financings/\(f)/approve")["approval"]!["id"]!.stringValue!
            let height = await d.height
            let answers = try await withThrowingTaskGroup(of: (String, DemoPlatform.Answer).self) { group in
                for i in 0..<64 {
                    let (who, step) = i % 2 == 0 ? ("bank", "withdraw") : ("bank-checker", "approve")
                    group.addTask { (step, try await d.call(who, .POST, "/api/v1/approvals/\(id)/\(step)")) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let won = answers.filter { $0.1.status == .ok || $0.1.status == .created }
            #expect(won.count == 1, "\(answers.map { ($0.0, $0.1.status.code) })")
            #expect(answers.allSatisfy { $0.1.status.code < 500 })
            #expect(answers.filter { $0.1.code == "approval_not_pending" }.count == 63)
            let final = try await d.call("bank", .GET, "/api/v1/approvals/\(id)")["approval"]!["status"]
            let after = await d.height
            if won.first?.0 == "withdraw" {
                #expect(final == "withdrawn" && after == height)
                #expect(try await d.call("bank", .GET, "/api/v1/financings/\(f)")["status"] == "requested")
            } else {
                #expect(final == "approved" && after == height + 1)
            }
            #expect(try await d.chainAgrees())
        }
    }

    @Test func theMakerWithdrawsOnTheConsole() async throws {
        try await DemoPlatform.with(fourEyes: true) { d in
            let f = try await Self.request(d)
            let maker = try await ConsoleTests.session(d, "bank")
            let held = try await ConsoleTests.post(d, maker, "/financings/\(f)/approve", [:])
            let path = String(try #require(held.headers.first(name: .location)).prefix { $0 != "?" })
            #expect(try await ConsoleTests.get(d, maker, path).html.contains("id=\"withdraw\""))
            let checker = try await ConsoleTests.session(d, "bank-checker")
            #expect(!(try await ConsoleTests.get(d, checker, path).html.contains("id=\"withdraw\"")))
            let done = try await ConsoleTests.post(d, maker, "\(path)/withdraw", [:])
            #expect(done.headers.first(name: .location) == "\(path)?done=approval_withdrawn")
            let page = try await ConsoleTests.get(d, maker, path)
            #expect(page.html.contains("data-status=\"withdrawn\"") && !page.html.contains("id=\"withdraw\""))
            #expect(!(try await ConsoleTests.get(d, checker, path).html.contains("id=\"approve\"")))
        }
    }

    @Test func nobodyIsMadeACheckerOrAnAdminOnOnePersonsWord() async throws {
        try await DemoPlatform.with(fourEyes: true) { d in
            let bank = d.orgs["bank"]!, accounts = Accounts(sql: d.app.sql)
            let clerk = try await accounts.createUser(org: bank, email: "clerk@bank.example", name: "柜员", role: .maker, password: "clerk-password-1", nowMs: 0)
            func role(_ id: String) async throws -> String? {
                try await d.app.sql.raw("SELECT role FROM users WHERE id = \(bind: id)").first()?.decode(column: "role", as: String.self)
            }
            // The admin asks; the role does not change yet.
            let asked = try await d.call("bank", .PATCH, "/api/v1/orgs/\(bank)/users/\(clerk)", #"{"role":"checker"}"#)
            #expect(asked.status == .accepted && asked["approval"]?["action"] == "grantRole" && asked["approval"]?["status"] == "pending", "\(asked.json)")
            #expect(try await role(clerk) == "maker")
            let id = asked["approval"]!["id"]!.stringValue!
            // Not the admin who asked, not a checker, not the regulator, not another org's admin.
            #expect(try await d.call("bank", .POST, "/api/v1/approvals/\(id)/approve").status == .forbidden)
            #expect(try await d.call("bank-checker", .POST, "/api/v1/approvals/\(id)/approve").status == .forbidden)
            #expect(try await d.call("regulator", .POST, "/api/v1/approvals/\(id)/approve").status == .forbidden)
            #expect(try await d.call("bank2", .POST, "/api/v1/approvals/\(id)/approve").status == .notFound)
            #expect(try await role(clerk) == "maker")
            // A second admin of the org decides it.
            let second = try await accounts.createUser(org: bank, email: "admin2@bank.example", name: "二号管理员", role: .admin, password: "admin2-password-1", nowMs: 0)
            let row = try await d.app.sql.raw("SELECT id, org_id, email, name, role FROM users WHERE id = \(bind: second)").first()!
            let key = try await accounts.createAPIKey(for: try Accounts.caller(row, viaAPIKey: true), name: "t", nowMs: 0).secret
            var status: HTTPResponseStatus = .internalServerError
            try await d.app.testing().test(.POST, "/api/v1/approvals/\(id)/approve", headers: ["Authorization": "Bearer \(key)"]) { status = $0.status }
            #expect(status == .created)
            #expect(try await role(clerk) == "checker")
            // Taking a role back, or giving one that holds no control, is at once.
            #expect(try await d.call("bank", .PATCH, "/api/v1/orgs/\(bank)/users/\(clerk)", #"{"role":"viewer"}"#).status == .ok)
            #expect(try await role(clerk) == "viewer")
            // A new admin, as a new checker, starts as a viewer; the operator may decide, or reject.
            let made = try await d.call("bank", .POST, "/api/v1/orgs/\(bank)/users", #"{"email":"puppet@bank.example","name":"p","password":"puppet-password-1","role":"admin"}"#)
            #expect(made.status == .created && made["role"] == "viewer" && made["approval"]?["status"] == "pending", "\(made.json)")
            let puppet = made["id"]!.stringValue!
            let rejected = try await d.call("operator", .POST, "/api/v1/approvals/\(made["approval"]!["id"]!.stringValue!)/reject", #"{"reason":"who is this?"}"#)
            #expect(rejected.status == .ok && rejected["approval"]?["status"] == "rejected")
            #expect(try await role(puppet) == "viewer")
            #expect(try await d.app.sql.raw("SELECT COUNT(*) AS n FROM audit_log WHERE action = 'approval.prepare'").first()?.decode(column: "n", as: Int.self) == 2)
        }
    }

    @Test func twoCheckersApprovingAtOnceSignItOnce() async throws {
        try await DemoPlatform.with(fourEyes: true) { d in
            let f = try await Self.request(d)
            let id = try await d.call("bank", .POST, "/api/v1/financings/\(f)/approve")["approval"]!["id"]!.stringValue!
            let height = await d.height
            let answers = try await withThrowingTaskGroup(of: DemoPlatform.Answer.self) { group in
                for _ in 0..<8 { group.addTask { try await d.call("bank-checker", .POST, "/api/v1/approvals/\(id)/approve") } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(answers.filter { $0.status == .created }.count == 1)
            #expect(answers.filter { $0.code == "approval_not_pending" }.count == 7, "\(answers.map(\.status))")
            #expect(await d.height == height + 1)
            #expect(try await d.chainAgrees())
        }
    }

    @Test func eachOrgsRulesDecideWhatWaits() async throws {
        try await DemoPlatform.with(fourEyes: true) { d in
            // 沪上保理 keeps single approval.
            let f = try await Self.request(d, bank: "bank2")
            #expect(try await d.call("bank2", .POST, "/api/v1/financings/\(f)/approve").status == .ok)
            // 华东重工集团: an issue under ¥1,000,000.00 goes at once; from it, it waits.
            let line = try await d.call("core", .GET, "/api/v1/credit-lines").items.first { $0["rateBps"] == .int(350) }!["id"]!.stringValue!
            func issue(_ fen: Int64) async throws -> DemoPlatform.Answer {
                try await d.call("core", .POST, "/api/v1/receivables", #"{"supplierId":"\#(d.orgs["tier1"]!)","creditLineId":"\#(line)","faceFen":\#(fen),"dueDate":"2026-12-20"}"#)
            }
            #expect(try await issue(999_999_99).status == .created)
            let big = try await issue(1_000_000_00)
            #expect(big.status == .accepted && big["approval"]?["action"] == "issue")
            // Approved on a later day, it is issued on that day.
            d.clock.advance(days: 1)
            let issued = try await d.call("core-checker", .POST, "/api/v1/approvals/\(big["approval"]!["id"]!.stringValue!)/approve")
            #expect(issued.status == .created && issued["receivable"]?["issueDate"] == "2026-09-02", "\(issued.json)")
            // Settling always waits: the checker's approval pays every piece.
            _ = try await d.call("operator", .POST, "/api/v1/admin/clock", #"{"today":"2026-11-30"}"#)
            let first = try await d.call("core", .GET, "/api/v1/receivables?status=active").items.first { $0["faceFen"] == .int(1_000_000_00) && $0["dueDate"] == "2026-11-30" }!
            let settle = try await d.call("core", .POST, "/api/v1/receivables/\(first["id"]!.stringValue!)/settle", #"{"reference":"SETTLE-1"}"#)
            #expect(settle.status == .accepted && settle["approval"]?["amountFen"] == .int(1_000_000_00))
            let paid = try await d.call("core-checker", .POST, "/api/v1/approvals/\(settle["approval"]!["id"]!.stringValue!)/approve")
            #expect(paid.status == .created && paid["receivable"]?["status"] == "settled" && paid["transactionIds"]?.arrayValue?.count == 1, "\(paid.json)")
            // Reading the rules: the org's own and the regulator's; another org's is not found.
            let rules = try await d.call("core", .GET, "/api/v1/orgs/\(d.orgs["core"]!)/approval-rules")
            #expect(rules["rules"] == .array([["action": "issue", "minAmountFen": .int(1_000_000_00)], ["action": "settle", "minAmountFen": 0]]))
            #expect(rules["actions"] == .array(["issue", "settle"]))
            #expect(try await d.call("tier1", .GET, "/api/v1/orgs/\(d.orgs["core"]!)/approval-rules").status == .notFound)
            #expect(try await d.call("regulator", .GET, "/api/v1/orgs/\(d.orgs["core"]!)/approval-rules").status == .ok)
            #expect(try await d.chainAgrees())
        }
    }

    @Test func aNewBankStartsWithEveryBankActionWaiting() async throws {
        try await DemoPlatform.with { d in
            let code = CreditCode.complete("91320000MA1K00098")!
            let org = try await d.call("operator", .POST, "/api/v1/orgs", #"{"name":"新银行","role":"bank","creditCode":"\#(code)","admin":{"email":"admin@newbank.example","name":"管理员","password":"first-password"}}"#)
            #expect(org.status == .created, "\(org.json)")
            let id = org["org"]?["id"]?.stringValue ?? ""
            let rules = try await ApprovalQueries.rules(of: try #require(OrgID(id)), on: d.app.sql)
            #expect(Set(rules.map(\.action)) == [.approveFinancing, .confirmPayout, .grantCredit, .updateCredit] && rules.allSatisfy { $0.minAmountFen == 0 })
        }
    }

    /// A bank's rules are stored before its registration reaches the ledger: a request that ends
    /// right after the block (the database gone, the process killed) leaves no bank on the chain
    /// that approves alone. A registration the ledger refuses leaves no rules behind.
    @Test func aBanksRulesAreStoredBeforeItIsOnTheChain() async throws {
        try await DemoPlatform.with { d in
            let app = d.app
            let atCommit = NIOLockedValueBox<[Int]>([])
            await app.sequencer!.setBeforeCommit { block in
                for tx in block.transactions {
                    guard case .registerOrg(let registered) = tx.body.payload else { continue }
                    let rules = try await ApprovalQueries.rules(of: registered.orgId, on: app.sql)
                    atCommit.withLockedValue { $0.append(rules.count) }
                }
            }
            let code = CreditCode.complete("91320000MA1K00097")!
            let body = #"{"name":"又一家银行","role":"bank","creditCode":"\#(code)"}"#
            #expect(try await d.call("operator", .POST, "/api/v1/orgs", body).status == .created)
            await app.sequencer!.setBeforeCommit(nil)
            #expect(atCommit.withLockedValue { $0 } == [4])
            let stored = try await app.sql.raw("SELECT count(*) AS n FROM approval_rules").first()!.decode(column: "n", as: Int.self)
            let refused = try await d.call("operator", .POST, "/api/v1/orgs", body)  // the same credit code again
            #expect(refused.status.code >= 400 && refused.status.code < 500, "\(refused.json)")
            #expect(try await app.sql.raw("SELECT count(*) AS n FROM approval_rules").first()!.decode(column: "n", as: Int.self) == stored)
        }
    }

    /// A registration whose fate was unknown (the database went away after its key and rules
    /// were stored) leaves them until the writer knows: then, if the org is not on the chain,
    /// the sweep removes them; never while a request is still registering it, never an org's
    /// that the chain knows.
    @Test func whatARegistrationOfUnknownFateLeftIsSweptOnceTheWriterKnows() async throws {
        try await DemoPlatform.with { d in
            let app = d.app, sql = d.app.sql
            func count(_ table: String) async throws -> Int {
                try await sql.raw("SELECT count(*) AS n FROM \(ident: table)").first()!.decode(column: "n", as: Int.self)
            }
            let keysBefore = try await count("org_keys"), rulesBefore = try await count("approval_rules")
            // What `register` stores before the ledger, for an org that never reached it.
            let ghost = OrgID(UUID().uuidString.lowercased())!
            try await OrgKeys.store(ghost, keyId: "k-ghost", sealedSeed: try app.keyVault!.seal(seed: Ed25519Signer.generate().seed, for: ghost),
                                    nowMs: 1, on: sql)
            try await ApprovalRecords.replaceRules(ghost, with: ApprovalRules.defaults(for: .bank), on: app.db)
            #expect(try await OrgKeys.unregistered(on: sql) == [ghost])
            // While a request is registering it, it stays.
            app.registrationsInFlight.withLockedValue { _ = $0.insert(ghost) }
            #expect(try await OnboardingService.sweepUnregistered(app) == 0)
            #expect(try await count("org_keys") == keysBefore + 1)
            app.registrationsInFlight.withLockedValue { _ = $0.remove(ghost) }
            // Then it goes, and nothing of the registered orgs with it.
            #expect(try await OnboardingService.sweepUnregistered(app) == 1)
            #expect(try await count("org_keys") == keysBefore)
            #expect(try await count("approval_rules") == rulesBefore)
            #expect(try await OrgKeys.unregistered(on: sql).isEmpty)
            #expect(try await OnboardingService.sweepUnregistered(app) == 0)
            // The registered orgs still sign.
            #expect(try await d.call("tier1", .GET, "/api/v1/tokens").status == .ok)
            let code = CreditCode.complete("91320000MA1K00098")!
            #expect(try await d.call("operator", .POST, "/api/v1/orgs", #"{"name":"再一家银行","role":"bank","creditCode":"\#(code)"}"#).status == .created)
            #expect(try await OnboardingService.sweepUnregistered(app) == 0)
        }
    }

    @Test func looseningTheRulesWaitsForACheckerAndTighteningDoesNot() async throws {
        try await DemoPlatform.with(fourEyes: true) { d in
            let bank = d.orgs["bank"]!
            let path = "/api/v1/orgs/\(bank)/approval-rules"
            let loosen = try await d.call("bank", .PUT, path, #"{"rules":[{"action":"approveFinancing","minAmountFen":100000000}]}"#)
            #expect(loosen.status == .accepted && loosen["approval"]?["action"] == "changeRules", "\(loosen.json)")
            #expect(try await ApprovalQueries.rules(of: bank, on: d.app.sql).count == 4)
            let approved = try await d.call("bank-checker", .POST, "/api/v1/approvals/\(loosen["approval"]!["id"]!.stringValue!)/approve")
            #expect(approved.status == .created && approved["rules"]?.arrayValue?.count == 1)
            #expect(try await ApprovalQueries.rules(of: bank, on: d.app.sql) == [ApprovalRule(action: .approveFinancing, minAmountFen: 100_000_000)])
            // Under the threshold the bank now approves alone.
            let f = try await Self.request(d)
            #expect(try await d.call("bank", .POST, "/api/v1/financings/\(f)/approve").status == .ok)
            // Tightening holds at once.
            let tighten = try await d.call("bank", .PUT, path, #"{"rules":[{"action":"approveFinancing","minAmountFen":0},{"action":"grantCredit","minAmountFen":0}]}"#)
            #expect(tighten.status == .ok && tighten["rules"]?.arrayValue?.count == 2)
            // Bad rules change nothing: an action of another role, twice the same, a negative amount.
            for bad in [#"{"rules":[{"action":"issue","minAmountFen":0}]}"#, #"{"rules":[{"action":"grantCredit","minAmountFen":0},{"action":"grantCredit","minAmountFen":1}]}"#,
                        #"{"rules":[{"action":"grantCredit","minAmountFen":-1}]}"#, #"{"rules":[{"action":"grantCredit"}]}"#, #"{"rules":"all"}"#] {
                let answer = try await d.call("bank", .PUT, path, bad)
                #expect(answer.status == .unprocessableEntity, "\(bad): \(answer.json)")
            }
            #expect(try await ApprovalQueries.rules(of: bank, on: d.app.sql).count == 2)
            // Only the bank's admins set them.
            #expect(try await d.call("bank-checker", .PUT, path, #"{"rules":[]}"#).status == .forbidden)
            #expect(try await d.call("bank2", .PUT, path, #"{"rules":[]}"#).status == .forbidden)
        }
    }

    @Test func whatTheLedgerWouldRefuseTodayIsRefusedAtOnceNotHeld() async throws {
        try await DemoPlatform.with(fourEyes: true) { d in
            let core = d.orgs["core"]!.description
            let line = try await d.call("bank", .GET, "/api/v1/credit-lines").items.first { $0["coreId"] == .string(core) }!["id"]!.stringValue!
            let height = await d.height
            // A rate over 100% and an expiry in the past: the ledger's refusal, now, and no approval.
            let bad = try await d.call("bank", .PATCH, "/api/v1/credit-lines/\(line)", #"{"expiresOn":"2000-01-01","limitFen":1,"rateBps":10001,"status":"active"}"#)
            #expect(bad.status == .unprocessableEntity, "\(bad.json)")
            // Settling before maturity.
            let receivable = try await d.call("core", .GET, "/api/v1/receivables?status=active").items.first!["id"]!.stringValue!
            #expect(try await d.call("core", .POST, "/api/v1/receivables/\(receivable)/settle", #"{"reference":"EARLY"}"#).code == "not_yet_due")
            #expect(try await d.app.sql.raw("SELECT COUNT(*) AS n FROM approvals").first()!.decode(column: "n", as: Int.self) == 0)
            // Trials while blocks are written: every real operation lands, every trial is refused, the chain agrees.
            let bank2 = try await d.call("bank2", .GET, "/api/v1/credit-lines").items.first!["id"]!.stringValue!
            let answers = try await withThrowingTaskGroup(of: (Bool, DemoPlatform.Answer).self) { group in
                for i in 0..<12 {
                    group.addTask { (true, try await d.call("bank2", .PATCH, "/api/v1/credit-lines/\(bank2)", #"{"rateBps":\#(400 + i)}"#)) }
                    group.addTask { (false, try await d.call("bank", .PATCH, "/api/v1/credit-lines/\(line)", #"{"rateBps":\#(20000 + i)}"#)) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(answers.filter { $0.0 }.allSatisfy { $0.1.status == .ok })
            #expect(answers.filter { !$0.0 }.allSatisfy { $0.1.status == .unprocessableEntity })
            #expect(await d.height > height)
            #expect(try await d.call("bank", .GET, "/api/v1/credit-lines/\(line)")["rateBps"] == .int(350))
            #expect(try await d.chainAgrees())
        }
    }

    @Test func anOperationTheLedgerRefusesStaysPendingWithTheRefusal() async throws {
        try await DemoPlatform.with(fourEyes: true) { d in
            let f = try await Self.request(d)
            let id = try await d.call("bank", .POST, "/api/v1/financings/\(f)/approve")["approval"]!["id"]!.stringValue!
            #expect(try await d.call("tier1", .POST, "/api/v1/financings/\(f)/cancel").status == .ok)
            let refused = try await d.call("bank-checker", .POST, "/api/v1/approvals/\(id)/approve")
            #expect(refused.code == "financing_not_open")
            let now = try await d.call("bank-checker", .GET, "/api/v1/approvals/\(id)")["approval"]!
            #expect(now["status"] == "pending" && now["lastError"]?.stringValue?.isEmpty == false && now["decidedBy"] == .null)
            #expect(try await d.call("bank-checker", .POST, "/api/v1/approvals/\(id)/reject", #"{"reason":"cancelled by the supplier"}"#).status == .ok)
        }
    }

    @Test func anApprovalLeftHalfWayIsSettledFromWhatWasCommitted() async throws {
        try await DemoPlatform.with(fourEyes: true) { d in
            let f = try await Self.request(d)
            let committed = try await d.call("bank", .POST, "/api/v1/financings/\(f)/approve")["approval"]!["id"]!.stringValue!
            let g = try await Self.request(d)
            let lost = try await d.call("bank", .POST, "/api/v1/financings/\(g)/approve")["approval"]!["id"]!.stringValue!
            // As a process killed mid-way leaves them: one's transaction was committed, the other's never was.
            let tx = try await d.app.sql.raw("SELECT id FROM transactions ORDER BY block_height DESC LIMIT 1").first()!.decode(column: "id", as: String.self)
            try await d.app.sql.raw("UPDATE approvals SET status = 'approving', transaction_ids = \(bind: JSON.array([.string(tx)]).canonicalString) WHERE id = \(bind: committed)").run()
            try await d.app.sql.raw("UPDATE approvals SET status = 'approving', transaction_ids = \(bind: JSON.array([.string(String(repeating: "ab", count: 32))]).canonicalString) WHERE id = \(bind: lost)").run()
            try await ApprovalService.recover(d.app)
            #expect(try await ApprovalQueries.find(committed, org: nil, on: d.app.sql).status == .approved)
            let again = try await ApprovalQueries.find(lost, org: nil, on: d.app.sql)
            #expect(again.status == .pending && again.transactionIds.isEmpty && again.lastError != nil)
            #expect(try await d.call("bank-checker", .POST, "/api/v1/approvals/\(lost)/approve").status == .created)
        }
    }

    @Test func rolesLimitWhatEachPersonDoes() async throws {
        try await DemoPlatform.with(fourEyes: true) { d in
            let tier1 = d.orgs["tier1"]!
            func person(_ role: String) async throws -> String {
                let made = try await d.call("tier1", .POST, "/api/v1/orgs/\(tier1)/users", #"{"email":"\#(role)@t1.example","name":"\#(role)","password":"first-password","role":"\#(role)"}"#)
                #expect(made.status == .created, "\(made.json)")
                if let held = made["approval"]?["id"]?.stringValue {
                    // A new checker starts as a viewer; the operator gives the role.
                    #expect(role == "checker" && made["role"] == "viewer")
                    #expect(try await d.call("operator", .POST, "/api/v1/approvals/\(held)/approve").status == .created)
                } else {
                    #expect(made["role"] == .string(role))
                }
                let row = try await d.app.sql.raw("SELECT id, org_id, email, name, role FROM users WHERE email = \(bind: "\(role)@t1.example")").first()!
                return try await Accounts(sql: d.app.sql).createAPIKey(for: try Accounts.caller(row, viaAPIKey: true), name: "t", nowMs: 0).secret
            }
            let viewer = try await person("viewer"), checker = try await person("checker"), maker = try await person("maker")
            func call(_ key: String, _ method: HTTPMethod, _ path: String, _ body: String? = nil) async throws -> HTTPResponseStatus {
                var status: HTTPResponseStatus = .internalServerError
                var headers: HTTPHeaders = ["Authorization": "Bearer \(key)"]
                if body != nil { headers.contentType = .json }
                try await d.app.testing().test(method, path, headers: headers, body: body.map { ByteBuffer(string: $0) }) { status = $0.status }
                return status
            }
            let token = try await d.call("tier1", .GET, "/api/v1/tokens?status=active").items.first { $0["amountFen"] == .int(600_000_00) }!["id"]!.stringValue!
            let transfer = #"{"toOrgId":"\#(d.orgs["tier2"]!)","amountFen":100}"#
            let height = await d.height
            #expect(try await call(viewer, .GET, "/api/v1/tokens") == .ok)
            #expect(try await call(viewer, .POST, "/api/v1/tokens/\(token)/transfer", transfer) == .forbidden)
            #expect(try await call(checker, .POST, "/api/v1/tokens/\(token)/transfer", transfer) == .forbidden)
            let (upload, type) = DemoPlatform.uploadBody("contract")
            var uploaded: HTTPResponseStatus = .ok
            try await d.app.testing().test(.POST, "/api/v1/documents", headers: ["Authorization": "Bearer \(viewer)", "Content-Type": type], body: ByteBuffer(string: upload)) { uploaded = $0.status }
            #expect(uploaded == .forbidden)
            #expect(await d.height == height)
            #expect(try await call(maker, .POST, "/api/v1/tokens/\(token)/transfer", transfer) == .created)
            // Only admins manage people; an admin does not change their own role.
            #expect(try await call(maker, .GET, "/api/v1/orgs/\(tier1)/users") == .forbidden)
            #expect(try await call(maker, .POST, "/api/v1/api-keys", #"{"name":"x"}"#) == .forbidden)
            let me = try await d.call("tier1", .GET, "/api/v1/me")["user"]!["id"]!.stringValue!
            #expect(try await d.call("tier1", .PATCH, "/api/v1/orgs/\(tier1)/users/\(me)", #"{"role":"viewer"}"#).status == .forbidden)
            #expect(try await d.call("tier1", .PATCH, "/api/v1/orgs/\(tier1)/users/\(me)", #"{"role":"owner"}"#).code == "validation_failed")
            #expect(try await d.call("tier1", .POST, "/api/v1/orgs/\(tier1)/users", #"{"email":"x@t1.example","name":"x","password":"first-password","role":"member"}"#).code == "validation_failed")
            // Another org's admin does not reach tier 1's people.
            let viewerId = try await d.app.sql.raw("SELECT id FROM users WHERE email = 'viewer@t1.example'").first()!.decode(column: "id", as: String.self)
            #expect(try await d.call("tier2", .PATCH, "/api/v1/orgs/\(tier1)/users/\(viewerId)", #"{"role":"admin"}"#).status == .forbidden)
            #expect(try await d.call("tier1", .PATCH, "/api/v1/orgs/\(tier1)/users/\(viewerId)", #"{"role":"maker"}"#)["role"] == "maker")
            #expect(try await call(viewer, .POST, "/api/v1/tokens/\(token)/transfer", #"{"toOrgId":"\#(d.orgs["tier2"]!)","amountFen":100}"#) != .forbidden)
            #expect(try await audit(d, "user.role").contains { $0.contains("viewer@t1.example: viewer → maker") })
        }
    }

    @Test func theConsoleShowsTheMakerItsApprovalAndTheCheckerItsButtons() async throws {
        try await DemoPlatform.with(fourEyes: true) { d in
            let f = try await Self.request(d)
            let maker = try await ConsoleTests.session(d, "bank")
            let held = try await ConsoleTests.post(d, maker, "/financings/\(f)/approve", [:])
            #expect(held.status == .seeOther)
            let location = try #require(held.headers.first(name: .location))
            #expect(location.hasPrefix("/approvals/") && location.hasSuffix("?done=held"))
            let page = try await ConsoleTests.get(d, maker, location)
            #expect(page.html.contains("bank@cascade.demo") && page.html.contains("id=\"waiting\"") && !page.html.contains("id=\"approve\""))
            let checker = try await ConsoleTests.session(d, "bank-checker")
            // A checker is offered no form that prepares; the maker is.
            #expect(!(try await ConsoleTests.get(d, checker, "/financings").html.contains("class=\"primary approve\"")))
            #expect(!(try await ConsoleTests.get(d, checker, "/credit-lines").html.contains("id=\"grant-form\"")))
            #expect(try await ConsoleTests.get(d, maker, "/credit-lines").html.contains("id=\"grant-form\""))
            let list = try await ConsoleTests.get(d, checker, "/approvals")
            #expect(list.html.contains("¥200,000.00"))
            let path = String(location.prefix { $0 != "?" })
            #expect(try await ConsoleTests.get(d, checker, path).html.contains("id=\"approve\""))
            let noReason = try await ConsoleTests.post(d, checker, "\(path)/reject", ["reason": " "])
            #expect(noReason.status == .unprocessableEntity)
            let done = try await ConsoleTests.post(d, checker, "\(path)/approve", [:])
            #expect(done.headers.first(name: .location) == "\(path)?done=approval_approved")
            #expect(try await d.call("bank", .GET, "/api/v1/financings/\(f)")["status"] == "approved")
            // The rules page: the admin's form; saving a looser rule sends it to the checker.
            let rules = try await ConsoleTests.get(d, maker, "/approval-rules")
            #expect(rules.html.contains("name=\"on_approveFinancing\"") && rules.html.contains("checked"))
            let loosened = try await ConsoleTests.post(d, maker, "/approval-rules", ["on_grantCredit": "on", "min_grantCredit": "0"])
            #expect(loosened.headers.first(name: .location)?.hasSuffix("?done=held") == true)
        }
    }
}
