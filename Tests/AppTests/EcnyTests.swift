import Crypto
import Foundation
import Ledger
import SQLKit
import Testing
import VaporTesting

@testable import Core
@testable import Web
@testable import Commands

/// The e-CNY rail against the wallet sandbox, in this process: every request sealed and signed as
/// over HTTP, callbacks delivered into the platform's own route, faults as the sandbox injects them.
@Suite struct EcnyTests {
    /// The sandbox, its wallets for the bank and tier 1, and the platform connected to it.
    static func connect(_ d: DemoPlatform, faults: WalletSandbox.Faults = WalletSandbox.Faults(settleMs: 0), bankBalance: Int64 = 5_000_000_00,
                        loseAnswers: LockedFlag = LockedFlag(false), refuse: (@Sendable (_ paymentId: String) -> Bool)? = nil,
                        secondFactorFromFen: Int64? = nil) async throws -> WalletSandbox {
        let secret = SymmetricKey(size: .bits256), signer = Curve25519.Signing.PrivateKey()
        let wire = WalletWire(secret: secret)
        let app = d.app
        let publicKey = Array(signer.publicKey.rawRepresentation)
        let sandbox = WalletSandbox(wire: wire, signingKey: Array(signer.rawRepresentation), faults: faults, seed: 20261201) { _, headers, body in
            try? await app.testing().test(.POST, "/api/v1/rails/ecny/callbacks", headers: headers, body: ByteBuffer(bytes: body)) { _ in }
        }
        d.teardown.add { await sandbox.stop() }
        let lose = loseAnswers
        d.app.rails["ecny"] = EcnyRail(wire: wire, callbackKey: publicKey, callbackURL: "http://platform.test/api/v1/rails/ecny/callbacks",
                                       transport: { method, path, headers, body in
                                           // The request never reaches the service (a dropped connection).
                                           if method == .POST, path == "/v1/payments", let refuse, let id = wire.open(body)?["paymentId"]?.stringValue, refuse(id) {
                                               throw EcnyRail.Unreachable(description: "the connection dropped")
                                           }
                                           let answer = await sandbox.respond(method, path, headers, body)
                                           // The request reached the service; its answer is lost on the way back.
                                           if method == .POST, lose.value { throw EcnyRail.Unreachable(description: "the answer was lost") }
                                           return answer
                                       }, clock: { Int64(Date().timeIntervalSince1970 * 1000) }, secondFactorFromFen: secondFactorFromFen)
        await sandbox.addWallet("W-BANK", name: "江南商业银行", balanceFen: bankBalance)
        await sandbox.addWallet("W-TIER1", name: "苏州精密部件", balanceFen: 0)
        #expect(try await d.call("bank", .PUT, "/api/v1/orgs/\(d.orgs["bank"]!)/payment-accounts/ecny", #"{"account":"W-BANK","accountName":"江南商业银行"}"#).status == .ok)
        #expect(try await d.call("tier1", .PUT, "/api/v1/orgs/\(d.orgs["tier1"]!)/payment-accounts/ecny", #"{"account":"W-TIER1","accountName":"苏州精密部件"}"#).status == .ok)
        return sandbox
    }

    final class LockedFlag: @unchecked Sendable {
        private let lock = NSLock()
        private var flag: Bool
        init(_ v: Bool) { flag = v }
        var value: Bool { get { lock.withLock { flag } } set { lock.withLock { flag = newValue } } }
    }

    /// Polls until `condition` holds, for at most ten seconds: the sandbox settles and calls back on its own.
    static func eventually(_ what: String, _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        Issue.record("not within 10 s: \(what)")
    }

