/// Operator-configurable limits, enforced by the ledger itself (SPEC §2).
public struct Policy: Sendable, Equatable, Codable {
    public var maxTermDays: Int64 = 365
    public var minTermDays: Int64 = 1
    public var minPieceFen: Int64 = 1
    public var maxFaceFen: Int64 = 100_000_000_000
    public var maxTier: Int64 = 10
    public var acceptanceWindowDays: Int64 = 3
    public var financingCutoffDays: Int64 = 3
    public var graceDays: Int64 = 0
    /// Format 2 (银发〔2025〕77号). Absent on chains written before them, and then off: no term
    /// review, no filing, no default check. A new genesis sets them (`Policy.format2`).
    public var reviewTermDays: Int64?
    public var filingRequired: Bool?
    public var defaultBlocksIssue: Bool?

    public init() {}

    /// The policy a new genesis sets: every value at its default, the format-2 rules on.
    public static var format2: Policy {
        var p = Policy()
        p.reviewTermDays = 183
        p.filingRequired = true
        p.defaultBlocksIssue = true
        return p
    }

    /// Whether each format-2 rule is on.
    public var termReviewOn: Bool { reviewTermDays != nil }
    public var filingOn: Bool { filingRequired == true }
    public var defaultCheckOn: Bool { defaultBlocksIssue == true }

    /// The fields as on the chain: a format-2 field that is absent stays absent.
    public var json: JSON {
        var fields: [JSONKey: JSON] = [
            "maxTermDays": .int(maxTermDays), "minTermDays": .int(minTermDays),
            "minPieceFen": .int(minPieceFen), "maxFaceFen": .int(maxFaceFen), "maxTier": .int(maxTier),
            "acceptanceWindowDays": .int(acceptanceWindowDays),
            "financingCutoffDays": .int(financingCutoffDays), "graceDays": .int(graceDays),
        ]
        if let reviewTermDays { fields["reviewTermDays"] = .int(reviewTermDays) }
        if let filingRequired { fields["filingRequired"] = .bool(filingRequired) }
        if let defaultBlocksIssue { fields["defaultBlocksIssue"] = .bool(defaultBlocksIssue) }
        return .object(fields)
    }

    /// Largest values a policy may take; they keep every date and amount computation in range.
    public static let maxDays: Int64 = 36_500
    public static let maxTierLimit: Int64 = 1_000

    /// The first problem with these values, as a field error, or nil.
    public func problem() -> FieldError? {
        func check(_ name: String, _ value: Int64, _ range: ClosedRange<Int64>) -> FieldError? {
            range.contains(value) ? nil : FieldError(field: "policy.\(name)", message: "must be between \(range.lowerBound) and \(range.upperBound)")
        }
        return check("maxTermDays", maxTermDays, 0...Self.maxDays)
            ?? check("minTermDays", minTermDays, 0...maxTermDays)
            ?? check("minPieceFen", minPieceFen, 1...Limits.maxAmountFen)
            ?? check("maxFaceFen", maxFaceFen, minPieceFen...Limits.maxAmountFen)
            ?? check("maxTier", maxTier, 1...Self.maxTierLimit)
            ?? check("acceptanceWindowDays", acceptanceWindowDays, 0...Self.maxDays)
            ?? check("financingCutoffDays", financingCutoffDays, 0...Self.maxDays)
            ?? check("graceDays", graceDays, 0...Self.maxDays)
            ?? reviewTermDays.flatMap { check("reviewTermDays", $0, 0...Self.maxDays) }
    }
}
