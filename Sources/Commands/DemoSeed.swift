import Core
import Web
import Foundation
import Ledger
import SQLKit
import Vapor

/// The demo consortium of SPEC §7, built through the same service as every request: each step
/// is a transaction its org signs, so the seeded chain verifies like any other.
enum DemoSeed {
    static let password = "demo-password"
    /// The demo's bank users' TOTP secret (base32), fixed so that people and scripts can sign in.
    static let totpSecret = "CASCADEDEMOTOTPA"

    struct Member {
        var key: String
        var email: String
        var name: String
        var role: OrgRole
        var creditCode: String
    }

    static let members: [Member] = [
        Member(key: "operator", email: "operator@cascade.demo", name: "Cascade 平台运营", role: .operator, creditCode: CreditCode.complete("91310000MA1K00001")!),
        Member(key: "core", email: "core@cascade.demo", name: "华东重工集团", role: .core, creditCode: CreditCode.complete("91320000MA1K00002")!),
        Member(key: "tier1", email: "tier1@cascade.demo", name: "苏州精密部件", role: .supplier, creditCode: CreditCode.complete("91320500MA1K00003")!),
        Member(key: "tier2", email: "tier2@cascade.demo", name: "无锡铸造厂", role: .supplier, creditCode: CreditCode.complete("91320200MA1K00004")!),
        Member(key: "tier3", email: "tier3@cascade.demo", name: "常州五金加工", role: .supplier, creditCode: CreditCode.complete("91320400MA1K00005")!),
        Member(key: "bank", email: "bank@cascade.demo", name: "江南商业银行", role: .bank, creditCode: CreditCode.complete("91320000MA1K00006")!),
        Member(key: "bank2", email: "bank2@cascade.demo", name: "沪上保理", role: .bank, creditCode: CreditCode.complete("91310000MA1K00007")!),
        Member(key: "regulator", email: "regulator@cascade.demo", name: "地方金融监管局", role: .regulator, creditCode: CreditCode.complete("11320000MA1K00008")!),
        Member(key: "core2", email: "core2@cascade.demo", name: "苏南机电集团", role: .core, creditCode: CreditCode.complete("91320500MA1K00009")!),
    ]

    /// How far back the demo's history starts: 苏南机电集团's receivables, one paid on time and one
    /// now overdue, and a default recorded and lifted, all before today.
    static let historyDays: Int64 = 35

    /// The checkers of the two orgs whose operations wait for a second person (四眼原则): 江南商业银行
    /// (every bank action) and 华东重工集团 (issuing from ¥1,000,000.00, and settling). The orgs'
    /// own users above are their admins, who prepare; 沪上保理 keeps single approval.
    static let checkers: [(key: String, email: String, name: String)] = [
        ("bank", "bank-checker@cascade.demo", "江南商业银行 复核岗"),
        ("core", "core-checker@cascade.demo", "华东重工集团 复核岗"),
    ]

    static let issueApprovalFromFen: Int64 = 1_000_000_00

    static func loginTable(url: String) -> String {
        var lines = ["Cascade demo — open \(url) and sign in with any of these (password: \(password))", ""]
        lines.append("  email                     role       org")
        for m in members {
            lines.append("  " + m.email.padding(toLength: 26, withPad: " ", startingAt: 0) + m.role.rawValue.padding(toLength: 11, withPad: " ", startingAt: 0) + m.name)
        }
        lines.append("")
        lines.append("Checkers approve what the admins above prepare at 江南商业银行 (every bank action) and 华东重工集团 (issuing from \(Money.format(issueApprovalFromFen)), settling):")
        for c in checkers {
            lines.append("  " + c.email.padding(toLength: 26, withPad: " ", startingAt: 0) + "checker    " + c.name)
        }
        lines.append("")
        lines.append("Bank users sign in with a second factor too: the TOTP secret \(totpSecret) (base32), in any authenticator app or `oathtool --totp -b \(totpSecret)`.")
        return lines.joined(separator: "\n")
    }

