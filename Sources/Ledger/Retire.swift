/// A state that holds only what the rules need, for a writer or an observer whose history has
/// grown past what memory should hold.
///
/// A live state keeps tokens that can still move (pending, active, locked) and the spent token
/// each pending offer came from, receivables not yet closed, financings and early payments not yet
/// closed, and every
/// org and credit line. Everything else is retired: it stays in the database's projections, and
/// the ids of past transactions are kept in a Bloom filter. Before a batch is applied, the writer
/// asks `missing(for:)` what the batch refers to that memory no longer holds, loads it from the
/// database and hands it to `recall`; the rules then see exactly what a full replay would, and
/// refuse or accept exactly as it would.
extension LedgerState {
    /// Whether the state retires history (a replay that keeps everything is not live).
    public var isLive: Bool { seenIds != nil }

    /// From now on, ids of applied transactions are kept in chain order for the Bloom filter.
    /// Call before applying anything.
    public mutating func goLive() {
        precondition(transactionCount == 0 || isLive, "a state goes live before it applies anything, or is restored live")
        if seenIds == nil { seenIds = SeenIds() }
    }

    /// How many objects memory holds (tests and the benchmark's figures).
    public var heldCounts: (tokens: Int, receivables: Int, financings: Int, recentIds: Int, seenIds: Int) {
        (tokens.count, receivables.count, financings.count, transactionIds.count, seenIds?.count ?? 0)
    }

    /// Whether enough has been applied since the last `retire()` to make another worthwhile:
    /// memory holds about twice what it needs, or a million ids wait for the filter.
    public var retireIsDue: Bool {
        isLive && (tokens.count > 2 * liveAtRetire + 65_536 || recentIds.count >= 1 << 20)
    }

    /// Lets go of what the rules no longer need. Only between blocks (no undo record open).
    public mutating func retire() {
        guard var seen = seenIds else { return }
        precondition(undo == nil, "retire between blocks only")
        for id in recentIds { seen.insert(id) }
        seenIds = seen
        recentIds = []
        transactionIds = TxIDSet()

        let kept = tokensKept()
        if kept.count < tokens.count {
            var store = TokenStore()
            store.reserveCapacity(kept.count)
            for token in tokens.values where kept.contains(token.id) { store.insert(token) }
            tokens = store
        }
        for (id, r) in receivables.storage where Self.isClosed(r.status) { receivables.removeValue(forKey: id) }
        for (id, f) in financings.storage where Self.isClosed(f.status) { financings.removeValue(forKey: id) }
        for (id, e) in earlyPayments.storage where Self.isClosed(e.status) { earlyPayments.removeValue(forKey: id) }
        liveAtRetire = tokens.count
    }

    static func isLive(_ status: TokenStatus) -> Bool { status == .pending || status == .active || status == .locked }
    static func isClosed(_ status: ReceivableStatus) -> Bool { status == .settled || status == .rejected }
    static func isClosed(_ status: FinancingStatus) -> Bool { status == .paid || status == .rejected || status == .cancelled }
    static func isClosed(_ status: EarlyPaymentStatus) -> Bool { status == .paid || status == .rejected || status == .cancelled }

    /// Live tokens, and the parent of each pending offer: answering an offer reads who sent it.
    func tokensKept() -> Set<TokenID> {
        var kept = Set<TokenID>()
        for token in tokens.values where Self.isLive(token.status) {
            kept.insert(token.id)
            if token.status == .pending, let parent = token.parentId { kept.insert(parent) }
        }
        return kept
    }

