/// What one applied transaction did: the tokens it created (in output order), the tokens whose
/// status it changed, and the other objects it touched. The server turns this into projection rows
/// and API answers; the replayer ignores it.
///
/// Kept without allocating, since the rules build one for every transaction: created tokens are
/// the transaction's outputs 0..<n (their ids derive from its id), and all but a settlement change
/// the status of one token.
public struct TxEffects: Sendable, Equatable {
    public var transactionId: TxID
    /// How many tokens the transaction created.
    var createdCount = 0
    var firstChanged: TokenID?
    var moreChanged: [TokenID] = []

    /// The chain's profile, which derives the created tokens' ids.
    var profile = CryptoProfile.standard
    /// The tokens created, in output order.
    public var createdTokens: [TokenID] { (0..<createdCount).map { profile.tokenId(transactionId: transactionId, index: $0) } }
    /// The tokens whose status changed, in the order they changed.
    public var changedTokens: [TokenID] { firstChanged.map { [$0] + moreChanged } ?? [] }
    /// The receivable the transaction concerns (every token belongs to one).
    public var receivableId: TxID?
    /// Whether the receivable itself changed (was issued, or changed status or amount paid), and
    /// not only its tokens: its projection row is rewritten only then.
    public var receivableChanged = false
    public var financingIds: [TxID] = []
    public var earlyPaymentIds: [TxID] = []
    public var creditLineId: TxID?
    public var orgId: OrgID?
    public var policyChanged = false

    public var tokens: [TokenID] { createdTokens + changedTokens }

    public init(transactionId: TxID, profile: CryptoProfile = .standard) {
        self.transactionId = transactionId
        self.profile = profile
    }
}

/// The whole ledger state, rebuilt by replaying the chain from genesis. A value type: copying it
/// is how a caller keeps a state to fall back to.
public struct LedgerState: Sendable {
    /// The chain's crypto profile: named by block 0, set before genesis is applied, never changed.
    public internal(set) var profile = CryptoProfile.standard
    /// The transaction log's right edge (SPEC §4): every transaction of the blocks so far, in
    /// chain order. Extended block by block (`extendLog`), not by the rules.
    public internal(set) var log = LogFrontier(profile: .standard)
    public internal(set) var orgs = JournaledDictionary<OrgID, Org>()
    /// What every transaction checks of its signer and counterparties, without copying the
    /// org's names and keys: kept beside `orgs` by `put`.
    var orgFacts = JournaledDictionary<OrgID, OrgFacts>()
    public internal(set) var policy = Policy()
    public internal(set) var creditLines = JournaledDictionary<TxID, CreditLine>()
    public internal(set) var receivables = JournaledDictionary<TxID, Receivable>()
    public internal(set) var tokens = TokenStore()
    public internal(set) var financings = JournaledDictionary<TxID, Financing>()
    public internal(set) var earlyPayments = JournaledDictionary<TxID, EarlyPayment>()
    public internal(set) var operatorId: OrgID?
    /// Every transaction id on the chain: a repeat is refused.
    var transactionIds = TxIDSet()
    /// Credit lines by bank and core, in the order they were granted ("earliest-granted" wins).
    var linesByBankAndCore = JournaledDictionary<BankAndCore, [TxID]>()
    /// Invoice numbers of receivables that are pending, active or overdue.
    public internal(set) var openInvoices = JournaledDictionary<String, TxID>()
    public internal(set) var transactionCount = 0
    /// The financing request that holds each locked token.
    public internal(set) var openFinancingByToken = JournaledDictionary<TokenID, TxID>()
    /// The early payment, requested or approved, that holds each locked token.
    public internal(set) var openEarlyPaymentByToken = JournaledDictionary<TokenID, TxID>()
    /// While a block is being written: how to put the state back if its commit fails.
    var undo: UndoRecord?
    /// How many receivables were ever issued: the next one's number follows. (A live state no
    /// longer holds the closed ones, so their count is kept apart.)
    public internal(set) var issuedCount = 0
    /// A live state's Bloom filter of the ids it retired (nil while every id is held), and the ids
    /// applied since the last `retire()`, in chain order.
    var seenIds: SeenIds?
    var recentIds: [TxID] = []
    /// How many tokens the last `retire()` kept.
    var liveAtRetire = 0

    public init(profile: CryptoProfile = .standard) {
        self.profile = profile
        log = LogFrontier(profile: profile)
    }

    /// Before genesis: the profile the chain is created in. Afterwards nothing changes it.
    public mutating func create(in profile: CryptoProfile) {
        precondition(operatorId == nil, "a chain's profile is fixed at genesis")
        self.profile = profile
        log = LogFrontier(profile: profile)
    }

