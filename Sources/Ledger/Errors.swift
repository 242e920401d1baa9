/// The stable error codes of SPEC §5. The ledger returns one of them for every refusal; the
/// server maps each to exactly one HTTP status (the App's problem mapping: the ledger knows
/// nothing of HTTP).
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
    /// Format 2 (银发〔2025〕77号): a core enterprise in default issues nothing; a long term needs
    /// the bank's review; an approval names its 中登网 filing.
    case issuerInDefault = "issuer_in_default"
    case termReviewRequired = "term_review_required"
    case filingRequired = "filing_required"
    /// An early payment not in the state the operation needs.
    case earlyPaymentNotOpen = "early_payment_not_open"
    case idempotencyConflict = "idempotency_conflict"
    case payloadTooLarge = "payload_too_large"
    case validationFailed = "validation_failed"
    case amountOutOfRange = "amount_out_of_range"
    case splitSumMismatch = "split_sum_mismatch"
    case termOutOfRange = "term_out_of_range"
    case invalidCounterparty = "invalid_counterparty"
    case rateLimited = "rate_limited"
    /// The password was right; this user signs in with a second factor too, and none came.
    case otpRequired = "otp_required"
    /// The approval was decided already (or is being performed): only a pending one is decided.
    case approvalNotPending = "approval_not_pending"
    /// The payer's wallet does not hold what the payment needs.
    case insufficientBalance = "insufficient_balance"
    /// The writer cannot reach its database just now (or cannot say whether a block was written):
    /// the caller retries after `Retry-After` seconds.
    case unavailable
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
