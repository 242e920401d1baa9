/// The objects of SPEC §3, as the ledger state holds them.

public enum OrgRole: String, Sendable, Codable, CaseIterable {
    case `operator`, core, supplier, bank, regulator
}

public enum OrgStatus: String, Sendable, Codable, CaseIterable {
    case active, suspended
}

public struct Org: Sendable, Equatable {
    public var id: OrgID
    public var name: String
    public var role: OrgRole
    public var creditCode: String
    public var publicKey: [UInt8]
    public var keyId: String
    public var status: OrgStatus
    public var registeredTx: TxID
    /// A default the operator recorded for a core enterprise (`recordDefault`), and its reason.
    /// An `overdue` receivable puts its issuer in default too; `LedgerState.inDefault` says both.
    public var inDefault = false
    public var defaultReason: String?
}

public enum CreditLineStatus: String, Sendable, Codable, CaseIterable {
    case active, frozen
}

public struct CreditLine: Sendable, Equatable {
    public var id: TxID
    public var bankId: OrgID
    public var coreId: OrgID
    public var limitFen: Int64
    public var usedFen: Int64
    public var rateBps: Int64
    public var expiresOn: BusinessDate
    public var status: CreditLineStatus
    public var createdTx: TxID

    /// SPEC §3: usable while `active` and through its `expiresOn` date, inclusive.
    public func isUsable(on date: BusinessDate) -> Bool { status == .active && date <= expiresOn }

    public var availableFen: Int64 { max(0, limitFen - usedFen) }

    public init(id: TxID, bankId: OrgID, coreId: OrgID, limitFen: Int64, usedFen: Int64, rateBps: Int64, expiresOn: BusinessDate, status: CreditLineStatus, createdTx: TxID) {
        self.id = id
        self.bankId = bankId
        self.coreId = coreId
        self.limitFen = limitFen
        self.usedFen = usedFen
        self.rateBps = rateBps
        self.expiresOn = expiresOn
        self.status = status
        self.createdTx = createdTx
    }
}

public enum ReceivableStatus: String, Sendable, Codable, CaseIterable {
    case pending, active, settled, rejected, overdue
}

public enum DocumentKind: String, Sendable, Codable, CaseIterable {
    case contract, invoice, delivery, other
}

public struct Document: Sendable, Equatable, Codable {
    public var kind: DocumentKind
    public var sha256: String
    public var number: String?
    public var fileName: String?

    public init(kind: DocumentKind, sha256: String, number: String? = nil, fileName: String? = nil) {
        self.kind = kind
        self.sha256 = sha256
        self.number = number
        self.fileName = fileName
    }

    /// `{kind, sha256, number?, fileName?}`, as on the chain and in every answer.
    public var json: JSON {
        var fields: [JSONKey: JSON] = ["kind": .string(kind.rawValue), "sha256": .string(sha256)]
        if let number { fields["number"] = .string(number) }
        if let fileName { fields["fileName"] = .string(fileName) }
        return .object(fields)
    }
}

public struct Receivable: Sendable, Equatable {
    public var id: TxID
    public var number: String
    public var issuerId: OrgID
    public var firstHolderId: OrgID
    public var creditLineId: TxID
    public var faceFen: Int64
    public var paidFen: Int64
    public var issueDate: BusinessDate
    public var dueDate: BusinessDate
    public var documents: [Document]
    public var memo: String?
    public var status: ReceivableStatus
    public var firstTokenId: TokenID
    /// Format 2: issued with a term longer than `reviewTermDays`, so its financings need the
    /// bank's term review.
    public var termReview: Bool
    /// The business date it became `overdue`, if it ever did: once settled, it was paid late.
    public var overdueOn: BusinessDate?

    public init(id: TxID, number: String, issuerId: OrgID, firstHolderId: OrgID, creditLineId: TxID, faceFen: Int64, paidFen: Int64, issueDate: BusinessDate, dueDate: BusinessDate, documents: [Document], memo: String?, status: ReceivableStatus, firstTokenId: TokenID, termReview: Bool = false, overdueOn: BusinessDate? = nil) {
        self.id = id
        self.number = number
        self.issuerId = issuerId
        self.firstHolderId = firstHolderId
        self.creditLineId = creditLineId
        self.faceFen = faceFen
        self.paidFen = paidFen
        self.issueDate = issueDate
        self.dueDate = dueDate
        self.documents = documents
        self.memo = memo
        self.status = status
        self.firstTokenId = firstTokenId
        self.termReview = termReview
        self.overdueOn = overdueOn
    }
}

public enum TokenStatus: String, Sendable, Codable, CaseIterable {
    case pending, active, locked, spent, settled, expired
}

public struct Token: Sendable, Equatable {
    public var id: TokenID
    public var receivableId: TxID
    public var parentId: TokenID?
    public var holderId: OrgID
    public var amountFen: Int64
    public var tier: Int64
    public var status: TokenStatus
    public var createdTx: TxID
    public var spentTx: TxID?
    /// The business date the token was created: for a `pending` offer, the day it was made.
    public var createdOn: BusinessDate

