/// A calendar date in the Asia/Shanghai business calendar (UTC+8, no daylight saving), stored as
/// days since 1970-01-01. Every date rule is judged on these.
public struct BusinessDate: Sendable, Hashable, Comparable, CustomStringConvertible, Codable {
    public var dayNumber: Int64

    public init(dayNumber: Int64) { self.dayNumber = dayNumber }

    static let shanghaiOffsetMs: Int64 = 8 * 3_600_000
    static let msPerDay: Int64 = 86_400_000

    /// The business date of a ledger time (milliseconds since the epoch).
    public init(epochMs: Int64) {
        let shifted = epochMs + Self.shanghaiOffsetMs
        dayNumber = shifted >= 0 ? shifted / Self.msPerDay : (shifted - Self.msPerDay + 1) / Self.msPerDay
    }

    /// Parses exactly `YYYY-MM-DD` naming a real calendar day.
    public init?(_ text: String) {
        let u = Array(text.utf8)
        guard u.count == 10, u[4] == UInt8(ascii: "-"), u[7] == UInt8(ascii: "-") else { return nil }
        func number(_ range: Range<Int>) -> Int64? {
            var v: Int64 = 0
            for k in range {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(u[k]) else { return nil }
                v = v * 10 + Int64(u[k] - UInt8(ascii: "0"))
            }
            return v
        }
        guard let y = number(0..<4), let m = number(5..<7), let d = number(8..<10),
            y >= 1900, (1...12).contains(m), d >= 1, d <= Self.daysInMonth(year: y, month: m)
        else { return nil }
        dayNumber = Self.daysFromCivil(year: y, month: m, day: d)
    }

    public init(year: Int64, month: Int64, day: Int64) {
        dayNumber = Self.daysFromCivil(year: year, month: month, day: day)
    }

    public static func daysInMonth(year: Int64, month: Int64) -> Int64 {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    // Howard Hinnant's days_from_civil / civil_from_days: exact proleptic Gregorian arithmetic.
    static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    public var components: (year: Int64, month: Int64, day: Int64) {
        let z = dayNumber + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }

    public var description: String {
        let (y, m, d) = components
        func pad(_ v: Int64, _ width: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))"
    }

    /// The first millisecond of this business day.
    public var startEpochMs: Int64 { dayNumber * Self.msPerDay - Self.shanghaiOffsetMs }

    public func adding(days: Int64) -> BusinessDate { BusinessDate(dayNumber: dayNumber + days) }

    public func days(until other: BusinessDate) -> Int64 { other.dayNumber - dayNumber }

    public static func < (a: BusinessDate, b: BusinessDate) -> Bool { a.dayNumber < b.dayNumber }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let date = BusinessDate(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "expected YYYY-MM-DD"))
        }
        self = date
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}
