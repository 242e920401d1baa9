/// Money is an integer number of fen (分), end to end. Arithmetic that could overflow is checked
/// and reported, never trapped on input from outside.
public enum Money {
    public static func add(_ a: Int64, _ b: Int64) -> Int64? {
        let (sum, overflow) = a.addingReportingOverflow(b)
        return overflow ? nil : sum
    }

    public static func subtract(_ a: Int64, _ b: Int64) -> Int64? {
        let (difference, overflow) = a.subtractingReportingOverflow(b)
        return overflow ? nil : difference
    }

    public static func sum(_ amounts: some Sequence<Int64>) -> Int64? {
        var total: Int64 = 0
        for amount in amounts {
            guard let next = add(total, amount) else { return nil }
            total = next
        }
        return total
    }

    /// Discount interest, SPEC §2: round_half_up(amountFen × rateBps × days / (10000 × 360)),
    /// in 128-bit integers so that no product of in-range inputs can overflow.
    public static func discountInterestFen(amountFen: Int64, rateBps: Int64, days: Int64) -> Int64 {
        precondition(amountFen >= 0 && rateBps >= 0 && days >= 0, "discount inputs are non-negative")
        let numerator = Int128(amountFen) * Int128(rateBps) * Int128(days)
        let denominator: Int128 = 10_000 * 360
        return Int64((numerator + denominator / 2) / denominator)
    }

    /// `¥12,345.67` for 1234567 fen.
    public static func format(_ fen: Int64) -> String {
        let negative = fen < 0
        let magnitude = fen.magnitude
        let yuan = String(magnitude / 100)
        let cents = magnitude % 100
        var grouped = ""
        for (i, ch) in yuan.enumerated() {
            if i > 0, (yuan.count - i) % 3 == 0 { grouped.append(",") }
            grouped.append(ch)
        }
        return (negative ? "-¥" : "¥") + grouped + "." + (cents < 10 ? "0" : "") + String(cents)
    }
}