    /// Adds a block's transactions to the transaction log, in order; answers the complete
    /// subtrees they complete, for a store to keep.
    @discardableResult
    public mutating func extendLog(with transactions: [Transaction]) -> [(LogTree.Node, LogTree.Hash)] {
        var made: [(LogTree.Node, LogTree.Hash)] = []
        made.reserveCapacity(transactions.count * 2)
        for tx in transactions { made += log.append(tx.id) }
        return made
    }

    /// Makes room for replaying `transactions`, so that the id tables do not rehash and the token
    /// list does not move as they grow.
    public mutating func reserveCapacity<C: Collection>(for transactions: C) where C.Element == Transaction {
        transactionIds.reserveCapacity(transactionIds.count + transactions.count)
        tokens.reserveCapacity(tokens.count + transactions.reduce(0) { $0 + $1.body.payload.maxTokensCreated }, touching: true)
    }

    public var operatorKey: [UInt8]? { operatorId.flatMap { orgs[$0]?.publicKey } }

    /// Every org's current key, as a value to check signatures with away from the state.
    public var signingKeys: SigningKeys { SigningKeys(orgs: orgs.storage, started: operatorId != nil, profile: profile) }

    struct OrgFacts {
        var role: OrgRole
        var status: OrgStatus
        /// The key id's 16 hex digits as one word; nil for a key id of any other shape.
        var keyBits: UInt64?
        /// Format 2: a default the operator recorded, and how many of its receivables are `overdue`.
        var recordedDefault = false
        var overdue = 0
    }

    struct BankAndCore: Hashable {
        var bank: OrgID
        var core: OrgID
    }

    /// The lines of `bank` for `core`, earliest granted first.
    public func creditLines(bank: OrgID, core: OrgID) -> [CreditLine] {
        (linesByBankAndCore[BankAndCore(bank: bank, core: core)] ?? []).compactMap { creditLines[$0] }
    }

    /// The line a financing of `core`'s paper at `bank` uses on `date`: the earliest granted that
    /// is usable. `no_credit_line` when the bank has none for this core, `credit_line_unusable`
    /// when none of them is usable.
    public func financingLine(bank: OrgID, core: OrgID, on date: BusinessDate) -> Result<CreditLine, LedgerError> {
        let lines = creditLines(bank: bank, core: core)
        guard !lines.isEmpty else {
            return .failure(LedgerError(.noCreditLine, "bank \(bank) has no credit line for core enterprise \(core)"))
        }
        guard let line = lines.first(where: { $0.isUsable(on: date) }) else {
            return .failure(LedgerError(.creditLineUnusable, "every credit line of bank \(bank) for core enterprise \(core) is frozen or expired on \(date)"))
        }
        return .success(line)
    }

    /// A financing quote for `token` at `bank` on `date`, as `requestFinancing` would fix it.
    public func quote(tokenId: TokenID, bank: OrgID, on date: BusinessDate) -> Result<FinancingQuote, LedgerError> {
        guard let token = tokens[tokenId], let receivable = receivables[token.receivableId] else {
            return .failure(LedgerError(.notFound, "token \(tokenId) does not exist"))
        }
        return financingLine(bank: bank, core: receivable.issuerId, on: date).map { line in
            FinancingQuote(token: token, line: line, dueDate: receivable.dueDate, on: date)
        }
    }
}

/// The keys transactions must be signed with, by org: what a server checks signatures with
/// before a transaction reaches the rules.
public struct SigningKeys: Sendable {
    var orgs: [OrgID: Org] = [:]
    /// Whether the genesis is applied (until then the operator's registration names its own key).
    var started = false
    /// The chain's profile, in which the signatures are checked.
    public private(set) var profile = CryptoProfile.standard

    public init(profile: CryptoProfile = .standard) { self.profile = profile }

    init(orgs: [OrgID: Org], started: Bool, profile: CryptoProfile) {
        self.orgs = orgs
        self.started = started
        self.profile = profile
    }

    /// The public key that must have signed `body`: the key `body.keyId` names, when that is the
    /// signer's current key (for the genesis registration, the key it registers). A signature is
    /// checked only with the key the body names, so a rotation in between can never let an old key
    /// sign for the new one.
    public func key(for body: TransactionBody) -> Result<[UInt8], LedgerError> {
        if !started, case .registerOrg(let p) = body.payload, p.orgId == body.orgId {
            guard body.keyId == profile.keyId(publicKey: p.publicKey) else {
                return .failure(.notOperatorKey(body.keyId))
            }
            return .success(p.publicKey)
        }
        guard let org = orgs[body.orgId] else {
            return .failure(.unregisteredSigner(body.orgId))
        }
        guard org.keyId == body.keyId else {
            return .failure(.notCurrentKey(body.keyId, of: body.orgId))
        }
        return .success(org.publicKey)
    }
}