    /// What `transactions` refer to that memory does not hold: tokens, receivables and financings
    /// by id, and ids the Bloom filter may have seen. Some may not exist at all (the rules then
    /// refuse the transaction as a full replay would). Call again after `recall`: a recalled
    /// object can refer to others (a financing to its tokens, a token to its receivable).
    public func missing(for transactions: some Sequence<Transaction>) -> Recall {
        var recall = Recall()
        guard let seen = seenIds else { return recall }
        func token(_ id: TokenID, parentToo: Bool = false) {
            guard let t = tokens[id] else { recall.tokens.insert(id); return }
            if receivables[t.receivableId] == nil { recall.receivables.insert(t.receivableId) }
            if parentToo, let p = t.parentId, tokens[p] == nil { recall.tokens.insert(p) }
        }
        func financing(_ id: TxID) {
            guard let f = financings[id] else { recall.financings.insert(id); return }
            token(f.tokenId)
            if let b = f.bankTokenId { token(b) }
        }
        func earlyPayment(_ id: TxID) {
            guard let e = earlyPayments[id] else { recall.earlyPayments.insert(id); return }
            token(e.tokenId)
        }
        for tx in transactions {
            if !transactionIds.contains(tx.id), seen.mayContain(tx.id) { recall.transactionIds.insert(tx.id) }
            switch tx.body.payload {
            case .accept(let t), .reject(let t), .expireOffer(let t): token(t, parentToo: true)
            case .transfer(let t, _, _, _), .split(let t, _), .requestFinancing(let t, _, _): token(t)
            case .approveFinancing(let id, _, _), .rejectFinancing(let id), .cancelFinancing(let id), .confirmPayout(let id, _): financing(id)
            case .settle(let r, let ts, _):
                if receivables[r] == nil { recall.receivables.insert(r) }
                ts.forEach { token($0) }
            case .markOverdue(let r):
                if receivables[r] == nil { recall.receivables.insert(r) }
            case .requestEarlyPayment(let t, _): token(t)
            case .approveEarlyPayment(let id), .rejectEarlyPayment(let id), .cancelEarlyPayment(let id), .confirmEarlyPayment(let id, _):
                earlyPayment(id)
            case .registerOrg, .rotateKey, .setOrgStatus, .setPolicy, .grantCredit, .updateCredit, .issue, .recordDefault: break
            }
        }
        return recall
    }

    /// Puts back what the database holds of what `missing(for:)` asked for: retired objects, and
    /// the ids among those asked for that the chain already holds (a repeat of one is refused).
    /// Only between blocks; objects memory already holds are left as they are.
    public mutating func recall(_ found: Recalled) {
        precondition(undo == nil, "recall between blocks only")
        for t in found.tokens where tokens[t.id] == nil { tokens.insert(t) }
        for r in found.receivables where receivables[r.id] == nil { receivables[r.id] = r }
        for f in found.financings where financings[f.id] == nil { financings[f.id] = f }
        for e in found.earlyPayments where earlyPayments[e.id] == nil { earlyPayments[e.id] = e }
        for id in found.transactionIds { _ = transactionIds.insert(id) }
    }
}

/// What a live state asks the database for before a batch.
public struct Recall: Sendable, Equatable {
    public var tokens = Set<TokenID>()
    public var receivables = Set<TxID>()
    public var financings = Set<TxID>()
    public var earlyPayments = Set<TxID>()
    /// Ids the Bloom filter may have seen: the database says which the chain holds.
    public var transactionIds = Set<TxID>()

    public init() {}
    public var isEmpty: Bool { tokens.isEmpty && receivables.isEmpty && financings.isEmpty && earlyPayments.isEmpty && transactionIds.isEmpty }

    /// What is asked for here and was not in `asked` (which takes it in), or nil when nothing
    /// new is: recalling stops there, since what the database did not hold it will not hold later.
    public func fresh(after asked: inout Recall) -> Recall? {
        var r = Recall()
        r.tokens = tokens.subtracting(asked.tokens)
        r.receivables = receivables.subtracting(asked.receivables)
        r.financings = financings.subtracting(asked.financings)
        r.earlyPayments = earlyPayments.subtracting(asked.earlyPayments)
        r.transactionIds = transactionIds.subtracting(asked.transactionIds)
        if r.isEmpty { return nil }
        asked.formUnion(r)
        return r
    }

    public mutating func formUnion(_ other: Recall) {
        tokens.formUnion(other.tokens)
        receivables.formUnion(other.receivables)
        financings.formUnion(other.financings)
        earlyPayments.formUnion(other.earlyPayments)
        transactionIds.formUnion(other.transactionIds)
    }
}

/// What the database held of a `Recall`.
public struct Recalled: Sendable {
    public var tokens: [Token] = []
    public var receivables: [Receivable] = []
    public var financings: [Financing] = []
    public var earlyPayments: [EarlyPayment] = []
    public var transactionIds: [TxID] = []

    public init(tokens: [Token] = [], receivables: [Receivable] = [], financings: [Financing] = [], earlyPayments: [EarlyPayment] = [],
                transactionIds: [TxID] = []) {
        self.tokens = tokens
        self.receivables = receivables
        self.financings = financings
        self.earlyPayments = earlyPayments
        self.transactionIds = transactionIds
    }
}
