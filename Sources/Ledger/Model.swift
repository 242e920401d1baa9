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

    public init(id: TxID, number: String, issuerId: OrgID, firstHolderId: OrgID, creditLineId: TxID, faceFen: Int64, paidFen: Int64, issueDate: BusinessDate, dueDate: BusinessDate, documents: [Document], memo: String?, status: ReceivableStatus, firstTokenId: TokenID) {
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

    public init(id: TxID, tokenId: TokenID, receivableId: TxID, supplierId: OrgID, bankId: OrgID, creditLineId: TxID, amountFen: Int64, rateBps: Int64, days: Int64, interestFen: Int64, payoutFen: Int64, status: FinancingStatus, requestedOn: BusinessDate, bankTokenId: TokenID? = nil, payoutReference: String? = nil) {
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
    }
}