public struct FinancingQuote: Sendable, Equatable {
    public var bankId: OrgID
    public var creditLineId: TxID
    public var rateBps: Int64
    public var days: Int64
    public var amountFen: Int64
    public var interestFen: Int64
    public var payoutFen: Int64

    init(token: Token, line: CreditLine, dueDate: BusinessDate, on date: BusinessDate) {
        bankId = line.bankId
        creditLineId = line.id
        rateBps = line.rateBps
        days = date.days(until: dueDate)
        amountFen = token.amountFen
        interestFen = Money.discountInterestFen(amountFen: token.amountFen, rateBps: line.rateBps, days: max(0, days))
        payoutFen = amountFen - interestFen
    }
}

/// Every token ever created, in creation order, with an index by id. Tokens are never removed
/// (a spent token stays, as history), so they live in one growing flat list: appends touch
/// memory in order, and the index holds only a small position per id.
public struct TokenStore: Sendable {
    private var list = FlatMemory<Token>(capacity: 64)
    public private(set) var count = 0
    private var index = TokenIndex()

    public init() {}

    /// Every token, in creation order.
    public var values: TokenList { TokenList(memory: list, count: count) }

    public subscript(id: TokenID) -> Token? {
        guard let p = index.position(of: id) else { return nil }
        return list.base[p]
    }

    mutating func insert(_ token: Token) {
        let inserted = index.insert(token.id, at: count)  // the index grows itself
        assert(inserted, "derived token ids are unique")
        if count == list.capacity { growList(to: count + 1) } else { makeUnique() }
        (list.base + count).initialize(to: token)
        count += 1
    }

    /// Starts loading where `id` sits in the index (`inList` false), or, once that is at hand,
    /// the token itself.
    @inline(__always)
    func prefetch(_ id: TokenID, inList: Bool) {
        if !inList {
            index.prefetch(id)
        } else if let p = index.position(of: id) {
            Ledger.prefetch(list.base + p)
        }
    }

    mutating func update(_ id: TokenID, _ change: (inout Token) -> Void) {
        let p = index.position(of: id)!
        makeUnique()
        // In place: a copy of the journal taken out and put back copied its whole dictionary on
        // every change, which made a settlement of 10,000 pieces quadratic while a block was open.
        if journal != nil, p < journal!.count, journal!.before[p] == nil {
            journal!.before[p] = list.base[p]
        }
        change(&list.base[p])
    }

    /// While open: how many tokens there were, and each older token as it was before its first
    /// change since.
    private var journal: (count: Int, before: [Int: Token])?

    mutating func openJournal() { journal = (count, [:]) }
    mutating func closeJournal() { journal = nil }

    /// The tokens as they were when the journal opened: changes put back, new ones taken out.
    mutating func rollBack() {
        guard let j = journal else { return }
        journal = nil
        makeUnique()
        for (p, token) in j.before { list.base[p] = token }
        while count > j.count {
            count -= 1
            index.remove(list.base[count].id)
            (list.base + count).deinitialize(count: 1)
        }
    }

    /// Room for `n` tokens. `touching` also has the memory mapped now (the tables are written
    /// as they are made), so that a replay of known size does not stop on page faults.
    mutating func reserveCapacity(_ n: Int, touching: Bool = false) {
        index.reserveCapacity(n)
        if n > list.capacity {
            growList(to: n)
            if touching { UnsafeMutableRawPointer(list.base + count).initializeMemory(as: UInt8.self, repeating: 0, count: (list.capacity - count) * MemoryLayout<Token>.stride) }
        }
    }

    /// A new, unshared list with room for at least `n` tokens (doubling, so appends stay cheap).
    private mutating func growList(to n: Int) {
        list = list.copy(count: count, capacity: Swift.max(n, list.capacity * 2))
    }

    private mutating func makeUnique() {
        if !isKnownUniquelyReferenced(&list) { list = list.copy(count: count, capacity: list.capacity) }
    }
}

/// The tokens of a `TokenStore`, in creation order, as they stood when the list was taken.
public struct TokenList: RandomAccessCollection, Sendable {
    let memory: FlatMemory<Token>
    public let count: Int

    public var startIndex: Int { 0 }
    public var endIndex: Int { count }
    public subscript(position: Int) -> Token {
        precondition(position >= 0 && position < count, "token list index out of range")
        return memory.base[position]
    }
}