    public init(id: TokenID, receivableId: TxID, parentId: TokenID?, holderId: OrgID, amountFen: Int64, tier: Int64,
                status: TokenStatus, createdTx: TxID, spentTx: TxID?, createdOn: BusinessDate) {
        self.id = id
        self.receivableId = receivableId
        self.parentId = parentId
        self.holderId = holderId
        self.amountFen = amountFen
        self.tier = tier
        self.status = status
        self.createdTx = createdTx
        self.spentTx = spentTx
        self.createdOn = createdOn
    }
}

/// A bank's registration of a financing's assignment at 中登网 (动产融资统一登记公示系统).
public struct Filing: Sendable, Equatable {
    public var number: String
    public var filedOn: BusinessDate

    public init(number: String, filedOn: BusinessDate) {
        self.number = number
        self.filedOn = filedOn
    }

    /// 1–40 characters of `0-9 A-Z a-z -` (SPEC §3).
    public static func numberProblem(_ number: String) -> String? {
        let ok = !number.isEmpty && number.utf8.count <= Limits.maxFilingNumberLength
            && number.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x2D }
        return ok ? nil : "must be 1 to \(Limits.maxFilingNumberLength) characters of 0-9, A-Z, a-z and -"
    }

    public var json: JSON { .object(["number": .string(number), "filedOn": .string(filedOn.description)]) }
}

public enum FinancingStatus: String, Sendable, Codable, CaseIterable {
    case requested, approved, paid, rejected, cancelled
}

public struct Financing: Sendable, Equatable {
    public var id: TxID
    public var tokenId: TokenID
    public var receivableId: TxID
    public var supplierId: OrgID
    public var bankId: OrgID
    public var creditLineId: TxID
    public var amountFen: Int64
    public var rateBps: Int64
    public var days: Int64
    public var interestFen: Int64
    public var payoutFen: Int64
    public var status: FinancingStatus
    public var requestedOn: BusinessDate
    /// The token the bank holds once the financing is approved.
    public var bankTokenId: TokenID?
    public var payoutReference: String?
    /// 有追索权: the supplier answers to the bank if the core enterprise does not pay.
    public var recourse: Bool
    /// From the approval: the bank's 中登网 filing, and its term review's reason.
    public var filing: Filing?
    public var termReview: String?

    public init(id: TxID, tokenId: TokenID, receivableId: TxID, supplierId: OrgID, bankId: OrgID, creditLineId: TxID, amountFen: Int64, rateBps: Int64, days: Int64, interestFen: Int64, payoutFen: Int64, status: FinancingStatus, requestedOn: BusinessDate, bankTokenId: TokenID? = nil, payoutReference: String? = nil,
                recourse: Bool = false, filing: Filing? = nil, termReview: String? = nil) {
        self.id = id
        self.tokenId = tokenId
        self.receivableId = receivableId
        self.supplierId = supplierId
        self.bankId = bankId
        self.creditLineId = creditLineId
        self.amountFen = amountFen
        self.rateBps = rateBps
        self.days = days
        self.interestFen = interestFen
        self.payoutFen = payoutFen
        self.status = status
        self.requestedOn = requestedOn
        self.bankTokenId = bankTokenId
        self.payoutReference = payoutReference
        self.recourse = recourse
        self.filing = filing
        self.termReview = termReview
    }
}

public enum EarlyPaymentStatus: String, Sendable, Codable, CaseIterable {
    case requested, approved, paid, rejected, cancelled
}

/// 提前付款 (SPEC §3): a supplier offers an active token to its issuer, to be paid now at the
/// supplier's rate instead of at maturity. The amounts are fixed at request time.
public struct EarlyPayment: Sendable, Equatable {
    public var id: TxID
    public var tokenId: TokenID
    public var receivableId: TxID
    public var supplierId: OrgID
    public var issuerId: OrgID
    public var amountFen: Int64
    public var rateBps: Int64
    public var days: Int64
    public var discountFen: Int64
    public var payoutFen: Int64
    public var status: EarlyPaymentStatus
    public var requestedOn: BusinessDate
    /// The payment rail's reference, once confirmed.
    public var reference: String?

    public init(id: TxID, tokenId: TokenID, receivableId: TxID, supplierId: OrgID, issuerId: OrgID, amountFen: Int64, rateBps: Int64, days: Int64,
                discountFen: Int64, payoutFen: Int64, status: EarlyPaymentStatus, requestedOn: BusinessDate, reference: String? = nil) {
        self.id = id
        self.tokenId = tokenId
        self.receivableId = receivableId
        self.supplierId = supplierId
        self.issuerId = issuerId
        self.amountFen = amountFen
        self.rateBps = rateBps
        self.days = days
        self.discountFen = discountFen
        self.payoutFen = payoutFen
        self.status = status
        self.requestedOn = requestedOn
        self.reference = reference
    }
}