    @Test func anApprovedFinancingIsPaidOutFromTheBanksWalletAndRecordedOnItsCallback() async throws {
        try await DemoPlatform.with { d in
            let sandbox = try await Self.connect(d)
            let f = try await ApprovalTests.request(d)
            let approved = try await d.call("bank", .POST, "/api/v1/financings/\(f)/approve")
            #expect(approved.status == .ok, "\(approved.json)")
            let payout = approved["financing"]!["payoutFen"]!.intValue!
            try await Self.eventually("the financing is paid") { try await d.call("bank", .GET, "/api/v1/financings/\(f)")["status"] == "paid" }
            let payment = try await d.call("tier1", .GET, "/api/v1/payments?financingId=\(f)").items[0]
            #expect(payment["rail"] == "ecny" && payment["status"] == "settled" && payment["reference"]?.stringValue?.hasPrefix("ECNY") == true)
            #expect(await sandbox.balance("W-BANK") == 5_000_000_00 - payout)
            #expect(await sandbox.balance("W-TIER1") == payout)
            // Settled, the payment no longer holds any of the wallet.
            #expect(try await Self.held(d) == 0)
            #expect(try await d.chainAgrees())
        }
    }

    static func held(_ d: DemoPlatform) async throws -> Int64 {
        try await BalanceHolds.held(in: "W-BANK", rail: "ecny", except: [], on: d.app.sql)
    }

    /// A balance check reserves what it checked until the payment settles or fails: two payouts
    /// approved at once, each within the wallet's balance and together beyond it, cannot both
    /// pass; one is approved and paid, the other refused before anything is signed, saying what
    /// is reserved. A refused approval reserves nothing.
    @Test func twoPayoutsCannotBothPassOnOneBalance() async throws {
        try await DemoPlatform.with { d in
            // Payments settle after a minute: the first is on its way while the second is checked.
            let first = try await ApprovalTests.request(d), second = try await ApprovalTests.request(d)
            let payout = try await d.call("bank", .GET, "/api/v1/financings/\(first)")["payoutFen"]!.intValue!
            #expect(try await d.call("bank", .GET, "/api/v1/financings/\(second)")["payoutFen"]!.intValue! == payout)
            let sandbox = try await Self.connect(d, faults: WalletSandbox.Faults(settleMs: 60_000), bankBalance: 2 * payout - 1)
            let height = await d.height
            async let a = d.call("bank", .POST, "/api/v1/financings/\(first)/approve")
            async let b = d.call("bank", .POST, "/api/v1/financings/\(second)/approve")
            let answers = try await [a, b]
            #expect(answers.filter { $0.status == .ok }.count == 1, "\(answers.map(\.json))")
            let refused = try #require(answers.first { $0.status != .ok })
            #expect(refused.status == .conflict && refused.code == "insufficient_balance", "\(refused.json)")
            #expect(refused["detail"]?.stringValue?.contains("reserved for payments on their way") == true, "\(refused.json)")
            #expect(await d.height == height + 1)
            #expect(try await Self.held(d) == payout)
            let (winner, loser) = answers[0].status == .ok ? (first, second) : (second, first)
            let instructed = try await d.call("bank", .GET, "/api/v1/payments?financingId=\(winner)").items
            #expect(instructed.count == 1 && instructed.first?["status"] == "accepted", "\(instructed)")
            #expect(try await d.call("bank", .GET, "/api/v1/payments?financingId=\(loser)").items.isEmpty)
            // Asked again, it is refused again while the first is on its way, and holds nothing.
            #expect(try await d.call("bank", .POST, "/api/v1/financings/\(loser)/approve").code == "insufficient_balance")
            #expect(try await Self.held(d) == payout)
            // The first settles: its reservation is released, and the wallet's balance alone decides.
            await sandbox.settle(instructed[0]["id"]!.stringValue!)
            try await Self.eventually("the first financing is paid") { try await d.call("bank", .GET, "/api/v1/financings/\(winner)")["status"] == "paid" }
            #expect(try await Self.held(d) == 0)
            let short = try await d.call("bank", .POST, "/api/v1/financings/\(loser)/approve")
            #expect(short.code == "insufficient_balance" && short["detail"]?.stringValue?.contains("reserved") == false, "\(short.json)")
        }
    }

