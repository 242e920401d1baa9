/// Bounds on everything (STYLE: put a limit on everything).
public enum Limits {
    /// Largest amount anywhere on the ledger: 10^15 fen, the credit line ceiling.
    public static let maxAmountFen: Int64 = 1_000_000_000_000_000
    public static let maxRateBps: Int64 = 10_000
    public static let maxSplitPieces = 100
    public static let minSplitPieces = 2
    public static let maxDocuments = 50
    public static let maxSettleTokens = 10_000
    public static let maxNameLength = 200
    public static let maxMemoLength = 500
    public static let maxReferenceLength = 128
    /// A 中登网 registration number (SPEC §3), and the reasons of a term review or a recorded default.
    public static let maxFilingNumberLength = 40
    public static let maxReasonLength = 200
    public static let maxDocumentNumberLength = 100
    public static let maxFileNameLength = 255
    public static let maxNonceLength = 64
    public static let maxTransactionsPerBlock = 10_000
    public static let maxEmailLength = 254

    /// The one rule for free text written from now on, on the ledger and beside it (names, memos,
    /// payment references, document numbers, file names, emails): 1 to `maxLength` characters
    /// (Unicode scalars),
    /// none of them a C0 control (U+0000–U+001F, line breaks and tabs included), DEL or a C1
    /// control (U+0080–U+009F). PostgreSQL cannot store U+0000 in text at all, and the others
    /// hide, reorder or break what a person reads in a table, a CSV file or a bank's statement.
    /// Unpaired surrogates cannot reach a `String`: the JSON parser refuses them where they stand.
    ///
    /// The chain format itself (SPEC §4, and the conformance vectors) admits any string: replay
    /// checks lengths only (`controls: true`), so a chain written under older rules still
    /// verifies. The gate applies the whole rule to every new transaction, and so is stricter
    /// than replay, never looser. Returns why `text` is refused, or nil.
    public static func textProblem(_ text: String, maxLength: Int, controls: Bool = false) -> String? {
        if !controls {
            var previous: UInt8 = 0
            for byte in text.utf8 {
                // In UTF-8 a C1 control is 0xC2 followed by 0x80–0x9F; either way the byte is the
                // scalar's value (0xC2 0x85 is U+0085).
                if byte < 0x20 || byte == 0x7F || (previous == 0xC2 && byte <= 0x9F) {
                    let hex = String(byte, radix: 16, uppercase: true)
                    return "must not contain control characters (found U+\(String(repeating: "0", count: 4 - hex.count) + hex))"
                }
                previous = byte
            }
        }
        // Characters never outnumber UTF-8 bytes: count them only when the bytes could be too many.
        // New text counts Unicode scalars, as JSON Schema's maxLength does (so the OpenAPI
        // document states the bound exactly); a scalar count is never below the character count,
        // so the gate stays stricter than replay.
        guard !text.isEmpty, text.utf8.count <= maxLength || (controls ? text.count : text.unicodeScalars.count) <= maxLength else {
            return "must be 1 to \(maxLength) characters"
        }
        return nil
    }

    /// `textProblem` as the refusal of `field`.
    public static func checkText(_ text: String, field: String, maxLength: Int) throws(LedgerError) {
        if let problem = textProblem(text, maxLength: maxLength) { throw LedgerError.invalid(field, problem) }
    }
}
