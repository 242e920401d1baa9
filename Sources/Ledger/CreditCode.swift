/// The unified social credit code (统一社会信用代码) of GB 32100-2015: 18 characters from a
/// 31-character alphabet (no I, O, Z, S, V); characters 3–8 are the administrative division code;
/// the last is a check character computed from the first 17 modulo 31.
public enum CreditCode {
    static let alphabet = Array("0123456789ABCDEFGHJKLMNPQRTUWXY")
    static let weights = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
    static let values: [Character: Int] = Dictionary(uniqueKeysWithValues: alphabet.enumerated().map { ($1, $0) })

    /// Why `code` is not a valid credit code, or nil when it is.
    public static func problem(_ code: String) -> String? {
        let chars = Array(code)
        guard chars.count == 18 else { return "must be 18 characters" }
        var digits: [Int] = []
        for (i, c) in chars.enumerated() {
            guard let v = values[c] else { return "character \(i + 1) '\(c)' is not allowed" }
            digits.append(v)
        }
        guard (2..<8).allSatisfy({ digits[$0] < 10 }) else { return "characters 3–8 must be digits" }
        guard digits[17] == checkValue(digits[0..<17]) else {
            return "check character should be \(alphabet[checkValue(digits[0..<17])])"
        }
        return nil
    }

    public static func isValid(_ code: String) -> Bool { problem(code) == nil }

    static func checkValue(_ first17: ArraySlice<Int>) -> Int {
        let sum = zip(first17, weights).reduce(0) { $0 + $1.0 * $1.1 }
        return (31 - sum % 31) % 31
    }

    /// Completes a 17-character prefix with its check character (for seeding and tests).
    public static func complete(_ prefix: String) -> String? {
        let chars = Array(prefix)
        guard chars.count == 17 else { return nil }
        var digits: [Int] = []
        for c in chars {
            guard let v = values[c] else { return nil }
            digits.append(v)
        }
        return prefix + String(alphabet[checkValue(digits[...])])
    }
}
