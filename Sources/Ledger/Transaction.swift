/// The ledger operations of SPEC §3–4: the 19 of format 1, and format 2's `recordDefault` and
/// five of early payment.
public enum TxType: String, Sendable, Codable, CaseIterable {
    case registerOrg, rotateKey, setOrgStatus, setPolicy
    case grantCredit, updateCredit
    case issue, accept, reject, transfer, split
    case requestFinancing, approveFinancing, rejectFinancing, cancelFinancing, confirmPayout
    case settle, expireOffer, markOverdue
    case recordDefault
    case requestEarlyPayment, approveEarlyPayment, rejectEarlyPayment, cancelEarlyPayment, confirmEarlyPayment

    /// The one org role that may sign this operation.
    public var signerRole: OrgRole {
        switch self {
        case .registerOrg, .rotateKey, .setOrgStatus, .setPolicy, .expireOffer, .markOverdue, .recordDefault: .operator
        case .grantCredit, .updateCredit, .approveFinancing, .rejectFinancing, .confirmPayout: .bank
        case .issue, .settle, .approveEarlyPayment, .rejectEarlyPayment, .confirmEarlyPayment: .core
        case .accept, .reject, .transfer, .split, .requestFinancing, .cancelFinancing, .requestEarlyPayment, .cancelEarlyPayment: .supplier
        }
    }
}

public struct RegisterOrgPayload: Sendable, Equatable {
    public var orgId: OrgID
    public var name: String
    public var role: OrgRole
    public var creditCode: String
    public var publicKey: [UInt8]
    public init(orgId: OrgID, name: String, role: OrgRole, creditCode: String, publicKey: [UInt8]) {
        self.orgId = orgId
        self.name = name
        self.role = role
        self.creditCode = creditCode
        self.publicKey = publicKey
    }
}

public struct UpdateCreditPayload: Sendable, Equatable {
    public var creditLineId: TxID
    public var limitFen: Int64?
    public var rateBps: Int64?
    public var expiresOn: BusinessDate?
    public var status: CreditLineStatus?
    public init(creditLineId: TxID, limitFen: Int64? = nil, rateBps: Int64? = nil, expiresOn: BusinessDate? = nil, status: CreditLineStatus? = nil) {
        self.creditLineId = creditLineId
        self.limitFen = limitFen
        self.rateBps = rateBps
        self.expiresOn = expiresOn
        self.status = status
    }
}

public struct IssuePayload: Sendable, Equatable {
    public var supplierId: OrgID
    public var creditLineId: TxID
    public var faceFen: Int64
    public var issueDate: BusinessDate
    public var dueDate: BusinessDate
    public var documents: [Document]
    public var memo: String?
    public init(supplierId: OrgID, creditLineId: TxID, faceFen: Int64, issueDate: BusinessDate, dueDate: BusinessDate, documents: [Document], memo: String? = nil) {
        self.supplierId = supplierId
        self.creditLineId = creditLineId
        self.faceFen = faceFen
        self.issueDate = issueDate
        self.dueDate = dueDate
        self.documents = documents
        self.memo = memo
    }
}

