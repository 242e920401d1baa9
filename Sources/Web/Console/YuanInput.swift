import Core
import Crypto
import Foundation
import Ledger
import Leaf
import SQLKit
import Vapor

/// Amounts typed by people: yuan with at most two decimals, thousands separators allowed.
package enum YuanInput {
    package static func fen(_ text: String) -> Int64? {
        let cleaned = text.replacingOccurrences(of: ",", with: "").replacingOccurrences(of: "¥", with: "").trimmingCharacters(in: .whitespacesAndNewlines)
        guard !cleaned.isEmpty, cleaned.count <= 20 else { return nil }
        let parts = cleaned.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2, let whole = Int64(parts[0]), whole >= 0, parts[0].allSatisfy(\.isNumber) else { return nil }
        var cents: Int64 = 0
        if parts.count == 2 {
            let frac = parts[1]
            guard (1...2).contains(frac.count), frac.allSatisfy(\.isNumber), let f = Int64(frac) else { return nil }
            cents = frac.count == 1 ? f * 10 : f
        }
        let (product, overflow) = whole.multipliedReportingOverflow(by: 100)
        guard !overflow else { return nil }
        return Money.add(product, cents)
    }

    /// `¥12,345.67` without the sign, for a form field.
    package static func text(_ fen: Int64) -> String { String(Money.format(fen).drop { $0 == "¥" }) }
}
