/// The stable error codes of SPEC §5. The ledger returns one of them for every refusal; the
/// server maps each to exactly one HTTP status.
public enum ErrorCode: String, Sendable, Codable, CaseIterable {
    case malformedJSON = "malformed_json"
    case unauthorized
    case forbidden
    case notHolder = "not_holder"
    case csrfFailed = "csrf_failed"
    case notFound = "not_found"
    case tokenNotActive = "token_not_active"
    case financingNotOpen = "financing_not_open"
    case insufficientCredit = "insufficient_credit"
    case creditLineUnusable = "credit_line_unusable"
    case noCreditLine = "no_credit_line"
    case tierLimitExceeded = "tier_limit_exceeded"
    case pastDue = "past_due"
    case notYetDue = "not_yet_due"
    case financingCutoff = "financing_cutoff"
    case duplicateInvoice = "duplicate_invoice"
    case orgSuspended = "org_suspended"
    case idempotencyConflict = "idempotency_conflict"
    case payloadTooLarge = "payload_too_large"
    case validationFailed = "validation_failed"
    case amountOutOfRange = "amount_out_of_range"
    case splitSumMismatch = "split_sum_mismatch"
    case termOutOfRange = "term_out_of_range"
    case invalidCounterparty = "invalid_counterparty"
    case rateLimited = "rate_limited"

    public var httpStatus: Int {
        switch self {
        case .malformedJSON: 400
        case .unauthorized: 401
        case .forbidden, .notHolder, .csrfFailed: 403
        case .notFound: 404
        case .tokenNotActive, .financingNotOpen, .insufficientCredit, .creditLineUnusable, .noCreditLine,
            .tierLimitExceeded, .pastDue, .notYetDue, .financingCutoff, .duplicateInvoice, .orgSuspended,
            .idempotencyConflict:
            409
        case .payloadTooLarge: 413
        case .validationFailed, .amountOutOfRange, .splitSumMismatch, .termOutOfRange, .invalidCounterparty: 422
        case .rateLimited: 429
        }
    }
}

public struct FieldError: Sendable, Equatable, Codable {
    public var field: String
    public var message: String
    public init(field: String, message: String) {
        self.field = field
        self.message = message
    }
}

/// One precise refusal: a stable code, a sentence a person can act on, and for
/// `validation_failed` the fields at fault.
public struct LedgerError: Error, Sendable, Equatable, CustomStringConvertible {
    public var code: ErrorCode
    public var message: String
    public var fields: [FieldError]

    public init(_ code: ErrorCode, _ message: String, fields: [FieldError] = []) {
        self.code = code
        self.message = message
        self.fields = fields
    }

    public static func invalid(_ field: String, _ message: String) -> LedgerError {
        LedgerError(.validationFailed, "\(field): \(message)", fields: [FieldError(field: field, message: message)])
    }

    /// The refusals of a signer's key, the same whether the rules or a server's signature check
    /// find them first.
    static func unregisteredSigner(_ orgId: OrgID) -> LedgerError {
        LedgerError(.unauthorized, "signing org \(orgId) is not registered")
    }

    static func notCurrentKey(_ keyId: String, of orgId: OrgID) -> LedgerError {
        LedgerError(.unauthorized, "keyId \(keyId) is not the current key of org \(orgId)")
    }

    static func notOperatorKey(_ keyId: String) -> LedgerError {
        LedgerError(.unauthorized, "keyId \(keyId) is not the key the operator registers")
    }

    public var description: String { "\(code.rawValue): \(message)" }
}

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
    public static let maxDocumentNumberLength = 100
    public static let maxFileNameLength = 255
    public static let maxNonceLength = 64
    public static let maxTransactionsPerBlock = 10_000
}