    /// Both rails connected, the bank and the supplier on both: the bank's choice decides.
    @Test func theBankChoosesTheRailItPaysBy() async throws {
        try await DemoPlatform.with { d in
            _ = try await Self.connect(d)
            let outbox = FileManager.default.temporaryDirectory.appendingPathComponent("cascade-outbox-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: outbox) }
            d.app.rails["bank"] = BankTransferRail(outbox: outbox.path, inbox: nil, keep: nil)
            try await PaymentTests.connect(d)
            let bank = d.orgs["bank"]!, path = "/api/v1/orgs/\(bank)/payment-rail"
            func rail(of f: String) async throws -> JSON? { try await d.call("bank", .GET, "/api/v1/payments?financingId=\(f)").items.first?["rail"] }
            for bad in [#"{}"#, #"{"rail":"cash"}"#, #"{"rail":1}"#, #"{"rail":"bank","extra":1}"#, #"{"rail":"bank\u0000"}"#] {
                #expect(try await d.call("bank", .PUT, path, bad).status == .unprocessableEntity, "\(bad)")
            }
            #expect(try await d.call("tier1", .PUT, path, #"{"rail":"manual"}"#).status == .forbidden)
            #expect(try await d.call("regulator", .PUT, path, #"{"rail":"manual"}"#).status == .forbidden)
            #expect(try await d.call("bank", .GET, "/api/v1/orgs/\(bank)/payment-accounts")["paysBy"] == .null)

            // No choice: e-CNY, where both have wallets.
            let f1 = try await ApprovalTests.request(d, fen: 50_000_00)
            #expect(try await d.call("bank", .POST, "/api/v1/financings/\(f1)/approve").status == .ok)
            #expect(try await rail(of: f1) == "ecny")

            // The bank chooses bank transfers: the next payout is a pain.001 in the outbox.
            let chosen = try await d.call("bank", .PUT, path, #"{"rail":"bank"}"#)
            #expect(chosen.status == .ok && chosen["paysBy"] == "bank", "\(chosen.json)")
            #expect(try await d.call("bank", .GET, "/api/v1/orgs/\(bank)/payment-accounts")["paysBy"] == "bank")
            let f2 = try await ApprovalTests.request(d, fen: 50_000_00)
            #expect(try await d.call("bank", .POST, "/api/v1/financings/\(f2)/approve").status == .ok)
            #expect(try await rail(of: f2) == "bank")
            #expect(try FileManager.default.contentsOfDirectory(atPath: outbox.path).contains { $0.hasSuffix(".xml") })

            // By hand: nothing is instructed, and the clerk confirms with the bank's reference.
            #expect(try await d.call("bank", .PUT, path, #"{"rail":"manual"}"#)["paysBy"] == "manual")
            let f3 = try await ApprovalTests.request(d, fen: 50_000_00)
            #expect(try await d.call("bank", .POST, "/api/v1/financings/\(f3)/approve").status == .ok)
            #expect(try await rail(of: f3) == nil)
            #expect(try await d.call("bank", .POST, "/api/v1/financings/\(f3)/confirm-payout", #"{"reference":"HAND-0001"}"#).status == .ok)
            #expect(try await d.call("bank", .GET, "/api/v1/financings/\(f3)")["status"] == "paid")

            // Back to no choice; each change is audited.
            #expect(try await d.call("bank", .PUT, path, #"{"rail":null}"#)["paysBy"] == .null)
            let audited = try await d.app.sql.raw("SELECT detail FROM audit_log WHERE action = 'payment.rail' ORDER BY seq").all().map { try $0.decode(column: "detail", as: String.self) }
            #expect(audited == ["pays by either rail → bank", "pays by bank → manual", "pays by manual → either rail"])
            #expect(try await d.chainAgrees())
        }
    }

    @Test func aShortBalanceRefusesTheApprovalBeforeAnythingIsSigned() async throws {
        try await DemoPlatform.with { d in
            _ = try await Self.connect(d, bankBalance: 1)
            let f = try await ApprovalTests.request(d)
            let height = await d.height
            let refused = try await d.call("bank", .POST, "/api/v1/financings/\(f)/approve")
            #expect(refused.status == .conflict && refused.code == "insufficient_balance", "\(refused.json)")
            #expect(refused["detail"]?.stringValue?.contains("W-BANK") == true)
            #expect(await d.height == height)
            #expect(try await d.call("bank", .GET, "/api/v1/payments?financingId=\(f)").items.isEmpty)
        }
    }

    /// Sixty approvals at once, five for each of twelve financings, on a wallet that holds five
    /// payouts and a half: five financings are approved and paid, every other request is refused
    /// (the financing approved already, or the balance reserved), none with a 5xx. A request
    /// refused because another approved the same financing leaves that payout's reservation alone.
    @Test func sixtyApprovalsAtOnceNeverReserveMoreThanTheWalletHolds() async throws {
        try await DemoPlatform.with { d in
            var financings: [String] = []
            for _ in 0..<12 { financings.append(try await ApprovalTests.request(d, fen: 10_000_00)) }
            let payout = try await d.call("bank", .GET, "/api/v1/financings/\(financings[0])")["payoutFen"]!.intValue!
            _ = try await Self.connect(d, faults: WalletSandbox.Faults(settleMs: 60_000), bankBalance: 5 * payout + payout / 2)
            let answers = try await withThrowingTaskGroup(of: (String, DemoPlatform.Answer).self) { group in
                for f in financings {
                    for _ in 0..<5 { group.addTask { (f, try await d.call("bank", .POST, "/api/v1/financings/\(f)/approve")) } }
                }
                return try await group.reduce(into: [(String, DemoPlatform.Answer)]()) { $0.append($1) }
            }
            #expect(Set(answers.filter { $0.1.status == .ok }.map(\.0)).count == 5)
            #expect(answers.filter { $0.1.status == .ok }.count == 5)
            #expect(answers.allSatisfy { $0.1.status == .ok || ($0.1.status == .conflict && ["financing_not_open", "insufficient_balance"].contains($0.1.code)) },
                    "\(answers.filter { $0.1.status != .ok }.map { "\($0.1.status.code) \($0.1.code ?? "")" })")
            #expect(try await Self.held(d) == 5 * payout)
            #expect(try await d.chainAgrees())
        }
    }

    @Test func aLargePayoutNeedsTheApproversSecondFactor() async throws {
        try await DemoPlatform.with { d in
            _ = try await Self.connect(d, secondFactorFromFen: 1)
            let f = try await ApprovalTests.request(d)
            #expect(try await d.call("bank", .POST, "/api/v1/financings/\(f)/approve").code == "otp_required")
            #expect(try await d.call("bank", .POST, "/api/v1/financings/\(f)/approve", #"{"otp":"000000"}"#).code == "unauthorized")
            let code = TOTP.code(secret: Base32.decode(DemoSeed.totpSecret)!, step: TOTP.step(at: d.clock.nowMs() / 1000))
            let approved = try await d.call("bank", .POST, "/api/v1/financings/\(f)/approve", #"{"otp":"\#(code)"}"#)
            #expect(approved.status == .ok, "\(approved.json)")
            // The code works once.
            let g = try await ApprovalTests.request(d)
            #expect(try await d.call("bank", .POST, "/api/v1/financings/\(g)/approve", #"{"otp":"\#(code)"}"#).code == "unauthorized")
        }
    }

    @Test func duplicatedLateAndLostAnswersPayOnceAndForgetNothing() async throws {
        try await DemoPlatform.with { d in
            var faults = WalletSandbox.Faults(settleMs: 600_000)  // settled below, by hand
            faults.duplicateRate = 1; faults.reorderRate = 1
            let lose = LockedFlag(true)
            let sandbox = try await Self.connect(d, faults: faults, loseAnswers: lose)
            let f = try await ApprovalTests.request(d)
            // The payment reaches the service, its answer is lost: the approval stands, the payment waits.
            #expect(try await d.call("bank", .POST, "/api/v1/financings/\(f)/approve").status == .ok)
            let payment = try await d.call("bank", .GET, "/api/v1/payments?financingId=\(f)").items[0]
            let id = payment["id"]!.stringValue!, payout = payment["amountFen"]!.intValue!
            #expect(payment["status"] == "instructed")
            // The sweep hands the message over again, its answer lost again: the service knows the
            // id and pays nothing twice; asked what became of it, it says accepted.
            try await PaymentService.sweep(d.app)
            #expect(try await Self.undelivered(d) == 1)
            #expect(await sandbox.payment(id)?.status == "accepted")
            #expect(try await d.call("bank", .GET, "/api/v1/payments/\(id)")["status"] == "accepted")
            // Answered now, the payment is not asked for again: the message is done.
            lose.value = false
            try await PaymentService.sweep(d.app)
            #expect(try await Self.undelivered(d) == 0)
            // Its callbacks come, twice, and a stale "accepted" after: it settles once.
            await sandbox.settle(id)
            try await Self.eventually("the financing is paid") { try await d.call("bank", .GET, "/api/v1/financings/\(f)")["status"] == "paid" }
            let height = await d.height
            try await PaymentService.sweep(d.app)
            try await PaymentService.sweep(d.app)
            #expect(await d.height == height)
            #expect(await sandbox.balance("W-TIER1") == payout)
            let shown = try await d.call("bank", .GET, "/api/v1/payments/\(id)")
            #expect(shown["status"] == "settled")
            #expect(shown["history"]?.arrayValue?.filter { $0["status"] == "settled" && $0["source"] == "ecny" }.count == 1)
            #expect(try await d.chainAgrees())
        }
    }

    static func undelivered(_ d: DemoPlatform) async throws -> Int {
        try await d.app.sql.raw("SELECT COUNT(*) AS n FROM rail_messages WHERE rail = 'ecny' AND direction = 'out' AND delivered_ms IS NULL").first()!.decode(column: "n", as: Int.self)
    }

    /// Wallets on the sandbox for the core and every holder of the first receivable due on
    /// 2026-11-30, and the clock at its maturity; its id.
    static func readyToSettle(_ d: DemoPlatform, _ sandbox: WalletSandbox) async throws -> String {
        await sandbox.addWallet("W-CORE", name: "华东重工集团", balanceFen: 2_000_000_00)
        for who in ["core", "tier2", "tier3"] {
            if who != "core" { await sandbox.addWallet("W-\(who.uppercased())", name: who, balanceFen: 0) }
            #expect(try await d.call(who, .PUT, "/api/v1/orgs/\(d.orgs[who]!)/payment-accounts/ecny", #"{"account":"W-\#(who.uppercased())","accountName":"\#(who)"}"#).status == .ok)
        }
        let first = try await d.call("core", .GET, "/api/v1/receivables?status=active").items.first { $0["faceFen"] == .int(1_000_000_00) && $0["dueDate"] == "2026-11-30" }!
        _ = try await d.call("operator", .POST, "/api/v1/admin/clock", #"{"today":"2026-11-30"}"#)
        return first["id"]!.stringValue!
    }

    /// A message handed over again asks only for the payments the service has not answered: one
    /// refused now and then does not make the others be asked again (a settlement to hundreds of
    /// holders, each payment refused one time in five, was asked whole on every sweep and never
    /// done). The payments are refused 0, 1 and 2 times before they reach the service.
    @Test func aMessageHandedOverAgainAsksOnlyForThePaymentsNotYetAnswered() async throws {
        final class Asked: @unchecked Sendable {
            let lock = NSLock()
            var times: [String: Int] = [:], refusals: [String: Int] = [:]
            /// Whether this request for `id` is refused: the n-th payment seen is refused n times.
            func refuse(_ id: String) -> Bool {
                lock.withLock {
                    if refusals[id] == nil { refusals[id] = refusals.count }
                    times[id, default: 0] += 1
                    return times[id]! <= refusals[id]!
                }
            }
        }
        try await DemoPlatform.with { d in
            let asked = Asked()
            let sandbox = try await Self.connect(d, refuse: { asked.refuse($0) })
            let rid = try await Self.readyToSettle(d, sandbox)
            let settled = try await d.call("core", .POST, "/api/v1/receivables/\(rid)/settle", #"{"reference":"SETTLE-AGAIN-1"}"#)
            #expect(settled.status == .accepted, "\(settled.json)")
            #expect(try await Self.undelivered(d) == 1)
            try await PaymentService.sweep(d.app)
            #expect(try await Self.undelivered(d) == 1)
            try await PaymentService.sweep(d.app)
            #expect(try await Self.undelivered(d) == 0)
            // Each payment asked until the service answered it, and never after.
            #expect(asked.lock.withLock { asked.times.keys.sorted().map { asked.times[$0]! - asked.refusals[$0]! } } == [1, 1, 1])
            #expect(asked.lock.withLock { asked.times.values.sorted() } == [1, 2, 3])
            try await Self.eventually("the receivable is settled") { try await d.call("core", .GET, "/api/v1/receivables/\(rid)")["status"] == "settled" }
            #expect(await sandbox.balance("W-CORE") == 1_000_000_00)
            #expect(try await d.chainAgrees())
        }
    }

    /// A settlement whose payments reached the wallet service but whose answers were lost: the
    /// core's answer shows its payments (never a 500), the sweep hands the message over again, and
    /// every piece is paid and settled once.
    @Test func aSettlementWhoseAnswerIsLostIsAnsweredAndPaidOnce() async throws {
        try await DemoPlatform.with { d in
            let lose = LockedFlag(false)
            let sandbox = try await Self.connect(d, loseAnswers: lose)
            let rid = try await Self.readyToSettle(d, sandbox)
            lose.value = true
            let settled = try await d.call("core", .POST, "/api/v1/receivables/\(rid)/settle", #"{"reference":"SETTLE-LOST-1"}"#)
            #expect(settled.status == .accepted, "\(settled.json)")
            // Each payment stored and instructed; a callback may have overtaken the answer.
            #expect(settled["payments"]?.arrayValue?.count == 3, "\(settled.json)")
            #expect(settled["payments"]?.arrayValue?.allSatisfy { ["instructed", "accepted", "settled"].contains($0["status"]?.stringValue ?? "") } == true, "\(settled.json)")
            // Every payment reached the service, its answer lost: the message waits for the sweep.
            lose.value = false
            try await PaymentService.sweep(d.app)
            try await Self.eventually("the receivable is settled") { try await d.call("core", .GET, "/api/v1/receivables/\(rid)")["status"] == "settled" }
            let height = await d.height
            try await PaymentService.sweep(d.app)
            try await PaymentService.sweep(d.app)
            #expect(await d.height == height)
            #expect(await sandbox.balance("W-CORE") == 1_000_000_00)
            #expect(try await Self.undelivered(d) == 0)
            #expect(try await d.chainAgrees())
        }
    }

    /// The wallet service refuses a payment (the supplier's wallet is not known there): the payment
    /// fails with the service's reason, the financing stays approved and unpaid, and once the
    /// supplier has put its real wallet in, the bank pays it again and it arrives.
    @Test func aPaymentTheWalletServiceRefusesFailsWithItsReasonAndIsPaidAgain() async throws {
        try await DemoPlatform.with { d in
            let sandbox = try await Self.connect(d)
            #expect(try await d.call("tier1", .PUT, "/api/v1/orgs/\(d.orgs["tier1"]!)/payment-accounts/ecny", #"{"account":"W-GONE","accountName":"苏州精密部件"}"#).status == .ok)
            let f = try await ApprovalTests.request(d)
            #expect(try await d.call("bank", .POST, "/api/v1/financings/\(f)/approve").status == .ok)
            let failed = try await d.call("bank", .GET, "/api/v1/payments?financingId=\(f)").items[0]
            #expect(failed["status"] == "failed" && failed["reason"] == "unknown_payee", "\(failed)")
            // Failed, it no longer holds any of the wallet.
            #expect(try await Self.held(d) == 0)
            #expect(try await d.call("bank", .GET, "/api/v1/payments?status=failed").items.count == 1)
            #expect(try await d.call("bank", .GET, "/api/v1/financings/\(f)")["status"] == "approved")
            #expect(await sandbox.balance("W-BANK") == 5_000_000_00)
            // The day's reconciliation shows it failed; nothing is missing from the ledger.
            let report = try await d.call("bank", .GET, "/api/v1/reconciliation")
            #expect(report["rail"]?["failed"]?["count"] == 1 && report["balanced"] == true, "\(report.json)")
            #expect(try await d.call("tier1", .PUT, "/api/v1/orgs/\(d.orgs["tier1"]!)/payment-accounts/ecny", #"{"account":"W-TIER1","accountName":"苏州精密部件"}"#).status == .ok)
            let again = try await d.call("bank", .POST, "/api/v1/payments/\(failed["id"]!.stringValue!)/retry")
            #expect(again.status == .created, "\(again.json)")
            try await Self.eventually("the financing is paid") { try await d.call("bank", .GET, "/api/v1/financings/\(f)")["status"] == "paid" }
            let payout = again["amountFen"]!.intValue!
            #expect(await sandbox.balance("W-TIER1") == payout)
            #expect(await sandbox.balance("W-BANK") == 5_000_000_00 - payout)
            #expect(try await d.chainAgrees())
        }
    }

    @Test func aCallbackThatDoesNotVerifyIsRefusedLoggedAndChangesNothing() async throws {
        try await DemoPlatform.with { d in
            _ = try await Self.connect(d, faults: WalletSandbox.Faults(settleMs: 60_000))
            let f = try await ApprovalTests.request(d)
            _ = try await d.call("bank", .POST, "/api/v1/financings/\(f)/approve")
            let payment = try await d.call("bank", .GET, "/api/v1/payments?financingId=\(f)").items[0]
            // A forger with the onboarding secret but not the service's signing key.
            let rail = try #require(d.app.rails["ecny"] as? EcnyRail)
            let body = try rail.wire.seal(["paymentId": payment["id"]!, "amountFen": payment["amountFen"]!, "status": "settled", "reference": "FORGED"])
            let forger = Curve25519.Signing.PrivateKey()
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            let signature = Base64.encode(Array(try forger.signature(for: WalletWire.callbackMaterial(timestamp: now, body: body))))
            var status: HTTPResponseStatus = .ok
            try await d.app.testing().test(.POST, "/api/v1/rails/ecny/callbacks", headers: ["X-Wallet-Timestamp": String(now), "X-Wallet-Signature": signature, "Content-Type": "application/json"],
                                           body: ByteBuffer(bytes: body)) { status = $0.status }
            #expect(status == .unauthorized)
            try await d.app.testing().test(.POST, "/api/v1/rails/ecny/callbacks", body: ByteBuffer(string: "{}")) { status = $0.status }
            #expect(status == .unprocessableEntity)
            #expect(try await d.call("bank", .GET, "/api/v1/payments/\(payment["id"]!.stringValue!)")["status"] == "accepted")
            #expect(try await d.app.sql.raw("SELECT COUNT(*) AS n FROM audit_log WHERE action = 'rail.callback.refused'").first()!.decode(column: "n", as: Int.self) == 1)
        }
    }
}
