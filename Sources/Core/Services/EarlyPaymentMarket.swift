import Foundation
import Ledger

/// A core enterprise's standing offer of its own cash (提前付款): the lowest yearly rate it
/// takes, what it spends a business day, and the time (Asia/Shanghai) its market clears by
/// itself. The ledger does not know it: the core's own business, kept by the platform.
package struct EarlyPaymentProgram: Sendable, Equatable {
    package var active: Bool
    package var hurdleBps: Int64
    package var dailyBudgetFen: Int64
    /// `HH:MM`, 24-hour, Asia/Shanghai.
    package var cutoffTime: String

    package init(active: Bool, hurdleBps: Int64, dailyBudgetFen: Int64, cutoffTime: String) {
        self.active = active
        self.hurdleBps = hurdleBps
        self.dailyBudgetFen = dailyBudgetFen
        self.cutoffTime = cutoffTime
    }

    /// A core that never set one: off.
    package static let none = EarlyPaymentProgram(active: false, hurdleBps: Limits.maxRateBps, dailyBudgetFen: 0, cutoffTime: "15:00")

    /// Whether moving from `old` to this spends more of the core's cash: switching it on, a lower
    /// hurdle or a larger budget while on. Such a change waits for the core's checker; any other
    /// (switching off, a higher hurdle, a smaller budget, another cut-off) takes effect at once.
    package func loosens(from old: EarlyPaymentProgram) -> Bool {
        guard active else { return false }
        return !old.active || hurdleBps < old.hurdleBps || dailyBudgetFen > old.dailyBudgetFen
    }

    /// The cut-off as minutes after midnight, from a valid `HH:MM`.
    package var cutoffMinutes: Int64? { Self.minutes(cutoffTime) }

    package static func minutes(_ text: String) -> Int64? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard text.count == 5, parts.count == 2, parts.allSatisfy({ $0.count == 2 && $0.allSatisfy { $0.isASCII && $0.isNumber } }),
              let h = Int64(parts[0]), let m = Int64(parts[1]), (0..<24).contains(h), (0..<60).contains(m) else { return nil }
        return h * 60 + m
    }

    /// Whether the business day of `epochMs` has reached the cut-off.
    package func cutoffPassed(atMs epochMs: Int64) -> Bool {
        guard let cutoff = cutoffMinutes else { return false }
        return (epochMs - BusinessDate(epochMs: epochMs).startEpochMs) / 60_000 >= cutoff
    }

    package var json: JSON {
        ["active": .bool(active), "hurdleBps": .int(hurdleBps), "dailyBudgetFen": .int(dailyBudgetFen), "cutoffTime": .string(cutoffTime)]
    }
}

/// The daily market of a core enterprise's early payments (SPEC §5), as one pure function: the
/// offers it takes, given the offers, the hurdle and what is left of the day's budget.
package enum EarlyPaymentMarket {
    /// One early payment as the market sees it. `place`: where its request stands on the chain
    /// (block height, then position in the block), so that the earlier request comes first.
    package struct Offer: Sendable, Equatable {
        package var id: TxID
        package var rateBps: Int64
        package var payoutFen: Int64
        package var place: Int64
        package var status: EarlyPaymentStatus

        package init(id: TxID, rateBps: Int64, payoutFen: Int64, place: Int64, status: EarlyPaymentStatus = .requested) {
            self.id = id
            self.rateBps = rateBps
            self.payoutFen = payoutFen
            self.place = place
            self.status = status
        }

        /// The request's place on the chain as one number.
        package static func place(height: Int64, position: Int64) -> Int64 { height * 1_000_000 + position }
    }

    package struct Clearing: Sendable, Equatable {
        /// In the order taken.
        package var taken: [Offer]
        /// The lowest rate taken; nil when nothing was.
        package var clearingRateBps: Int64?
        package var budgetLeftFen: Int64
        package var spentFen: Int64 { taken.reduce(0) { $0 + $1.payoutFen } }
    }

    /// The open offers in the order the market takes them: the highest rate first, the earlier
    /// request first at equal rates (and the id last, so the order is total).
    package static func ranked(_ offers: [Offer]) -> [Offer] {
        offers.filter { $0.status == .requested }.sorted {
            ($0.rateBps, -$0.place, $0.id.description) > ($1.rateBps, -$1.place, $1.id.description)
        }
    }

    /// Offers still requested, at or above the hurdle, in rank order, each whole, while the
    /// budget left covers its payout. The first offer the budget cannot cover ends the clearing:
    /// an offer at a lower rate never goes ahead of one at a higher rate, so a supplier who named
    /// a higher price is never passed over for a cheaper one that happens to fit.
    package static func clear(_ offers: [Offer], hurdleBps: Int64, budgetLeftFen: Int64) -> Clearing {
        var left = max(0, budgetLeftFen), taken: [Offer] = []
        for offer in ranked(offers) {
            guard offer.rateBps >= hurdleBps, offer.payoutFen <= left else { break }
            taken.append(offer)
            left -= offer.payoutFen
        }
        return Clearing(taken: taken, clearingRateBps: taken.last?.rateBps, budgetLeftFen: left)
    }

    /// What the core earns on the cash it spent, as a yearly rate in basis points on the
    /// actual/360 year of §2: Σ discount × 360 × 10000 / Σ (payout × days), rounded half up.
    /// Nil while it has spent nothing.
    package static func returnBps(discountFen: Int64, dayWeightedPayoutFen: Int128) -> Int64? {
        guard dayWeightedPayoutFen > 0, discountFen >= 0 else { return nil }
        let numerator = Int128(discountFen) * 360 * 10_000
        return Int64((numerator * 2 + dayWeightedPayoutFen) / (dayWeightedPayoutFen * 2))
    }
}