/// A typed payload; `json` is its on-chain form and `Payload(type:json:)` reads it back strictly.
public enum Payload: Sendable, Equatable {
    case registerOrg(RegisterOrgPayload)
    case rotateKey(orgId: OrgID, publicKey: [UInt8])
    case setOrgStatus(orgId: OrgID, status: OrgStatus)
    case setPolicy(Policy)
    case grantCredit(coreId: OrgID, limitFen: Int64, rateBps: Int64, expiresOn: BusinessDate)
    case updateCredit(UpdateCreditPayload)
    case issue(IssuePayload)
    case accept(tokenId: TokenID)
    case reject(tokenId: TokenID)
    case transfer(tokenId: TokenID, toOrgId: OrgID, amountFen: Int64, memo: String?)
    case split(tokenId: TokenID, amountsFen: [Int64])
    /// `recourse` as written: absent (nil) and `false` are two payloads, both without recourse.
    case requestFinancing(tokenId: TokenID, bankId: OrgID, recourse: Bool? = nil)
    case approveFinancing(financingId: TxID, filing: Filing? = nil, termReview: String? = nil)
    case rejectFinancing(financingId: TxID)
    case cancelFinancing(financingId: TxID)
    case confirmPayout(financingId: TxID, reference: String)
    case settle(receivableId: TxID, tokenIds: [TokenID], reference: String)
    case expireOffer(tokenId: TokenID)
    case markOverdue(receivableId: TxID)
    case recordDefault(orgId: OrgID, inDefault: Bool, reason: String)
    case requestEarlyPayment(tokenId: TokenID, rateBps: Int64)
    case approveEarlyPayment(earlyPaymentId: TxID)
    case rejectEarlyPayment(earlyPaymentId: TxID)
    case cancelEarlyPayment(earlyPaymentId: TxID)
    case confirmEarlyPayment(earlyPaymentId: TxID, reference: String)

    public var type: TxType {
        switch self {
        case .registerOrg: .registerOrg
        case .rotateKey: .rotateKey
        case .setOrgStatus: .setOrgStatus
        case .setPolicy: .setPolicy
        case .grantCredit: .grantCredit
        case .updateCredit: .updateCredit
        case .issue: .issue
        case .accept: .accept
        case .reject: .reject
        case .transfer: .transfer
        case .split: .split
        case .requestFinancing: .requestFinancing
        case .approveFinancing: .approveFinancing
        case .rejectFinancing: .rejectFinancing
        case .cancelFinancing: .cancelFinancing
        case .confirmPayout: .confirmPayout
        case .settle: .settle
        case .expireOffer: .expireOffer
        case .markOverdue: .markOverdue
        case .recordDefault: .recordDefault
        case .requestEarlyPayment: .requestEarlyPayment
        case .approveEarlyPayment: .approveEarlyPayment
        case .rejectEarlyPayment: .rejectEarlyPayment
        case .cancelEarlyPayment: .cancelEarlyPayment
        case .confirmEarlyPayment: .confirmEarlyPayment
        }
    }

    /// The token the transaction reads first, where it names one.
    var spentToken: TokenID? {
        switch self {
        case .accept(let t), .reject(let t), .transfer(let t, _, _, _), .split(let t, _), .requestFinancing(let t, _, _), .expireOffer(let t),
             .requestEarlyPayment(let t, _): t
        default: nil
        }
    }

    /// Whether the strict reader reads this payload's on-chain form back as it is: every bound of
    /// `Limits` holds. The gate checks it before the writer; the rules assert it.
    public var readsBack: Bool {
        guard let parsed = try? JSON.parse(json.canonicalBytes) else { return false }
        return (try? Payload(type: type, json: parsed, text: .chain)) == self
    }

    /// The most tokens the transaction creates when applied: what a replay of known length
    /// reserves room for.
    public var maxTokensCreated: Int {
        switch self {
        case .issue, .reject, .expireOffer, .approveFinancing: 1
        case .transfer: 2
        case .split(_, let amounts): amounts.count
        default: 0
        }
    }