    /// Seeds an empty ledger: the orgs and their admins, two credit lines at different rates,
    /// receivables spread over three tiers, offers waiting in inboxes, one financing paid out,
    /// a 200-day receivable financed with recourse, a term review and its 中登网 filing, and the
    /// first core's early-payment program with a supplier's offer waiting to clear. Before that,
    /// from `historyDays` ago, the second core enterprise's history: a receivable paid on time, a
    /// default recorded and lifted, and a receivable now overdue, so that it issues nothing new.
    static func seed(_ app: Application, sealer: Platform.SealerBox) async throws {
        let clock = app.ledgerClock as? AdjustableClock
        clock?.rewind(days: historyDays)
        let op = members[0]
        let opId = try await Platform.genesis(app, sealer: sealer, name: op.name, creditCode: op.creditCode, email: op.email, password: password)
        let accounts = Accounts(sql: app.sql)
        let now = app.ledgerClock.nowMs()
        var callers: [String: Caller] = [:]
        callers["operator"] = Caller(userId: "", orgId: opId, email: op.email, name: op.name, userRole: .admin, viaAPIKey: false)
        for m in members.dropFirst() {
            let id = OrgID(UUID().uuidString.lowercased())!
            let signer = try await app.keyVault!.createKey(for: id, on: app.sql, nowMs: now)
            _ = try await LedgerService.submit(.registerOrg(RegisterOrgPayload(orgId: id, name: m.name, role: m.role, creditCode: m.creditCode, publicKey: signer.publicKey)),
                                               by: callers["operator"]!, app: app)
            let user = try await accounts.createUser(org: id, email: m.email, name: m.name, role: .admin, password: password, nowMs: now)
            if TwoFactor.required(orgRole: m.role.rawValue, isAdmin: true) {
                _ = try await TwoFactor.enrol(userId: user, email: m.email, secret: Base32.decode(totpSecret)!, confirmed: true, app: app, nowMs: now)
            }
            callers[m.key] = Caller(userId: user, orgId: id, email: m.email, name: m.name, userRole: .admin, viaAPIKey: false)
        }
        func run(_ who: String, _ payload: Payload) async throws -> Outcome {
            try await LedgerService.submit(payload, by: callers[who]!, app: app)
        }
        try await history(of: callers, run: run, clock: clock)
        let today = app.businessDate
        let core = callers["core"]!.orgId, tier1 = callers["tier1"]!.orgId, tier2 = callers["tier2"]!.orgId, tier3 = callers["tier3"]!.orgId
        let line = try await run("bank", .grantCredit(coreId: core, limitFen: 50_000_000_00, rateBps: 350, expiresOn: today.adding(days: 2 * 366))).effects.creditLineId!
        _ = try await run("bank2", .grantCredit(coreId: core, limitFen: 30_000_000_00, rateBps: 420, expiresOn: today.adding(days: 2 * 366)))

        func issue(_ faceFen: Int64, dueIn days: Int64, invoice: String, memo: String) async throws -> TokenID {
            let doc = Document(kind: .invoice, sha256: Hashing.sha256Hex(Array(invoice.utf8)), number: invoice, fileName: "\(invoice).pdf")
            let outcome = try await run("core", .issue(IssuePayload(supplierId: tier1, creditLineId: line, faceFen: faceFen, issueDate: today,
                                                                    dueDate: today.adding(days: days), documents: [doc], memo: memo)))
            return outcome.effects.createdTokens[0]
        }
        // 1: ¥1,000,000.00 over three tiers.
        let first = try await issue(1_000_000_00, dueIn: 90, invoice: "INV-2026-0001", memo: "齿轮箱壳体 第一批")
        _ = try await run("tier1", .accept(tokenId: first))
        let toTier2 = try await run("tier1", .transfer(tokenId: first, toOrgId: tier2, amountFen: 400_000_00, memo: "铸件货款"))
        _ = try await run("tier2", .accept(tokenId: toTier2.effects.createdTokens[0]))
        let toTier3 = try await run("tier2", .transfer(tokenId: toTier2.effects.createdTokens[0], toOrgId: tier3, amountFen: 150_000_00, memo: "五金件货款"))
        let tier3Piece = toTier3.effects.createdTokens[0]
        _ = try await run("tier3", .accept(tokenId: tier3Piece))
        // 2: ¥500,000.00, split by the first supplier, one piece financed and paid out.
        let second = try await issue(500_000_00, dueIn: 60, invoice: "INV-2026-0002", memo: "液压阀组")
        _ = try await run("tier1", .accept(tokenId: second))
        let pieces = try await run("tier1", .split(tokenId: second, amountsFen: [200_000_00, 300_000_00])).effects.createdTokens
        let request = try await run("tier1", .requestFinancing(tokenId: pieces[0], bankId: callers["bank"]!.orgId))
        let financing = request.effects.financingIds[0]
        _ = try await run("bank", .approveFinancing(financingId: financing, filing: Filing(number: "0457-2026-000801", filedOn: today)))
        _ = try await run("bank", .confirmPayout(financingId: financing, reference: "CNAPS-DEMO-0001"))
        // 3: offers waiting: a new receivable in the first supplier's inbox, a payment in the second's.
        _ = try await issue(250_000_00, dueIn: 120, invoice: "INV-2026-0003", memo: "电机支架")
        _ = try await run("tier1", .transfer(tokenId: pieces[1], toOrgId: tier2, amountFen: 80_000_00, memo: "模具费"))
        // 4: a 200-day receivable (77号: more than six months needs the bank's term review),
        // financed with recourse at 沪上保理, with the review and the 中登网 filing on the approval.
        let longTerm = try await issue(2_000_000_00, dueIn: 200, invoice: "INV-2026-0004", memo: "大型压力机 整机")
        _ = try await run("tier1", .accept(tokenId: longTerm))
        let longRequest = try await run("tier1", .requestFinancing(tokenId: longTerm, bankId: callers["bank2"]!.orgId, recourse: true))
        _ = try await run("bank2", .approveFinancing(financingId: longRequest.effects.financingIds[0],
                                                      filing: Filing(number: "0457-2026-000802", filedOn: today),
                                                      termReview: "大型装备交付验收周期长，已核验购销合同与分批验收单"))
        try await fourEyes(app, orgs: callers.mapValues(\.orgId), nowMs: now)
        // 5: 华东重工集团's early-payment program, and 常州五金加工 (the third tier) naming its rate
        // for its ¥150,000.00 piece: 7.20%, above the 6.00% hurdle, waiting for the day's clearing.
        try await EarlyPaymentQueries.save(earlyPaymentProgram, of: core, by: callers["core"]!.email, nowMs: now, on: app.sql)
        _ = try await run("tier3", .requestEarlyPayment(tokenId: tier3Piece, rateBps: 720))
    }

