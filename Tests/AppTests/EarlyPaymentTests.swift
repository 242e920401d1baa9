import Foundation
import Ledger
import SQLKit
import Testing
import VaporTesting

@testable import Commands
@testable import Core
@testable import Web

/// Early payment from the core's own cash, through the API: the program, the daily market, the
/// supplier's offers and their refusals, clearing (once, however many ask at once), and the
/// payment on the core's rail.
@Suite struct EarlyPaymentTests {
    // MARK: - The market, as one pure function

    static func offer(_ n: Int, _ rate: Int64, _ payout: Int64, place: Int64? = nil, _ status: EarlyPaymentStatus = .requested) -> EarlyPaymentMarket.Offer {
        EarlyPaymentMarket.Offer(id: TxID(String(repeating: String(n % 10), count: 64))!, rateBps: rate, payoutFen: payout, place: place ?? Int64(n), status: status)
    }

    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var offers: [EarlyPaymentMarket.Offer]
        var hurdle: Int64
        var budget: Int64
        /// The offers taken, by their number, in order.
        var taken: [Int]
        var rate: Int64?
        var left: Int64
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "the highest rate first, whole offers", offers: [offer(1, 600, 100), offer(2, 900, 200), offer(3, 750, 300)],
             hurdle: 600, budget: 10_000, taken: [2, 3, 1], rate: 600, left: 9_400),
        Case(name: "the budget ends between two offers: the next is not taken, nor any after it",
             offers: [offer(1, 900, 400), offer(2, 800, 400), offer(3, 700, 100)], hurdle: 600, budget: 700, taken: [1], rate: 900, left: 300),
        Case(name: "an offer exactly covered by what is left is taken", offers: [offer(1, 900, 400), offer(2, 800, 300)],
             hurdle: 600, budget: 700, taken: [1, 2], rate: 800, left: 0),
        Case(name: "an offer below the hurdle is never taken", offers: [offer(1, 599, 10), offer(2, 600, 10)],
             hurdle: 600, budget: 1_000, taken: [2], rate: 600, left: 990),
        Case(name: "equal rates: the earlier request first", offers: [offer(1, 700, 50, place: 9_000_001), offer(2, 700, 50, place: 3_000_002), offer(3, 700, 50, place: 3_000_001)],
             hurdle: 600, budget: 100, taken: [3, 2], rate: 700, left: 0),
        Case(name: "a budget of 0 takes nothing", offers: [offer(1, 10_000, 1)], hurdle: 1, budget: 0, taken: [], rate: nil, left: 0),
        Case(name: "offers no longer requested (on tokens moved, settled or withdrawn since) are passed over",
             offers: [offer(1, 900, 10, .approved), offer(2, 850, 10, .cancelled), offer(3, 800, 10, .paid), offer(4, 700, 10)],
             hurdle: 600, budget: 1_000, taken: [4], rate: 700, left: 990),
        Case(name: "no offers", offers: [], hurdle: 600, budget: 1_000, taken: [], rate: nil, left: 1_000),
    ]

    @Test(arguments: cases) func theMarketClears(_ c: Case) {
        let cleared = EarlyPaymentMarket.clear(c.offers, hurdleBps: c.hurdle, budgetLeftFen: c.budget)
        #expect(cleared.taken.map(\.id) == c.taken.map { Self.offer($0, 0, 0).id })
        #expect(cleared.clearingRateBps == c.rate)
        #expect(cleared.budgetLeftFen == c.left)
        #expect(cleared.spentFen + cleared.budgetLeftFen == max(0, c.budget))
    }

    /// Two clearings on one day: the second sees the first's offers taken and only what is left
    /// of the budget, and takes a later offer only within it.
    @Test func twoClearingsOnOneDay() {
        var offers = [Self.offer(1, 900, 400), Self.offer(2, 800, 400)]
        let first = EarlyPaymentMarket.clear(offers, hurdleBps: 600, budgetLeftFen: 1_000)
        #expect(first.taken.map(\.rateBps) == [900, 800] && first.budgetLeftFen == 200)
        for i in offers.indices { offers[i].status = .approved }
        offers += [Self.offer(3, 950, 300), Self.offer(4, 650, 150)]
        let second = EarlyPaymentMarket.clear(offers, hurdleBps: 600, budgetLeftFen: first.budgetLeftFen)
        #expect(second.taken.isEmpty && second.budgetLeftFen == 200, "the 950 offer does not fit in 200, and the 650 one does not jump it")
        let third = EarlyPaymentMarket.clear(offers.filter { $0.rateBps != 950 }, hurdleBps: 600, budgetLeftFen: second.budgetLeftFen)
        #expect(third.taken.map(\.rateBps) == [650] && third.budgetLeftFen == 50)
    }

    /// The supplier's preview asks the market's own function, with its offer added after every
    /// offer waiting.
    @Test func aPreviewClearsAsTheMarketWould() {
        let program = EarlyPaymentProgram(active: true, hurdleBps: 600, dailyBudgetFen: 700, cutoffTime: "15:00")
        let market = EarlyPaymentService.Market(issuerId: OrgID("0a5e0000-0000-4000-8000-000000000001")!, program: program, budgetLeftFen: 700,
                                                clearingRateBps: nil, ranked: [], offers: [Self.offer(1, 900, 400)])
        #expect(market.wouldClear(rateBps: 950, payoutFen: 300), "ahead of the 900 offer, and both fit")
        #expect(market.wouldClear(rateBps: 900, payoutFen: 300), "after the earlier 900 offer, and both fit")
        #expect(!market.wouldClear(rateBps: 800, payoutFen: 400), "after the 900 offer, 300 is left")
        #expect(!market.wouldClear(rateBps: 599, payoutFen: 1), "below the hurdle")
        var off = market
        off.program.active = false
        #expect(!off.wouldClear(rateBps: 950, payoutFen: 1))
    }

    @Test func theCoresReturnIsTheDiscountOnItsCashPerYear() {
        // ¥1,000,000 paid 90 days early at 8%: discount 20,000, payout 980,000 → 8.16% a year on the cash.
        let discount = Money.discountInterestFen(amountFen: 1_000_000_00, rateBps: 800, days: 90)
        #expect(discount == 20_000_00)
        #expect(EarlyPaymentMarket.returnBps(discountFen: discount, dayWeightedPayoutFen: Int128(980_000_00) * 90) == 816)
        #expect(EarlyPaymentMarket.returnBps(discountFen: 0, dayWeightedPayoutFen: 0) == nil)
    }

    @Test func aProgramLoosensWhenItSpendsMore() {
        let on = EarlyPaymentProgram(active: true, hurdleBps: 600, dailyBudgetFen: 500_000_00, cutoffTime: "15:00")
        var lower = on; lower.hurdleBps = 500
        var larger = on; larger.dailyBudgetFen += 1
        var off = on; off.active = false
        var later = on; later.cutoffTime = "16:30"
        var higher = on; higher.hurdleBps = 700
        #expect(on.loosens(from: .none) && lower.loosens(from: on) && larger.loosens(from: on) && on.loosens(from: off))
        #expect(!off.loosens(from: on) && !later.loosens(from: on) && !higher.loosens(from: on) && !on.loosens(from: on))
        #expect(on.cutoffPassed(atMs: BusinessDate("2026-09-01")!.startEpochMs + 15 * 3_600_000))
        #expect(!on.cutoffPassed(atMs: BusinessDate("2026-09-01")!.startEpochMs + 15 * 3_600_000 - 1))
        for bad in ["24:00", "15:60", "3:00", "15:0", "15-00", "１５:00", ""] { #expect(EarlyPaymentProgram.minutes(bad) == nil, "\(bad)") }
    }

    // MARK: - Through the API

    /// A fresh receivable of `faceFen` from 华东重工集团 to tier 1, due in `days`, accepted: its token.
    static func token(_ d: DemoPlatform, faceFen: Int64 = 100_000_00, days: Int64 = 90, core: String = "core") async throws -> String {
        let coreId = d.orgs[core]!.description
        let line = try #require(try await d.call(core, .GET, "/api/v1/credit-lines").items.first { $0["coreId"] == .string(coreId) && $0["status"] == "active" })["id"]!.stringValue!
        let issued = try await d.call(core, .POST, "/api/v1/receivables",
                                      #"{"supplierId":"\#(d.orgs["tier1"]!)","creditLineId":"\#(line)","faceFen":\#(faceFen),"dueDate":"\#(d.app.businessDate.adding(days: days))"}"#)
        let token = try #require(issued["tokens"]?.arrayValue?.first?["id"]?.stringValue, "\(issued.json)")
        #expect(try await d.call("tier1", .POST, "/api/v1/tokens/\(token)/accept").status == .ok)
        return token
    }

    static func offer(_ d: DemoPlatform, _ token: String, rate: Int64) async throws -> JSON {
        let answer = try await d.call("tier1", .POST, "/api/v1/early-payments", #"{"tokenId":"\#(token)","rateBps":\#(rate)}"#)
        #expect(answer.status == .created, "\(answer.json)")
        return try #require(answer["earlyPayment"])
    }

    static func setProgram(_ d: DemoPlatform, active: Bool = true, hurdle: Int64 = 600, budget: Int64 = 500_000_00, cutoff: String = "15:00") async throws -> DemoPlatform.Answer {
        try await d.call("core", .PUT, "/api/v1/orgs/\(d.orgs["core"]!)/early-payment-program",
                         #"{"active":\#(active),"hurdleBps":\#(hurdle),"dailyBudgetFen":\#(budget),"cutoffTime":"\#(cutoff)"}"#)
    }

    @Test func theProgramIsTheCoresAndReadByItsSuppliers() async throws {
        try await DemoPlatform.with { d in
            let path = "/api/v1/orgs/\(d.orgs["core"]!)/early-payment-program"
            #expect(try await d.call("core", .GET, path).json == ["active": false, "hurdleBps": 10_000, "dailyBudgetFen": 0, "cutoffTime": "15:00"])
            let set = try await Self.setProgram(d)
            #expect(set.status == .ok && set["hurdleBps"] == 600, "\(set.json)")
            #expect(try await d.call("tier1", .GET, path)["dailyBudgetFen"] == .int(500_000_00))
            #expect(try await d.call("regulator", .GET, path).status == .ok)
            #expect(try await d.call("bank", .GET, path).status == .forbidden)
            #expect(try await d.call("core", .GET, "/api/v1/orgs/\(d.orgs["tier1"]!)/early-payment-program").status == .notFound)
            // Another core, a supplier, a bank, the regulator: none sets it.
            for who in ["core2", "tier1", "bank", "regulator"] {
                #expect(try await d.call(who, .PUT, path, #"{"active":true,"hurdleBps":100,"dailyBudgetFen":1,"cutoffTime":"10:00"}"#).status == .forbidden, "\(who)")
            }
            // Bad input: each precisely, and nothing changes.
            let bad: [(String, String, String)] = [
                (#"{"active":true,"hurdleBps":0,"dailyBudgetFen":1,"cutoffTime":"15:00"}"#, "amount_out_of_range", "hurdleBps"),
                (#"{"active":true,"hurdleBps":10001,"dailyBudgetFen":1,"cutoffTime":"15:00"}"#, "amount_out_of_range", "hurdleBps"),
                (#"{"active":true,"hurdleBps":600.5,"dailyBudgetFen":1,"cutoffTime":"15:00"}"#, "validation_failed", "hurdleBps"),
                (#"{"active":true,"hurdleBps":600,"dailyBudgetFen":-1,"cutoffTime":"15:00"}"#, "amount_out_of_range", "dailyBudgetFen"),
                (#"{"active":true,"hurdleBps":600,"dailyBudgetFen":99999999999999999999,"cutoffTime":"15:00"}"#, "amount_out_of_range", "dailyBudgetFen"),
                (#"{"active":true,"hurdleBps":600,"dailyBudgetFen":1,"cutoffTime":"25:00"}"#, "validation_failed", "cutoffTime"),
                (#"{"active":true,"hurdleBps":600,"dailyBudgetFen":1,"cutoffTime":"15:00\u0000"}"#, "validation_failed", "cutoffTime"),
                (#"{"active":"yes","hurdleBps":600,"dailyBudgetFen":1,"cutoffTime":"15:00"}"#, "validation_failed", "active"),
                (#"{"active":true,"hurdleBps":600,"dailyBudgetFen":1}"#, "validation_failed", "cutoffTime"),
                (#"{"active":true,"hurdleBps":600,"dailyBudgetFen":1,"cutoffTime":"15:00","extra":1}"#, "validation_failed", "extra"),
            ]
            for (body, code, field) in bad {
                let answer = try await d.call("core", .PUT, path, body)
                #expect(answer.code == code && answer["errors"]?.arrayValue?.first?["field"] == .string(field), "\(body): \(answer.json)")
            }
            #expect(try await d.call("core", .GET, path)["hurdleBps"] == 600)
        }
    }

    @Test func loosenningTheProgramWaitsForTheCoresChecker() async throws {
        try await DemoPlatform.with(fourEyes: true) { d in
            let path = "/api/v1/orgs/\(d.orgs["core"]!)/early-payment-program"
            // Switching it on spends cash: held for the checker.
            let held = try await Self.setProgram(d)
            #expect(held.status == .accepted && held["approval"]?["action"] == "changeProgram", "\(held.json)")
            #expect(try await d.call("core", .GET, path)["active"] == false)
            let id = held["approval"]!["id"]!.stringValue!
            let approved = try await d.call("core-checker", .POST, "/api/v1/approvals/\(id)/approve")
            #expect(approved.status == .created && approved["active"] == true && approved["approval"]?["status"] == "approved", "\(approved.status) \(approved.json)")
            // A higher hurdle, a smaller budget: at once. A lower hurdle: held again.
            #expect(try await Self.setProgram(d, hurdle: 700, budget: 100_000_00).status == .ok)
            #expect(try await Self.setProgram(d, hurdle: 650, budget: 100_000_00).status == .accepted)
            #expect(try await d.call("core", .GET, path)["hurdleBps"] == 700)
        }
    }

    @Test func aSupplierNamesItsRateAndBadOffersAreRefusedPrecisely() async throws {
        try await DemoPlatform.with { d in
            let token = try await Self.token(d)
            let long = try await Self.token(d, days: 365)
            let height = await d.height
            for (body, code, field) in [(#"{"tokenId":"\#(token)","rateBps":0}"#, "amount_out_of_range", nil as String?),
                                        (#"{"tokenId":"\#(token)","rateBps":10001}"#, "amount_out_of_range", nil),
                                        (#"{"tokenId":"\#(token)","rateBps":600.5}"#, "validation_failed", "rateBps"),
                                        (#"{"tokenId":"\#(token)","rateBps":"600"}"#, "validation_failed", "rateBps"),
                                        (#"{"tokenId":"\#(token)","rateBps":-600}"#, "amount_out_of_range", nil),
                                        (#"{"tokenId":"\#(token)"}"#, "validation_failed", "rateBps"),
                                        (#"{"tokenId":"nope","rateBps":600}"#, "validation_failed", "tokenId")] {
                let answer = try await d.call("tier1", .POST, "/api/v1/early-payments", body)
                #expect(answer.code == code, "\(body): \(answer.json)")
                if let field { #expect(answer["errors"]?.arrayValue?.first?["field"] == .string(field), "\(body): \(answer.json)") }
            }
            // A rate whose discount eats the whole amount: a year at 100%.
            #expect(try await d.call("tier1", .POST, "/api/v1/early-payments", #"{"tokenId":"\#(long)","rateBps":10000}"#).code == "amount_out_of_range")
            // Not the holder; the issuer; a bank; the regulator.
            for who in ["tier2", "core", "bank", "regulator"] {
                let answer = try await d.call(who, .POST, "/api/v1/early-payments", #"{"tokenId":"\#(token)","rateBps":600}"#)
                #expect(answer.status.code >= 400 && answer.status.code < 500, "\(who): \(answer.json)")
            }
            #expect(await d.height == height)
            // Offered: the amounts are fixed now, and the token is locked.
            let e = try await Self.offer(d, token, rate: 800)
            #expect(e["amountFen"] == .int(100_000_00) && e["days"] == 90 && e["discountFen"] == .int(2_000_00) && e["payoutFen"] == .int(98_000_00))
            #expect(try await d.call("tier1", .GET, "/api/v1/tokens/\(token)")["status"] == "locked")
            // A second offer on it; a transfer or a financing of it: it is locked.
            #expect(try await d.call("tier1", .POST, "/api/v1/early-payments", #"{"tokenId":"\#(token)","rateBps":900}"#).code == "token_not_active")
            #expect(try await d.call("tier1", .POST, "/api/v1/tokens/\(token)/transfer", #"{"toOrgId":"\#(d.orgs["tier2"]!)","amountFen":100}"#).code == "token_not_active")
            #expect(try await d.call("tier1", .POST, "/api/v1/financings", #"{"tokenId":"\#(token)","bankId":"\#(d.orgs["bank"]!)"}"#).code == "token_not_active")
            // Another core approving it; the supplier approving its own; the issuer cancelling it.
            let id = e["id"]!.stringValue!
            #expect(try await d.call("core2", .POST, "/api/v1/early-payments/\(id)/approve").code == "not_holder")
            #expect(try await d.call("tier1", .POST, "/api/v1/early-payments/\(id)/approve").code == "not_holder")
            let cancelled = try await d.call("core", .POST, "/api/v1/early-payments/\(id)/cancel")
            #expect(cancelled.status == .forbidden, "\(cancelled.json)")
            #expect(try await d.call("core", .POST, "/api/v1/early-payments/\(id)/confirm", #"{"reference":"X-1"}"#).code == "early_payment_not_open")
            // Others do not see it.
            #expect(try await d.call("core2", .GET, "/api/v1/early-payments/\(id)").status == .notFound)
            #expect(try await d.call("bank", .GET, "/api/v1/early-payments/\(id)").status == .notFound)
            #expect(try await d.call("regulator", .GET, "/api/v1/early-payments/\(id)")["status"] == "requested")
            // Withdrawn: the token is active again, and may be offered anew.
            #expect(try await d.call("tier1", .POST, "/api/v1/early-payments/\(id)/cancel").status == .ok)
            #expect(try await d.call("tier1", .GET, "/api/v1/tokens/\(token)")["status"] == "active")
            #expect(try await d.call("tier1", .POST, "/api/v1/early-payments/\(id)/cancel").code == "early_payment_not_open")
            _ = try await Self.offer(d, token, rate: 700)
            // A token held by a bank (financed): not the supplier's to offer.
            let financed = try await ApprovalTests.request(d, bank: "bank2")
            #expect(try await d.call("bank2", .POST, "/api/v1/financings/\(financed)/approve").status == .ok)
            let bankToken = try #require(try await d.call("bank2", .GET, "/api/v1/tokens?status=active").items.first)["id"]!.stringValue!
            #expect(try await d.call("bank2", .POST, "/api/v1/early-payments", #"{"tokenId":"\#(bankToken)","rateBps":600}"#).status == .forbidden)
            // On the due date.
            let soon = try await Self.token(d, days: 1)
            d.clock.advance(days: 1)
            #expect(try await d.call("tier1", .POST, "/api/v1/early-payments", #"{"tokenId":"\#(soon)","rateBps":600}"#).code == "past_due")
            #expect(try await d.chainAgrees())
        }
    }

    /// One day's market: offers above and below the hurdle, a budget that ends between two; the
    /// core clears, the answer names what it took and its clearing rate, the market shows what is
    /// left, and the core confirms by hand (no rail): the pieces are settled, paid early.
    @Test func oneDaysClearing() async throws {
        try await DemoPlatform.with { d in
            #expect(try await Self.setProgram(d, budget: 200_000_00).status == .ok)
            var ids: [Int64: String] = [:]
            for rate: Int64 in [500, 900, 800, 700] {
                ids[rate] = try await Self.offer(d, try await Self.token(d), rate: rate)["id"]!.stringValue!
            }
            let market = try await d.call("tier1", .GET, "/api/v1/early-payments/market?issuerId=\(d.orgs["core"]!)")
            #expect(market.json == ["issuerId": .string(d.orgs["core"]!.description), "active": true, "hurdleBps": 600, "dailyBudgetFen": .int(200_000_00),
                                    "cutoffTime": "15:00", "budgetLeftFen": .int(200_000_00), "clearingRateBps": .null], "\(market.json)")
            #expect(try await d.call("tier1", .POST, "/api/v1/early-payments/clear").status == .forbidden)
            #expect(try await d.call("core", .POST, "/api/v1/early-payments/clear", #"{"x":1}"#).code == "validation_failed")
            let cleared = try await d.call("core", .POST, "/api/v1/early-payments/clear")
            #expect(cleared.status == .ok, "\(cleared.json)")
            // 900 and 800 bps (payouts 97,750 and 98,000) fit in ¥200,000; 700 (98,250) does not; 500 is below the hurdle.
            #expect(cleared["approved"]?.arrayValue?.map { $0["rateBps"]!.intValue! } == [900, 800])
            #expect(cleared["clearingRateBps"] == 800 && cleared["budgetLeftFen"] == .int(200_000_00 - 97_750_00 - 98_000_00))
            let after = try await d.call("tier1", .GET, "/api/v1/early-payments/market?issuerId=\(d.orgs["core"]!)")
            #expect(after["clearingRateBps"] == 800 && after["budgetLeftFen"] == .int(4_250_00))
            // Again the same day: nothing more fits.
            #expect(try await d.call("core", .POST, "/api/v1/early-payments/clear")["approved"] == [])
            #expect(try await d.call("core", .GET, "/api/v1/early-payments?status=requested").items.count == 2)
            // No rail: confirmed by hand; the piece is settled, the receivable paid by its amount, the line given it back.
            let id = ids[900]!
            let paid = try await d.call("core", .POST, "/api/v1/early-payments/\(id)/confirm", #"{"reference":"HAND-1"}"#)
            #expect(paid.status == .ok && paid["earlyPayment"]?["status"] == "paid", "\(paid.json)")
            let e = try await d.call("tier1", .GET, "/api/v1/early-payments/\(id)")
            #expect(e["reference"] == "HAND-1")
            let token = e["tokenId"]!.stringValue!
            let shownToken = try await d.call("tier1", .GET, "/api/v1/tokens/\(token)")
            #expect(shownToken["status"] == "settled" && shownToken["earlyPaymentId"] == .string(id), "\(shownToken.json)")
            let receivable = e["receivableId"]!.stringValue!
            #expect(try await d.call("core", .GET, "/api/v1/receivables/\(receivable)")["paidFen"] == .int(100_000_00))
            let clearing = try await d.call("core", .GET, "/api/v1/receivables/\(receivable)/clearing").items
            #expect(clearing.count == 1 && clearing[0]["status"] == "settled" && clearing[0]["earlyPaymentId"] == .string(id), "\(clearing)")
            let tree = try await d.call("core", .GET, "/api/v1/receivables/\(receivable)/tree").items
            #expect(tree.first { $0["id"] == .string(token) }?["earlyPaymentId"] == .string(id), "\(tree)")
            let ancestry = try await d.call("tier1", .GET, "/api/v1/tokens/\(token)/ancestry").items
            #expect(ancestry.first?["earlyPaymentId"] == .string(id), "\(ancestry)")
            // The ledger's own record of the money: an early payment, from the core to the supplier.
            let recorded = try await d.app.sql.raw("SELECT kind, payer_id, payee_id, amount_fen FROM payments WHERE id = \(bind: id)").first()!
            #expect(try recorded.decode(column: "kind", as: String.self) == "early_payment" && recorded.decode(column: "amount_fen", as: Int64.self) == 97_750_00)
            // Manual approval outside the market counts against the day too.
            let manual = try await d.call("core", .POST, "/api/v1/early-payments/\(ids[500]!)/approve")
            #expect(manual.status == .ok, "\(manual.json)")
            #expect(try await d.call("core", .GET, "/api/v1/early-payments/market")["budgetLeftFen"] == .int(0))
            #expect(try await d.chainAgrees())
        }
    }

    /// 64 clearings of one market at once: each offer is taken once, and the day's budget is
    /// never passed.
    @Test func sixtyFourClearingsAtOnceTakeEachOfferOnce() async throws {
        try await DemoPlatform.with { d in
            #expect(try await Self.setProgram(d, budget: 450_000_00).status == .ok)
            var offered: [String] = []
            for i in 0..<6 { offered.append(try await Self.offer(d, try await Self.token(d), rate: 700 + Int64(i) * 10)["id"]!.stringValue!) }
            let answers = try await withThrowingTaskGroup(of: DemoPlatform.Answer.self) { group in
                for _ in 0..<64 { group.addTask { try await d.call("core", .POST, "/api/v1/early-payments/clear") } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(answers.allSatisfy { $0.status == .ok }, "\(answers.filter { $0.status != .ok }.map(\.json))")
            let taken = answers.flatMap { $0["approved"]?.arrayValue ?? [] }.map { $0["id"]!.stringValue! }
            // Payouts of about ¥97,9xx each: four fit in ¥450,000, the highest rates.
            #expect(taken.count == 4 && Set(taken).count == 4, "\(taken)")
            #expect(Set(taken) == Set(offered.suffix(4)))
            let spent = try await EarlyPaymentQueries.spent(by: d.orgs["core"]!, on: d.app.businessDate, sql: d.app.sql)
            #expect(spent <= 450_000_00 && spent == answers.compactMap { $0["approved"]?.arrayValue }.joined().reduce(0) { $0 + $1["payoutFen"]!.intValue! })
            #expect(try await d.call("core", .GET, "/api/v1/early-payments?status=approved").items.count == 4)
            #expect(try await d.chainAgrees())
        }
    }

    /// At the cut-off the market clears by itself, once a day, signed with the core's key.
    @Test func theMarketClearsByItselfAtTheCutoff() async throws {
        try await DemoPlatform.with { d in
            // The test clock stands at 09:00 Asia/Shanghai.
            #expect(try await Self.setProgram(d, cutoff: "10:00").status == .ok)
            let id = try await Self.offer(d, try await Self.token(d), rate: 900)["id"]!.stringValue!
            #expect(try await EarlyPaymentService.clearDue(d.app) == 0)
            d.clock.advance(minutes: 60)
            #expect(try await EarlyPaymentService.clearDue(d.app) == 1)
            #expect(try await d.call("core", .GET, "/api/v1/early-payments/\(id)")["status"] == "approved")
            let signer = try await d.app.sql.raw("SELECT org_id FROM transactions WHERE type = 'approveEarlyPayment'").first()!.decode(column: "org_id", as: String.self)
            #expect(signer == d.orgs["core"]!.description)
            _ = try await Self.offer(d, try await Self.token(d), rate: 900)
            #expect(try await EarlyPaymentService.clearDue(d.app) == 0, "once a day")
            d.clock.advance(days: 1)
            #expect(try await EarlyPaymentService.clearDue(d.app) == 1)
            #expect(try await d.call("core", .GET, "/api/v1/early-payments?status=requested").items.isEmpty)
        }
    }

    /// On the e-CNY rail: the clearing reserves the payout in the core's wallet and instructs it;
    /// the wallet settles it, and the ledger records the piece paid early. Reconciliation counts
    /// it as its own kind.
    @Test func theCoresRailPaysAnEarlyPayment() async throws {
        try await DemoPlatform.with { d in
            let sandbox = try await EcnyTests.connect(d)
            await sandbox.addWallet("W-CORE", name: "华东重工集团", balanceFen: 150_000_00)
            #expect(try await d.call("core", .PUT, "/api/v1/orgs/\(d.orgs["core"]!)/payment-accounts/ecny", #"{"account":"W-CORE","accountName":"华东重工集团"}"#).status == .ok)
            #expect(try await Self.setProgram(d).status == .ok)
            let first = try await Self.offer(d, try await Self.token(d), rate: 900)["id"]!.stringValue!
            let second = try await Self.offer(d, try await Self.token(d), rate: 800)["id"]!.stringValue!
            // The wallet holds one payout, not two: the clearing takes the first and stops.
            let cleared = try await d.call("core", .POST, "/api/v1/early-payments/clear")
            #expect(cleared["approved"]?.arrayValue?.map { $0["id"]!.stringValue! } == [first], "\(cleared.json)")
            try await EcnyTests.eventually("the early payment is paid") { try await d.call("tier1", .GET, "/api/v1/early-payments/\(first)")["status"] == "paid" }
            let shown = try await d.call("tier1", .GET, "/api/v1/early-payments/\(first)")
            let payment = try #require(shown["payments"]?.arrayValue?.first)
            #expect(payment["kind"] == "early_payment" && payment["status"] == "settled" && payment["amountFen"] == shown["payoutFen"] && payment["payerId"] == .string(d.orgs["core"]!.description))
            #expect(shown["reference"]?.stringValue?.hasPrefix("RAIL-") == true)
            #expect(await sandbox.balance("W-CORE") == 150_000_00 - shown["payoutFen"]!.intValue!)
            #expect(try await d.call("core", .GET, "/api/v1/early-payments/\(second)")["status"] == "requested")
            let report = try await d.call("regulator", .GET, "/api/v1/reconciliation?date=\(d.app.businessDate)")
            #expect(report["byKind"]?["early_payment"]?["recorded"] == ["count": 1, "amountFen": shown["payoutFen"]!], "\(report.json)")
            #expect(report["byKind"]?["early_payment"]?["instructed"]?["count"] == 1 && report["balanced"] == true, "\(report.json)")
            #expect(try await d.chainAgrees())
        }
    }
}