    public var json: JSON {
        func obj(_ pairs: [(String, JSON?)]) -> JSON {
            var fields: [JSONKey: JSON] = [:]
            for (k, v) in pairs { if let v { fields[k] = v } }
            return .object(fields)
        }
        func str(_ s: String?) -> JSON? { s.map(JSON.string) }
        func id(_ v: some CustomStringConvertible) -> JSON { .string(v.description) }
        switch self {
        case .registerOrg(let p):
            return obj([("orgId", id(p.orgId)), ("name", .string(p.name)), ("role", .string(p.role.rawValue)),
                        ("creditCode", .string(p.creditCode)), ("publicKey", .string(Base64.encode(p.publicKey)))])
        case .rotateKey(let orgId, let key):
            return obj([("orgId", id(orgId)), ("publicKey", .string(Base64.encode(key)))])
        case .setOrgStatus(let orgId, let status):
            return obj([("orgId", id(orgId)), ("status", .string(status.rawValue))])
        case .setPolicy(let policy):
            return obj([("policy", policy.json)])
        case .grantCredit(let coreId, let limitFen, let rateBps, let expiresOn):
            return obj([("coreId", id(coreId)), ("limitFen", .int(limitFen)), ("rateBps", .int(rateBps)),
                        ("expiresOn", .string(expiresOn.description))])
        case .updateCredit(let p):
            return obj([("creditLineId", id(p.creditLineId)), ("limitFen", p.limitFen.map(JSON.int)),
                        ("rateBps", p.rateBps.map(JSON.int)), ("expiresOn", str(p.expiresOn?.description)),
                        ("status", str(p.status?.rawValue))])
        case .issue(let p):
            let docs = p.documents.map(\.json)
            return obj([("supplierId", id(p.supplierId)), ("creditLineId", id(p.creditLineId)),
                        ("faceFen", .int(p.faceFen)), ("issueDate", .string(p.issueDate.description)),
                        ("dueDate", .string(p.dueDate.description)), ("documents", .array(docs)), ("memo", str(p.memo))])
        case .accept(let tokenId), .reject(let tokenId), .expireOffer(let tokenId):
            return obj([("tokenId", id(tokenId))])
        case .transfer(let tokenId, let toOrgId, let amountFen, let memo):
            return obj([("tokenId", id(tokenId)), ("toOrgId", id(toOrgId)), ("amountFen", .int(amountFen)),
                        ("memo", str(memo))])
        case .split(let tokenId, let amounts):
            return obj([("tokenId", id(tokenId)), ("amountsFen", .array(amounts.map(JSON.int)))])
        case .requestFinancing(let tokenId, let bankId, let recourse):
            return obj([("tokenId", id(tokenId)), ("bankId", id(bankId)), ("recourse", recourse.map(JSON.bool))])
        case .approveFinancing(let financingId, let filing, let termReview):
            return obj([("financingId", id(financingId)), ("filing", filing?.json),
                        ("termReview", termReview.map { JSON.object(["reason": .string($0)]) })])
        case .rejectFinancing(let financingId), .cancelFinancing(let financingId):
            return obj([("financingId", id(financingId))])
        case .confirmPayout(let financingId, let reference):
            return obj([("financingId", id(financingId)), ("reference", .string(reference))])
        case .settle(let receivableId, let tokenIds, let reference):
            return obj([("receivableId", id(receivableId)), ("tokenIds", .array(tokenIds.map { id($0) })),
                        ("reference", .string(reference))])
        case .markOverdue(let receivableId):
            return obj([("receivableId", id(receivableId))])
        case .recordDefault(let orgId, let inDefault, let reason):
            return obj([("orgId", id(orgId)), ("inDefault", .bool(inDefault)), ("reason", .string(reason))])
        case .requestEarlyPayment(let tokenId, let rateBps):
            return obj([("tokenId", id(tokenId)), ("rateBps", .int(rateBps))])
        case .approveEarlyPayment(let e), .rejectEarlyPayment(let e), .cancelEarlyPayment(let e):
            return obj([("earlyPaymentId", id(e))])
        case .confirmEarlyPayment(let e, let reference):
            return obj([("earlyPaymentId", id(e)), ("reference", .string(reference))])
        }
    }
}

// MARK: - Strict decoding

/// Which strings a reader admits: `chain`, what the chain format allows (replay reads any chain
/// written to SPEC §4); `new`, the whole text rule, which the gate applies to new transactions.
public enum TextRule: Sendable, Equatable {
    case chain
    case new
}

/// Reads one JSON object field by field, refusing wrong types, bad formats and unknown fields.
struct FieldReader {
    let fields: [JSONKey: JSON]
    let path: String
    /// What strings may hold: the chain format's rule (replay), or the whole text rule of
    /// `Limits.textProblem` (the gate, for new transactions).
    let text: TextRule
    /// The fields read so far (a short list: cheaper than a set for objects of a few fields).
    private var read: [JSONKey] = []

