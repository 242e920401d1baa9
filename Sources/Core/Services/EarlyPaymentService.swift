import Foundation
import Ledger
import SQLKit
import class Vapor.Application
import protocol Vapor.StorageKey

/// Early payment from the core enterprise's own cash: a supplier names its rate, the core takes
/// offers by hand or through its daily market, the core's rail pays, and the ledger records the
/// piece paid once the money has arrived.
package enum EarlyPaymentService {
    package static func request(_ tokenId: TokenID, rateBps: Int64, by caller: Caller, app: Application) async throws -> Outcome {
        try await LedgerService.submit(.requestEarlyPayment(tokenId: tokenId, rateBps: rateBps), by: caller, app: app)
    }

    package static func reject(_ id: TxID, by caller: Caller, app: Application) async throws -> Outcome {
        try await LedgerService.submit(.rejectEarlyPayment(earlyPaymentId: id), by: caller, app: app)
    }

    package static func cancel(_ id: TxID, by caller: Caller, app: Application) async throws -> Outcome {
        try await LedgerService.submit(.cancelEarlyPayment(earlyPaymentId: id), by: caller, app: app)
    }

    /// By hand, for a core without a rail (or a payment made outside it).
    package static func confirm(_ id: TxID, reference: String, by caller: Caller, app: Application) async throws -> Outcome {
        try await LedgerService.submit(.confirmEarlyPayment(earlyPaymentId: id, reference: reference), by: caller, app: app)
    }

    /// The core takes one offer by hand, outside the market: counted against the day's spending
    /// like any other, and paid on the core's rail. Takes its turn with the market's clearings.
    package static func approve(_ id: TxID, by caller: Caller, app: Application) async throws -> Outcome {
        try caller.requirePreparer()
        return try await app.earlyPaymentMarkets.inTurn(for: caller.orgId.description) {
            try await take(id, clearing: nil, by: caller, app: app)
        }
    }

    /// Counts the payout against the issuer's day, reserves it in the core's e-CNY wallet, signs
    /// the approval, and instructs the payment; called in the issuer's turn only, so that nothing
    /// else takes an offer meanwhile. What fails before the approval is signed (the ledger's
    /// refusal, a short wallet, a wallet service out of reach) undoes what was counted and
    /// reserved; an approval whose fate is unknown stays counted (the budget errs towards
    /// spending less). An offer counted by an attempt that never signed (a process killed in
    /// between) is still requested on the ledger, and is counted again, once, by the next.
    static func take(_ id: TxID, clearing: String?, by caller: Caller, app: Application) async throws -> Outcome {
        guard let e = try await app.requireSequencer().read({ $0.earlyPayments[id] }) else {
            throw LedgerError(.notFound, "early payment \(id) does not exist")
        }
        guard e.issuerId == caller.orgId else { throw LedgerError(.notHolder, "only the issuer decides early payment \(e.id)") }
        guard e.status == .requested else { throw LedgerError(.earlyPaymentNotOpen, "early payment \(e.id) is \(e.status.rawValue), not requested") }
        let sql = app.sql
        try await EarlyPaymentQueries.take(e, on: app.businessDate, clearing: clearing, nowMs: app.wallClock.nowMs(), sql: sql)
        var reserved: [String] = []
        func undo() async {
            try? await EarlyPaymentQueries.untake(e.id, sql: sql)
            if !reserved.isEmpty { try? await BalanceHolds.release(reserved, on: sql) }
        }
        do {
            if let route = try await PaymentService.earlyPaymentRoute(for: e, app: app), let ecny = route.rail as? EcnyRail {
                let payment = Payment.id(.earlyPayment, paying: e.id.description, to: e.supplierId)
                reserved = try await PaymentService.reserve([BalanceHolds.Hold(paymentId: payment, kind: .earlyPayment, subjectId: e.id.description, amountFen: e.payoutFen)],
                                                            in: route.payer.account, on: ecny, for: "early payment", app: app)
            }
        } catch {
            await undo()
            throw error
        }
        let outcome: Outcome
        do {
            outcome = try await LedgerService.submit(.approveEarlyPayment(earlyPaymentId: e.id), by: caller, app: app)
        } catch let refused as LedgerError {
            await undo()
            throw refused
        }
        for approved in outcome.earlyPayments where approved.status == .approved {
            do { try await PaymentService.instructEarlyPayment(approved, app: app) } catch {
                app.logger.warning("early payment \(approved.id) not instructed yet (\(error)); the sweep will")
            }
        }
        return outcome
    }

    // MARK: - The program

    /// Who reads a core's program and market: its own people, the regulator and the operator,
    /// and suppliers holding (or having held) a piece of its paper.
    package static func requireReader(of core: OrgID, _ viewer: Viewer, app: Application) async throws {
        guard try await OrgQueries.role(of: core, on: app.sql) == .core else { throw LedgerError(.notFound, "no such core enterprise") }
        if viewer.seesAll || viewer.orgId == core { return }
        guard viewer.role == .supplier, try await EarlyPaymentQueries.holdsPaper(of: core, supplier: viewer.orgId, on: app.sql) else {
            throw LedgerError(.forbidden, "a core's early-payment program is for the core, its suppliers, the regulator and the operator")
        }
    }

    package static func program(of core: OrgID, visibleTo viewer: Viewer, app: Application) async throws -> EarlyPaymentProgram {
        try await requireReader(of: core, viewer, app: app)
        return try await EarlyPaymentQueries.program(of: core, on: app.sql) ?? .none
    }

    /// `{active, hurdleBps, dailyBudgetFen, cutoffTime}` as an admin sends it, every field present.
    package static func parseProgram(_ body: StrictBody) throws -> EarlyPaymentProgram {
        func outOfRange(_ field: String, _ message: String) -> LedgerError {
            LedgerError(.amountOutOfRange, "\(field): \(message)", fields: [FieldError(field: field, message: message)])
        }
        guard case .bool(let active)? = body.fields["active"] else { throw LedgerError.invalid("active", "must be true or false") }
        let hurdle = try body.int("hurdleBps")
        guard (1...Limits.maxRateBps).contains(hurdle) else { throw outOfRange("hurdleBps", "must be 1 to \(Limits.maxRateBps) basis points (600 is 6.00% a year)") }
        let budget = try body.int("dailyBudgetFen")
        guard (0...Limits.maxAmountFen).contains(budget) else { throw outOfRange("dailyBudgetFen", "must be 0 to \(Limits.maxAmountFen) fen") }
        let cutoff = try body.string("cutoffTime", maxLength: 5)!
        guard EarlyPaymentProgram.minutes(cutoff) != nil else { throw LedgerError.invalid("cutoffTime", "must be a time HH:MM, 24-hour, Asia/Shanghai") }
        return EarlyPaymentProgram(active: active, hurdleBps: hurdle, dailyBudgetFen: budget, cutoffTime: cutoff)
    }

    /// An admin of the core sets its program, soon after giving their password. Tightening takes
    /// effect at once; loosening waits for a checker when the core has any approval rule.
    package static func setProgram(_ p: EarlyPaymentProgram, of core: OrgID, by viewer: Viewer, app: Application, address: String?) async throws -> Prepared<EarlyPaymentProgram> {
        try viewer.require(.core, to: "run an early-payment program")
        try viewer.caller.requireRecentSignIn(nowMs: app.wallClock.nowMs())
        guard viewer.orgId == core, viewer.caller.isAdmin else { throw LedgerError(.forbidden, "only an admin of the core enterprise sets its early-payment program") }
        if let approval = try await ApprovalService.hold(.program(p), by: viewer.caller, app: app, address: address) { return .pending(approval) }
        try await EarlyPaymentQueries.save(p, of: core, by: viewer.caller.email, nowMs: app.wallClock.nowMs(), on: app.sql)
        try await OnboardingService.audit(viewer, "early-payment.program", core,
                                          "program \(p.active ? "on" : "off"), hurdle \(p.hurdleBps) bps, \(p.dailyBudgetFen) fen a day, cut-off \(p.cutoffTime)", app: app, address: address)
        return .done(p)
    }

    // MARK: - The market

    /// Where a core's market stands today.
    package struct Market: Sendable {
        package var issuerId: OrgID
        package var program: EarlyPaymentProgram
        package var budgetLeftFen: Int64
        package var clearingRateBps: Int64?
        /// The open offers, ranked as the market takes them, each marked whether it would clear now.
        package var ranked: [(EarlyPayment, Bool)]
        /// The same offers as the market function sees them.
        package var offers: [EarlyPaymentMarket.Offer] = []

        package var json: JSON {
            ["issuerId": .string(issuerId.description), "active": .bool(program.active), "hurdleBps": .int(program.hurdleBps),
             "dailyBudgetFen": .int(program.dailyBudgetFen), "cutoffTime": .string(program.cutoffTime),
             "budgetLeftFen": .int(budgetLeftFen), "clearingRateBps": clearingRateBps.map(JSON.int) ?? .null]
        }

        /// Whether an offer at `rateBps` paying out `payoutFen`, requested now (after every offer
        /// waiting), would clear today: the market's own function, asked with it added.
        package func wouldClear(rateBps: Int64, payoutFen: Int64) -> Bool {
            guard program.active else { return false }
            let asked = EarlyPaymentMarket.Offer(id: TxID(digest: [UInt8](repeating: 0, count: 32)), rateBps: rateBps, payoutFen: payoutFen, place: .max)
            return EarlyPaymentMarket.clear(offers + [asked], hurdleBps: program.hurdleBps, budgetLeftFen: budgetLeftFen).taken.contains { $0.place == .max }
        }
    }

    package static func market(of core: OrgID, visibleTo viewer: Viewer, app: Application) async throws -> Market {
        try await requireReader(of: core, viewer, app: app)
        return try await market(of: core, app: app)
    }

    /// Unchecked: for a page that already knows the viewer holds the core's paper.
    package static func market(of core: OrgID, app: Application) async throws -> Market {
        let sql = app.sql
        let program = try await EarlyPaymentQueries.program(of: core, on: sql) ?? .none
        let left = try await budgetLeft(of: core, under: program, app: app)
        let offers = try await EarlyPaymentQueries.offers(to: core, on: sql)
        let byId = Dictionary(uniqueKeysWithValues: offers.map { ($0.1.id, $0.0) })
        let wouldTake = Set(EarlyPaymentMarket.clear(offers.map(\.1), hurdleBps: program.hurdleBps, budgetLeftFen: left).taken.map(\.id))
        let ranked = EarlyPaymentMarket.ranked(offers.map(\.1)).map { (byId[$0.id]!, program.active && wouldTake.contains($0.id)) }
        let last = try await EarlyPaymentQueries.clearings(of: core, limit: 1, tookSomething: true, sql: sql).first
        return Market(issuerId: core, program: program, budgetLeftFen: left, clearingRateBps: last?.clearingRateBps, ranked: ranked, offers: offers.map(\.1))
    }

    /// What is left of the day's budget once today's takings are counted; 0 while the program is off.
    static func budgetLeft(of core: OrgID, under program: EarlyPaymentProgram, app: Application) async throws -> Int64 {
        guard program.active else { return 0 }
        return max(0, program.dailyBudgetFen - (try await EarlyPaymentQueries.spent(by: core, on: app.businessDate, sql: app.sql)))
    }

    /// What a clearing did.
    package struct Cleared: Sendable {
        package var approved: [EarlyPayment]
        package var clearingRateBps: Int64?
        package var budgetLeftFen: Int64
        package var active: Bool
    }

    /// `POST /early-payments/clear` by the core's maker.
    package static func clear(by viewer: Viewer, app: Application, address: String?) async throws -> Cleared {
        try viewer.require(.core, to: "clear an early-payment market")
        try viewer.caller.requirePreparer()
        let cleared = try await clear(viewer.orgId, source: viewer.caller.email, by: viewer.caller, app: app)
        try await OnboardingService.audit(viewer, "early-payment.clear", viewer.orgId,
                                          "took \(cleared.approved.count) offer(s)" + (cleared.clearingRateBps.map { ", clearing at \($0) bps" } ?? ""), app: app, address: address)
        return cleared
    }

    /// Clears `core`'s market now, in turn with its other clearings and approvals: of 64 asked at
    /// once, the first takes what the day's budget covers and the rest find those offers taken.
    /// Each offer is taken by `take`; one the ledger refuses (moved, settled, withdrawn since it
    /// was read) is skipped and the next one tried; a short e-CNY wallet ends the clearing, and
    /// so does a wallet service or a writer out of reach (an error when nothing was taken yet).
    static func clear(_ core: OrgID, source: String, by caller: Caller, app: Application) async throws -> Cleared {
        try await app.earlyPaymentMarkets.inTurn(for: core.description) {
            let sql = app.sql, today = app.businessDate
            let program = try await EarlyPaymentQueries.program(of: core, on: sql) ?? .none
            guard program.active else { return Cleared(approved: [], clearingRateBps: nil, budgetLeftFen: 0, active: false) }
            var left = try await budgetLeft(of: core, under: program, app: app)
            let offers = try await EarlyPaymentQueries.offers(to: core, on: sql)
            let id = UUID().uuidString.lowercased()
            var approved: [EarlyPayment] = [], stopped: (any Error)?
            taking: for offer in EarlyPaymentMarket.clear(offers.map(\.1), hurdleBps: program.hurdleBps, budgetLeftFen: left).taken {
                do {
                    let outcome = try await take(offer.id, clearing: id, by: caller, app: app)
                    approved += outcome.earlyPayments.filter { $0.id == offer.id }
                    left -= offer.payoutFen
                } catch let refused as LedgerError where refused.code == .insufficientBalance {
                    app.logger.notice("early-payment market of \(core): \(refused.message); the clearing stops here")
                    break taking
                } catch let refused as LedgerError {
                    app.logger.info("early-payment market of \(core): offer \(offer.id) skipped: \(refused.message)")
                } catch {
                    // The wallet service or the writer out of reach: what was taken stands.
                    stopped = error
                    break taking
                }
            }
            if let stopped, approved.isEmpty { throw stopped }
            if let stopped { app.logger.warning("early-payment market of \(core): the clearing stopped after \(approved.count) offer(s): \(stopped)") }
            let rate = approved.map(\.rateBps).min()
            try await EarlyPaymentQueries.record(.init(id: id, issuerId: core, date: today, atMs: app.wallClock.nowMs(), source: source,
                                                       takenCount: Int64(approved.count), spentFen: approved.reduce(0) { $0 + $1.payoutFen },
                                                       clearingRateBps: rate, hurdleBps: program.hurdleBps, budgetLeftFen: left), on: sql)
            return Cleared(approved: approved, clearingRateBps: rate, budgetLeftFen: left, active: true)
        }
    }

    /// Every core whose program is on and whose cut-off has passed today clears once, signed with
    /// its own key by the platform on its behalf. Run with the jobs, and when the demo clock moves.
    @discardableResult
    package static func clearDue(_ app: Application) async throws -> Int {
        let now = app.ledgerClock.nowMs(), today = app.businessDate
        var cleared = 0
        for (core, program) in try await EarlyPaymentQueries.activePrograms(on: app.sql) where program.cutoffPassed(atMs: now) {
            guard try await !EarlyPaymentQueries.clearedAtCutoff(core, on: today, sql: app.sql) else { continue }
            let market = Caller(userId: "program:\(core)", orgId: core, email: "cutoff", name: "early-payment program", userRole: .admin, viaAPIKey: true)
            do {
                _ = try await clear(core, source: "cutoff", by: market, app: app)
                cleared += 1
            } catch {
                app.logger.warning("early-payment market of \(core) not cleared at its cut-off yet: \(error)")
            }
        }
        return cleared
    }
}

extension Application {
    private struct EarlyPaymentMarketsKey: StorageKey { typealias Value = TakingTurns }

    /// One core's clearings and approvals take turns. Set up once, in `configure`, before any request.
    package var earlyPaymentMarkets: TakingTurns {
        get { storage[EarlyPaymentMarketsKey.self]! }
        set { storage[EarlyPaymentMarketsKey.self] = newValue }
    }
}