    /// 华东重工集团's program: 6.00% at least, ¥500,000.00 a business day, clearing at 15:00.
    static let earlyPaymentProgram = EarlyPaymentProgram(active: true, hurdleBps: 600, dailyBudgetFen: 500_000_00, cutoffTime: "15:00")

    /// 苏南机电集团's history, from `historyDays` ago to today: a line from 江南商业银行; a
    /// receivable paid on its due date; a default the operator recorded (a bond) and lifted; and a
    /// receivable unpaid since ten days ago, overdue now. The clock ends at the present.
    static func history(of callers: [String: Caller], run: (String, Payload) async throws -> Outcome, clock: AdjustableClock?) async throws {
        guard let clock else { return }
        let start = BusinessDate(epochMs: clock.nowMs())
        let core2 = callers["core2"]!.orgId, tier1 = callers["tier1"]!.orgId
        let line = try await run("bank", .grantCredit(coreId: core2, limitFen: 10_000_000_00, rateBps: 450, expiresOn: start.adding(days: 2 * 366))).effects.creditLineId!
        func issue(_ faceFen: Int64, dueIn days: Int64, invoice: String, memo: String) async throws -> (TxID, TokenID) {
            let doc = Document(kind: .invoice, sha256: Hashing.sha256Hex(Array(invoice.utf8)), number: invoice, fileName: "\(invoice).pdf")
            let outcome = try await run("core2", .issue(IssuePayload(supplierId: tier1, creditLineId: line, faceFen: faceFen, issueDate: start,
                                                                     dueDate: start.adding(days: days), documents: [doc], memo: memo)))
            _ = try await run("tier1", .accept(tokenId: outcome.effects.createdTokens[0]))
            return (outcome.effects.transactionId, outcome.effects.createdTokens[0])
        }
        let (paid, paidToken) = try await issue(80_000_00, dueIn: 5, invoice: "INV-SN-2026-0101", memo: "控制柜 首批")
        let (late, _) = try await issue(120_000_00, dueIn: historyDays - 10, invoice: "INV-SN-2026-0102", memo: "伺服电机")
        try clock.move(to: start.adding(days: 5))
        _ = try await run("core2", .settle(receivableId: paid, tokenIds: [paidToken], reference: "CNAPS-SN-0001"))
        try clock.move(to: start.adding(days: 10))
        _ = try await run("operator", .recordDefault(orgId: core2, inDefault: true, reason: "2026 年度第一期中期票据未按期兑付"))
        try clock.move(to: start.adding(days: 12))
        _ = try await run("operator", .recordDefault(orgId: core2, inDefault: false, reason: "票据本息已兑付，解除违约记录"))
        clock.catchUp(to: clock.nowMs() + (historyDays - 12) * 86_400_000)
        _ = try await run("operator", .markOverdue(receivableId: late))
    }

    /// The checkers, and which operations wait for them: 江南商业银行's every bank action (a new
    /// bank's rules), 华东重工集团's issues from ¥1,000,000.00 and its settlements; 沪上保理 none.
    static func fourEyes(_ app: Application, orgs: [String: OrgID], nowMs: Int64) async throws {
        let accounts = Accounts(sql: app.sql)
        for c in checkers {
            let user = try await accounts.createUser(org: orgs[c.key]!, email: c.email, name: c.name, role: .checker, password: password, nowMs: nowMs)
            if c.key == "bank" {
                _ = try await TwoFactor.enrol(userId: user, email: c.email, secret: Base32.decode(totpSecret)!, confirmed: true, app: app, nowMs: nowMs)
            }
        }
        try await ApprovalRecords.replaceRules(orgs["bank"]!, with: ApprovalRules.defaults(for: .bank), on: app.db)
        try await ApprovalRecords.replaceRules(orgs["core"]!, with: [ApprovalRule(action: .issue, minAmountFen: issueApprovalFromFen),
                                                              ApprovalRule(action: .settle, minAmountFen: 0)], on: app.db)
    }
}