    init(_ json: JSON?, path: String, text: TextRule) throws(LedgerError) {
        guard case .object(let f)? = json else { throw LedgerError.invalid(path.isEmpty ? "body" : path, "must be an object") }
        fields = f
        self.path = path
        self.text = text
    }

    /// A reader of the object under this one's `path`, with the same text rule.
    func nested(_ json: JSON?, path: String) throws(LedgerError) -> FieldReader {
        try FieldReader(json, path: path, text: text)
    }

    func name(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    mutating func value(_ key: String) -> JSON? {
        let k = JSONKey(key)
        read.append(k)
        return fields[k]
    }

    mutating func string(_ key: String, maxLength: Int = 256, optional: Bool = false) throws(LedgerError) -> String? {
        guard let v = value(key) else {
            if optional { return nil }
            throw LedgerError.invalid(name(key), "is required")
        }
        guard case .string(let s) = v else { throw LedgerError.invalid(name(key), "must be a string") }
        if let problem = Limits.textProblem(s, maxLength: maxLength, controls: text == .chain) {
            throw LedgerError.invalid(name(key), problem)
        }
        return s
    }

    mutating func required(_ key: String, maxLength: Int = 256) throws(LedgerError) -> String {
        try string(key, maxLength: maxLength)!
    }

    mutating func int(_ key: String, optional: Bool = false) throws(LedgerError) -> Int64? {
        guard let v = value(key) else {
            if optional { return nil }
            throw LedgerError.invalid(name(key), "is required")
        }
        guard case .int(let n) = v else { throw LedgerError.invalid(name(key), "must be an integer") }
        return n
    }

    mutating func requiredInt(_ key: String) throws(LedgerError) -> Int64 { try int(key)! }

    mutating func bool(_ key: String, optional: Bool = false) throws(LedgerError) -> Bool? {
        guard let v = value(key) else {
            if optional { return nil }
            throw LedgerError.invalid(name(key), "is required")
        }
        guard case .bool(let b) = v else { throw LedgerError.invalid(name(key), "must be a boolean") }
        return b
    }

    mutating func format(_ key: String, optional: Bool = false, _ check: (String) -> Bool, _ expected: String) throws(LedgerError) -> String? {
        guard let s = try string(key, optional: optional) else { return nil }
        guard check(s) else { throw LedgerError.invalid(name(key), "must be \(expected)") }
        return s
    }

    mutating func typedId<I>(_ key: String, _ parse: (String) -> I?, _ expected: String) throws(LedgerError) -> I {
        let s = try required(key, maxLength: 64)
        guard let v = parse(s) else { throw LedgerError.invalid(name(key), "must be \(expected)") }
        return v
    }

    mutating func orgId(_ key: String) throws(LedgerError) -> OrgID { try typedId(key, OrgID.init, "a lowercase UUID") }
    mutating func txRef(_ key: String) throws(LedgerError) -> TxID { try typedId(key, TxID.init, "64 lowercase hex characters") }
    mutating func tokenRef(_ key: String) throws(LedgerError) -> TokenID { try typedId(key, TokenID.init, "32 lowercase hex characters") }

    mutating func date(_ key: String, optional: Bool = false) throws(LedgerError) -> BusinessDate? {
        guard let s = try string(key, maxLength: 10, optional: optional) else { return nil }
        guard let d = BusinessDate(s) else { throw LedgerError.invalid(name(key), "must be a date YYYY-MM-DD") }
        return d
    }

    mutating func enumValue<E: RawRepresentable & CaseIterable>(_ key: String, optional: Bool = false, _: E.Type) throws(LedgerError) -> E? where E.RawValue == String {
        guard let s = try string(key, optional: optional) else { return nil }
        guard let e = E(rawValue: s) else {
            throw LedgerError.invalid(name(key), "must be one of \(E.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return e
    }

    mutating func publicKey(_ key: String) throws(LedgerError) -> [UInt8] {
        let s = try required(key)
        // Which of the two the chain takes is its profile's to say (the rules check it).
        guard let raw = Base64.decode(s), raw.count == 32 || raw.count == GuoMi.publicKeyLength else {
            throw LedgerError.invalid(name(key), "must be a public key in base64: a raw 32-byte Ed25519 key, or a 65-byte SM2 point 04‖x‖y")
        }
        return raw
    }

    mutating func array(_ key: String, count: ClosedRange<Int>) throws(LedgerError) -> [JSON] {
        guard let v = value(key) else { throw LedgerError.invalid(name(key), "is required") }
        guard case .array(let items) = v else { throw LedgerError.invalid(name(key), "must be an array") }
        guard count.contains(items.count) else {
            throw LedgerError.invalid(name(key), "must have \(count.lowerBound) to \(count.upperBound) items")
        }
        return items
    }

    func finish() throws(LedgerError) {
        guard fields.keys.contains(where: { !read.contains($0) }) else { return }
        let unknown = fields.keys.filter { !read.contains($0) }.min()!
        throw LedgerError.invalid(name(unknown.string), "is not a known field")
    }
}

extension Payload {
    /// Reads the payload of a `type` transaction, strictly: every required field present with
    /// its type and format, nothing unknown.
    public init(type: TxType, json: JSON?, text: TextRule = .chain) throws(LedgerError) {
        var r = try FieldReader(json, path: "payload", text: text)
        switch type {
        case .registerOrg:
            self = .registerOrg(RegisterOrgPayload(
                orgId: try r.orgId("orgId"),
                name: try r.required("name", maxLength: Limits.maxNameLength),
                role: try r.enumValue("role", OrgRole.self)!,
                creditCode: try r.required("creditCode", maxLength: 18),
                publicKey: try r.publicKey("publicKey")))
        case .rotateKey:
            self = .rotateKey(orgId: try r.orgId("orgId"), publicKey: try r.publicKey("publicKey"))
        case .setOrgStatus:
            self = .setOrgStatus(orgId: try r.orgId("orgId"), status: try r.enumValue("status", OrgStatus.self)!)
        case .setPolicy:
            var p = try r.nested(r.value("policy"), path: "payload.policy")
            var policy = Policy()
            policy.maxTermDays = try p.requiredInt("maxTermDays")
            policy.minTermDays = try p.requiredInt("minTermDays")
            policy.minPieceFen = try p.requiredInt("minPieceFen")
            policy.maxFaceFen = try p.requiredInt("maxFaceFen")
            policy.maxTier = try p.requiredInt("maxTier")
            policy.acceptanceWindowDays = try p.requiredInt("acceptanceWindowDays")
            policy.financingCutoffDays = try p.requiredInt("financingCutoffDays")
            policy.graceDays = try p.requiredInt("graceDays")
            policy.reviewTermDays = try p.int("reviewTermDays", optional: true)
            policy.filingRequired = try p.bool("filingRequired", optional: true)
            policy.defaultBlocksIssue = try p.bool("defaultBlocksIssue", optional: true)
            try p.finish()
            self = .setPolicy(policy)
        case .grantCredit:
            self = .grantCredit(coreId: try r.orgId("coreId"), limitFen: try r.requiredInt("limitFen"),
                                rateBps: try r.requiredInt("rateBps"), expiresOn: try r.date("expiresOn")!)
        case .updateCredit:
            self = .updateCredit(UpdateCreditPayload(
                creditLineId: try r.txRef("creditLineId"), limitFen: try r.int("limitFen", optional: true),
                rateBps: try r.int("rateBps", optional: true), expiresOn: try r.date("expiresOn", optional: true),
                status: try r.enumValue("status", optional: true, CreditLineStatus.self)))
        case .issue:
            let supplierId = try r.orgId("supplierId")
            let creditLineId = try r.txRef("creditLineId")
            let faceFen = try r.requiredInt("faceFen")
            let issueDate = try r.date("issueDate")!
            let dueDate = try r.date("dueDate")!
            var documents: [Document] = []
            for (i, item) in try r.array("documents", count: 0...Limits.maxDocuments).enumerated() {
                var d = try r.nested(item, path: "payload.documents[\(i)]")
                documents.append(Document(
                    kind: try d.enumValue("kind", DocumentKind.self)!,
                    sha256: try d.format("sha256", { Hex.isLowercaseHex($0, length: 64) }, "64 lowercase hex characters")!,
                    number: try d.string("number", maxLength: Limits.maxDocumentNumberLength, optional: true),
                    fileName: try d.string("fileName", maxLength: Limits.maxFileNameLength, optional: true)))
                try d.finish()
            }
            let memo = try r.string("memo", maxLength: Limits.maxMemoLength, optional: true)
            self = .issue(IssuePayload(supplierId: supplierId, creditLineId: creditLineId, faceFen: faceFen,
                                       issueDate: issueDate, dueDate: dueDate, documents: documents, memo: memo))
        case .accept: self = .accept(tokenId: try r.tokenRef("tokenId"))
        case .reject: self = .reject(tokenId: try r.tokenRef("tokenId"))
        case .expireOffer: self = .expireOffer(tokenId: try r.tokenRef("tokenId"))
        case .transfer:
            self = .transfer(tokenId: try r.tokenRef("tokenId"), toOrgId: try r.orgId("toOrgId"),
                             amountFen: try r.requiredInt("amountFen"),
                             memo: try r.string("memo", maxLength: Limits.maxMemoLength, optional: true))
        case .split:
            let tokenId = try r.tokenRef("tokenId")
            var amounts: [Int64] = []
            for (i, item) in try r.array("amountsFen", count: Limits.minSplitPieces...Limits.maxSplitPieces).enumerated() {
                guard case .int(let n) = item else { throw LedgerError.invalid("payload.amountsFen[\(i)]", "must be an integer") }
                amounts.append(n)
            }
            self = .split(tokenId: tokenId, amountsFen: amounts)
        case .requestFinancing:
            self = .requestFinancing(tokenId: try r.tokenRef("tokenId"), bankId: try r.orgId("bankId"),
                                     recourse: try r.bool("recourse", optional: true))
        case .approveFinancing:
            let financingId = try r.txRef("financingId")
            var filing: Filing?
            if let value = r.value("filing") {
                var f = try r.nested(value, path: "payload.filing")
                let number = try f.required("number", maxLength: Limits.maxFilingNumberLength)
                if let problem = Filing.numberProblem(number) { throw LedgerError.invalid("payload.filing.number", problem) }
                filing = Filing(number: number, filedOn: try f.date("filedOn")!)
                try f.finish()
            }
            var termReview: String?
            if let value = r.value("termReview") {
                var t = try r.nested(value, path: "payload.termReview")
                termReview = try t.required("reason", maxLength: Limits.maxReasonLength)
                try t.finish()
            }
            self = .approveFinancing(financingId: financingId, filing: filing, termReview: termReview)
        case .rejectFinancing: self = .rejectFinancing(financingId: try r.txRef("financingId"))
        case .cancelFinancing: self = .cancelFinancing(financingId: try r.txRef("financingId"))
        case .confirmPayout:
            self = .confirmPayout(financingId: try r.txRef("financingId"),
                                  reference: try r.required("reference", maxLength: Limits.maxReferenceLength))
        case .settle:
            let receivableId = try r.txRef("receivableId")
            var tokenIds: [TokenID] = []
            for (i, item) in try r.array("tokenIds", count: 1...Limits.maxSettleTokens).enumerated() {
                guard case .string(let text) = item, let s = TokenID(text) else {
                    throw LedgerError.invalid("payload.tokenIds[\(i)]", "must be a token id (32 lowercase hex characters)")
                }
                tokenIds.append(s)
            }
            guard Set(tokenIds).count == tokenIds.count else { throw LedgerError.invalid("payload.tokenIds", "must not repeat a token") }
            self = .settle(receivableId: receivableId, tokenIds: tokenIds,
                           reference: try r.required("reference", maxLength: Limits.maxReferenceLength))
        case .markOverdue: self = .markOverdue(receivableId: try r.txRef("receivableId"))
        case .recordDefault:
            self = .recordDefault(orgId: try r.orgId("orgId"), inDefault: try r.bool("inDefault")!,
                                  reason: try r.required("reason", maxLength: Limits.maxReasonLength))
        case .requestEarlyPayment:
            self = .requestEarlyPayment(tokenId: try r.tokenRef("tokenId"), rateBps: try r.requiredInt("rateBps"))
        case .approveEarlyPayment: self = .approveEarlyPayment(earlyPaymentId: try r.txRef("earlyPaymentId"))
        case .rejectEarlyPayment: self = .rejectEarlyPayment(earlyPaymentId: try r.txRef("earlyPaymentId"))
        case .cancelEarlyPayment: self = .cancelEarlyPayment(earlyPaymentId: try r.txRef("earlyPaymentId"))
        case .confirmEarlyPayment:
            self = .confirmEarlyPayment(earlyPaymentId: try r.txRef("earlyPaymentId"),
                                        reference: try r.required("reference", maxLength: Limits.maxReferenceLength))
        }
        try r.finish()
    }
}

/// `{"type", "orgId", "keyId", "time", "nonce", "payload"}` (SPEC §4).
public struct TransactionBody: Sendable, Equatable {
    public var orgId: OrgID
    public var time: Int64
    public var nonce: String
    public var payload: Payload
    /// The key id. Its usual form, 16 lowercase hex digits, is kept as one word: the rules
    /// compare it with the signer's key on every transaction, and as a word it costs no string.
    var key: KeyIdText

    public var keyId: String {
        get { key.text }
        set { key = KeyIdText(newValue) }
    }

    public var type: TxType { payload.type }
    public var businessDate: BusinessDate { BusinessDate(epochMs: time) }

    public init(orgId: OrgID, keyId: String, time: Int64, nonce: String, payload: Payload) {
        self.orgId = orgId
        self.key = KeyIdText(keyId)
        self.time = time
        self.nonce = nonce
        self.payload = payload
    }

    public var json: JSON {
        .object(["type": .string(type.rawValue), "orgId": .string(orgId.description), "keyId": .string(keyId),
                 "time": .int(time), "nonce": .string(nonce), "payload": payload.json])
    }

    public init(json: JSON, text: TextRule = .chain) throws(LedgerError) {
        var r = try FieldReader(json, path: "", text: text)
        let type = try r.enumValue("type", TxType.self)!
        orgId = try r.orgId("orgId")
        key = KeyIdText(try r.format("keyId", { Hex.isLowercaseHex($0, length: 16) }, "16 lowercase hex characters")!)
        time = try r.requiredInt("time")
        guard time >= 0 else { throw LedgerError.invalid("time", "must be milliseconds since the epoch") }
        nonce = try r.required("nonce", maxLength: Limits.maxNonceLength)
        payload = try Payload(type: type, json: r.value("payload"), text: text)
        try r.finish()
    }
}

/// `{"id", "body", "signature"}`: id = hex H(JCS(body)); signature over JCS(body), both in the
/// chain's crypto profile.
public struct Transaction: Sendable, Equatable {
    public var id: TxID
    public var body: TransactionBody
    public var signature: [UInt8]
    /// JCS(body), the signed bytes.
    public var canonicalBody: [UInt8]

    public init(id: TxID, body: TransactionBody, signature: [UInt8], canonicalBody: [UInt8]) {
        self.id = id
        self.body = body
        self.signature = signature
        self.canonicalBody = canonicalBody
    }

    /// Signs a body: the id and signature are both over its canonical bytes.
    /// Signs a body in the signer's profile: the id and signature are both over its canonical bytes.
    public static func sign(_ body: TransactionBody, with signer: any TransactionSigner) throws -> Transaction {
        let bytes = body.json.canonicalBytes
        return Transaction(id: signer.profile.transactionId(of: bytes), body: body, signature: try signer.sign(bytes), canonicalBody: bytes)
    }

    /// A transaction whose id is computed but which is not yet signed (signatures can be added
    /// later, in parallel: they do not affect the id).
    public static func unsigned(_ body: TransactionBody, profile: CryptoProfile) -> Transaction {
        let bytes = body.json.canonicalBytes
        return Transaction(id: profile.transactionId(of: bytes), body: body, signature: [], canonicalBody: bytes)
    }

    public var json: JSON {
        .object(["id": .string(id.description), "body": body.json, "signature": .string(Base64.encode(signature))])
    }

    /// Reads `{id, body, signature}` and checks that the id is the hash of the body's canonical
    /// bytes. The signature is checked by whoever knows the signer's key at this point of the chain.
    public init(json: JSON, profile: CryptoProfile) throws(LedgerError) {
        try self.init(json: json, canonicalBody: nil, profile: profile)
    }

    /// `known`, when given, is the body's text as read, already found to be JCS(body) by the parser.
    init(json: JSON, canonicalBody known: ArraySlice<UInt8>?, profile: CryptoProfile) throws(LedgerError) {
        var r = try FieldReader(json, path: "", text: .chain)
        let claimedId = try r.required("id", maxLength: 64)
        let bodyJSON = r.value("body")
        let sig = try r.required("signature", maxLength: 128)
        try r.finish()
        guard let sigBytes = Base64.decode(sig) else { throw LedgerError.invalid("signature", "must be standard, padded base64") }
        if let problem = profile.signatureProblem(sigBytes) { throw LedgerError.invalid("signature", problem) }
        body = try TransactionBody(json: bodyJSON ?? .null)
        // JCS of the body as received, so the id covers exactly what was signed.
        if let known {
            canonicalBody = Array(known)
            assert(canonicalBody == bodyJSON?.canonicalBytes, "a span read as canonical is JCS(body)")
        } else {
            canonicalBody = (bodyJSON ?? .null).canonicalBytes
        }
        id = profile.transactionId(of: canonicalBody)
        guard TxID(claimedId) == id else { throw LedgerError.invalid("id", "id is not \(profile.hashName)(JCS(body))") }
        signature = sigBytes
    }
}

/// A key id as written: 16 lowercase hex digits held as one word, or any other text verbatim (which
/// names no key, so the rules refuse it).
enum KeyIdText: Sendable, Equatable {
    case word(UInt64)
    case other(String)

    init(_ text: String) {
        var t = text
        self = t.withUTF8 { u in u.count == 16 ? hexWord(u, 0) : nil }.map(KeyIdText.word) ?? .other(text)
    }

    var word: UInt64? {
        if case .word(let w) = self { return w }
        return nil
    }

    var text: String {
        switch self {
        case .word(let w):
            var out: [UInt8] = []
            out.reserveCapacity(16)
            appendHex(w, to: &out)
            return String(decoding: out, as: UTF8.self)
        case .other(let s): return s
        }
    }
}

extension TransactionBody {
    /// The signer and every org the payload names: who a transaction concerns, and so who may
    /// read it and whose feed it appears in.
    public var parties: Set<OrgID> {
        var orgs: Set<OrgID> = [orgId]
        switch payload {
        case .registerOrg(let p): orgs.insert(p.orgId)
        case .rotateKey(let o, _), .setOrgStatus(let o, _): orgs.insert(o)
        case .grantCredit(let core, _, _, _): orgs.insert(core)
        case .issue(let p): orgs.insert(p.supplierId)
        case .transfer(_, let to, _, _): orgs.insert(to)
        case .requestFinancing(_, let bank, _): orgs.insert(bank)
        case .recordDefault(let o, _, _): orgs.insert(o)
        default: break
        }
        return orgs
    }
}
