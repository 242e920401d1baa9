/// The state machine: one transaction in, its effects or one precise error out.
///
/// Each operation is a flat run of guard clauses in a fixed order of precedence (the order the
/// tests' tables follow), then the mutations. No guard comes after a mutation, so a refused
/// transaction leaves the state exactly as it was.
extension LedgerState {
    public mutating func apply(_ tx: Transaction) -> Result<TxEffects, LedgerError> {
        do throws(LedgerError) {
            return .success(try applyOrThrow(tx))
        } catch {
            return .failure(error)
        }
    }

    /// Applies `transactions` in order and stops at the first one refused: its position and
    /// error, or nil when all were applied. `onEffects` sees each applied one's effects.
    ///
    /// Two phases a transaction: first the prefetch phase asks for what the next transactions
    /// will read, then the rules apply this one. The rules themselves never prefetch.
    public mutating func apply(contentsOf transactions: [Transaction], onEffects: ((TxEffects) -> Void)? = nil) -> (index: Int, error: LedgerError)? {
        // Room for the output ids of two transactions: this one's, and the next one's being
        // worked out ahead.
        let room = Limits.maxSplitPieces
        let scratch = UnsafeMutablePointer<TokenID>.allocate(capacity: 2 * room)
        defer { scratch.deallocate() }
        // Through the buffer: each transaction is borrowed where it lies. An array's subscript
        // hands out a copy, which retains every string and array of the body.
        return transactions.withUnsafeBufferPointer { buffer in
            var outputs = buffer.isEmpty ? 0 : prefetchOutputs(of: buffer[0].id, count: buffer[0].body.payload.maxTokensCreated, into: scratch, room: room)
            for i in buffer.indices {
                let half = i % 2 == 0 ? scratch : scratch + room
                let next = i % 2 == 0 ? scratch + room : scratch
                let nextOutputs = prefetchAhead(buffer, after: i, outputsInto: next, room: room)
                do throws(LedgerError) {
                    let effects = try applyOrThrow(buffer[i].body, id: buffer[i].id, outputs: UnsafeBufferPointer(start: half, count: outputs))
                    onEffects?(effects)
                } catch {
                    return (i, error)
                }
                outputs = nextOutputs
            }
            return nil
        }
    }

    /// The prefetch phase before transaction `i`: the id and index slots two ahead; the token
    /// those slots point to one ahead; and the next transaction's output ids, worked out into
    /// `into` (the rules read them there instead of hashing again) with their index slots asked
    /// for. Returns how many output ids it wrote.
    private func prefetchAhead(_ buffer: UnsafeBufferPointer<Transaction>, after i: Int, outputsInto into: UnsafeMutablePointer<TokenID>, room: Int) -> Int {
        if i + 2 < buffer.count {
            transactionIds.prefetch(buffer[i + 2].id)
            if let t = buffer[i + 2].body.payload.spentToken { tokens.prefetch(t, inList: false) }
        }
        guard i + 1 < buffer.count else { return 0 }
        if let t = buffer[i + 1].body.payload.spentToken { tokens.prefetch(t, inList: true) }
        return prefetchOutputs(of: buffer[i + 1].id, count: buffer[i + 1].body.payload.maxTokensCreated, into: into, room: room)
    }

    private func prefetchOutputs(of id: TxID, count: Int, into: UnsafeMutablePointer<TokenID>, room: Int) -> Int {
        let n = min(count, room)
        for k in 0..<n {
            into[k] = profile.tokenId(transactionId: id, index: k)
            tokens.prefetch(into[k], inList: false)
        }
        return n
    }

    public mutating func applyOrThrow(_ tx: Transaction) throws(LedgerError) -> TxEffects {
        try applyOrThrow(tx.body, id: tx.id)
    }

    mutating func applyOrThrow(_ body: borrowing TransactionBody, id: TxID, outputs: UnsafeBufferPointer<TokenID> = UnsafeBufferPointer(start: nil, count: 0)) throws(LedgerError) -> TxEffects {
        // The pair of the gate's check: what reaches the rules lies within every bound of `Limits`.
        assert(body.payload.readsBack, "a payload reaching the rules reads back through the strict reader")
        // Precedence 1–5, common to every operation: uniqueness, genesis, signer, key, status, role.
        // Inserted now (one hash, one probe) and taken out again if the transaction is refused.
        guard transactionIds.insert(id) else {
            throw LedgerError.invalid("id", "repeated transaction id \(id)")
        }
        undo?.transactionIds.append(id)
        do throws(LedgerError) {
            let effects = try applyChecked(body, id: id, outputs: outputs)
            if seenIds != nil { recentIds.append(id) }
            return effects
        } catch {
            transactionIds.remove(id)
            undo?.transactionIds.removeLast()
            throw error
        }
    }

    private mutating func applyChecked(_ body: borrowing TransactionBody, id: TxID, outputs: UnsafeBufferPointer<TokenID>) throws(LedgerError) -> TxEffects {
        if operatorId == nil {
            guard case .registerOrg(let p) = body.payload, p.orgId == body.orgId, p.role == .operator else {
                throw LedgerError(.forbidden, "the ledger starts with the operator registering itself")
            }
            guard body.keyId == profile.keyId(publicKey: p.publicKey) else {
                throw LedgerError.notOperatorKey(body.keyId)
            }
        } else {
            guard let signer = orgFacts[body.orgId] else {
                throw LedgerError.unregisteredSigner(body.orgId)
            }
            guard let word = body.key.word, word == signer.keyBits else {
                throw LedgerError.notCurrentKey(body.keyId, of: body.orgId)
            }
            guard signer.status == .active else {
                throw LedgerError(.orgSuspended, "org \(body.orgId) is suspended")
            }
            guard signer.role == body.type.signerRole else {
                throw LedgerError(.forbidden, "a \(signer.role.rawValue) may not \(body.type.rawValue); only a \(body.type.signerRole.rawValue) may")
            }
        }

        var effects = TxEffects(transactionId: id, profile: profile)
        let ctx = Context(txId: id, signerId: body.orgId, date: body.businessDate, outputs: outputs, profile: profile)
        switch body.payload {
        case .registerOrg(let p): try registerOrg(p, ctx, &effects)
        case .rotateKey(let orgId, let key): try rotateKey(orgId: orgId, key: key, &effects)
        case .setOrgStatus(let orgId, let status): try setOrgStatus(orgId: orgId, status: status, ctx, &effects)
        case .setPolicy(let policy): try setPolicy(policy, &effects)
        case .grantCredit(let coreId, let limitFen, let rateBps, let expiresOn):
            try grantCredit(coreId: coreId, limitFen: limitFen, rateBps: rateBps, expiresOn: expiresOn, ctx, &effects)
        case .updateCredit(let p): try updateCredit(p, ctx, &effects)
        case .issue(let p): try issue(p, ctx, &effects)
        case .accept(let tokenId): try accept(tokenId: tokenId, ctx, &effects)
        case .reject(let tokenId): try returnOffer(tokenId: tokenId, expiring: false, ctx, &effects)
        case .expireOffer(let tokenId): try returnOffer(tokenId: tokenId, expiring: true, ctx, &effects)
        case .transfer(let tokenId, let toOrgId, let amountFen, _):
            try transfer(tokenId: tokenId, to: toOrgId, amountFen: amountFen, ctx, &effects)
        case .split(let tokenId, let amounts): try split(tokenId: tokenId, amounts: amounts, ctx, &effects)
        case .requestFinancing(let tokenId, let bankId, let recourse):
            try requestFinancing(tokenId: tokenId, bankId: bankId, recourse: recourse ?? false, ctx, &effects)
        case .approveFinancing(let id, let filing, let termReview): try approveFinancing(id, filing: filing, termReview: termReview, ctx, &effects)
        case .rejectFinancing(let id): try closeFinancing(id, as: .rejected, ctx, &effects)
        case .cancelFinancing(let id): try closeFinancing(id, as: .cancelled, ctx, &effects)
        case .confirmPayout(let id, let reference): try confirmPayout(id, reference: reference, ctx, &effects)
        case .settle(let receivableId, let tokenIds, _): try settle(receivableId: receivableId, tokenIds: tokenIds, ctx, &effects)
        case .markOverdue(let receivableId): try markOverdue(receivableId: receivableId, ctx, &effects)
        case .recordDefault(let orgId, let inDefault, let reason): try recordDefault(orgId: orgId, inDefault: inDefault, reason: reason, ctx, &effects)
        case .requestEarlyPayment(let tokenId, let rateBps): try requestEarlyPayment(tokenId: tokenId, rateBps: rateBps, ctx, &effects)
        case .approveEarlyPayment(let id): try approveEarlyPayment(id, ctx, &effects)
        case .rejectEarlyPayment(let id): try closeEarlyPayment(id, as: .rejected, ctx, &effects)
        case .cancelEarlyPayment(let id): try closeEarlyPayment(id, as: .cancelled, ctx, &effects)
        case .confirmEarlyPayment(let id, let reference): try confirmEarlyPayment(id, reference: reference, ctx, &effects)
        }
        transactionCount += 1
        return effects
    }

    struct Context {
        let txId: TxID
        let signerId: OrgID
        let date: BusinessDate
        /// Output ids the prefetch phase already worked out, if any.
        let outputs: UnsafeBufferPointer<TokenID>
        let profile: CryptoProfile
        func outputId(_ k: Int) -> TokenID { k < outputs.count ? outputs[k] : profile.tokenId(transactionId: txId, index: k) }
    }

    // MARK: - Shared guards

    func existingOrg(_ id: OrgID, _ what: String) throws(LedgerError) -> OrgFacts {
        guard let org = orgFacts[id] else { throw LedgerError(.notFound, "\(what) \(id) is not a registered org") }
        return org
    }

    /// A counterparty must exist, have `role`, not be the signer, and be active — in that order.
    func counterparty(_ id: OrgID, role: OrgRole, what: String, _ ctx: Context) throws(LedgerError) {
        let org = try existingOrg(id, what)
        guard org.role == role else {
            throw LedgerError(.invalidCounterparty, "\(what) \(id) is a \(org.role.rawValue), not a \(role.rawValue)")
        }
        guard id != ctx.signerId else { throw LedgerError(.invalidCounterparty, "\(what) cannot be yourself") }
        guard org.status == .active else { throw LedgerError(.orgSuspended, "\(what) \(id) is suspended") }
    }

    /// A token the signer holds, in `status`.
    func heldToken(_ id: TokenID, status: TokenStatus, _ ctx: Context) throws(LedgerError) -> Token {
        guard let token = tokens[id] else { throw LedgerError(.notFound, "token \(id) does not exist") }
        guard token.holderId == ctx.signerId else {
            throw LedgerError(.notHolder, "token \(id) is held by another org")
        }
        guard token.status == status else {
            throw LedgerError(.tokenNotActive, "token \(id) is \(token.status.rawValue), not \(status.rawValue)")
        }
        return token
    }

    /// Transfers, splits and financing requests stop on the due date. Only the date is read on the
    /// way through: copying the receivable would copy its documents and strings.
    func beforeDue(_ token: Token, _ ctx: Context) throws(LedgerError) {
        guard let dueDate = receivables[token.receivableId]?.dueDate, ctx.date < dueDate else {
            let receivable = receivables[token.receivableId]!
            throw LedgerError(.pastDue, "receivable \(receivable.number) fell due on \(receivable.dueDate); its tokens no longer move")
        }
    }

    func piece(_ amountFen: Int64, _ what: String) throws(LedgerError) {
        guard amountFen > 0 else { throw LedgerError(.amountOutOfRange, "\(what) \(amountFen) fen must be positive") }
        guard amountFen >= policy.minPieceFen else {
            throw LedgerError(.amountOutOfRange, "\(what) \(Money.format(amountFen)) is below the minimum piece \(Money.format(policy.minPieceFen))")
        }
    }

    func financing(_ id: TxID, of party: KeyPath<Financing, OrgID>, _ ctx: Context) throws(LedgerError) -> Financing {
        guard let f = financings[id] else { throw LedgerError(.notFound, "financing \(id) does not exist") }
        guard f[keyPath: party] == ctx.signerId else {
            throw LedgerError(.notHolder, "financing \(id) belongs to other parties")
        }
        return f
    }

    func requireStatus(_ f: Financing, _ status: FinancingStatus) throws(LedgerError) {
        guard f.status == status else {
            throw LedgerError(.financingNotOpen, "financing \(f.id) is \(f.status.rawValue), not \(status.rawValue)")
        }
    }

    // MARK: - Mutations shared by several operations

    /// Registers or updates an org, with the facts the rules check on every transaction.
    mutating func put(_ org: Org) {
        orgs[org.id] = org
        orgFacts[org.id] = OrgFacts(role: org.role, status: org.status, keyBits: KeyIdText(org.keyId).word,
                                    recordedDefault: org.inDefault, overdue: orgFacts[org.id]?.overdue ?? 0)
    }

    /// A receivable of `issuer` became `overdue` (+1) or was paid from it (−1).
    mutating func countOverdue(_ issuer: OrgID, _ change: Int) {
        orgFacts[issuer]!.overdue += change
        assert(orgFacts[issuer]!.overdue >= 0, "an issuer never has fewer than no overdue receivables")
    }

    /// Output `k` of the transaction; `id`, when the caller derived it already, is its id.
    mutating func create(_ ctx: Context, _ k: Int, id known: TokenID? = nil, from parent: Token?, receivableId: TxID, holder: OrgID, amountFen: Int64,
                         tier: Int64, status: TokenStatus, _ effects: inout TxEffects) {
        let id = known ?? ctx.outputId(k)
        assert(id == ctx.outputId(k), "output k has the k-th derived id")
        tokens.insert(Token(id: id, receivableId: receivableId, parentId: parent?.id, holderId: holder, amountFen: amountFen,
                            tier: tier, status: status, createdTx: ctx.txId, spentTx: nil, createdOn: ctx.date))
        assert(k == effects.createdCount, "a transaction creates its outputs in order, from 0")
        effects.createdCount += 1
    }

    mutating func setStatus(_ tokenId: TokenID, _ status: TokenStatus, _ ctx: Context, _ effects: inout TxEffects) {
        tokens.update(tokenId) { token in
            token.status = status
            if status == .spent || status == .settled || status == .expired { token.spentTx = ctx.txId }
        }
        if effects.firstChanged == nil { effects.firstChanged = tokenId } else { effects.moreChanged.append(tokenId) }
    }

    /// A receivable leaves the open set: its invoice numbers may be used again.
    mutating func releaseInvoices(_ receivable: Receivable) {
        for number in receivable.documents.compactMap(\.number) where openInvoices[number] == receivable.id {
            openInvoices[number] = nil
        }
    }

    mutating func restoreCredit(_ lineId: TxID, _ amountFen: Int64) {
        let used = creditLines[lineId]!.usedFen - amountFen
        assert(used >= 0, "credit line use never goes below zero")
        creditLines[lineId]!.usedFen = max(0, used)
    }

    // MARK: - Operator

    mutating func registerOrg(_ p: RegisterOrgPayload, _ ctx: Context, _ effects: inout TxEffects) throws(LedgerError) {
        guard orgs[p.orgId] == nil else { throw LedgerError.invalid("payload.orgId", "org \(p.orgId) is already registered") }
        if let problem = CreditCode.problem(p.creditCode) {
            throw LedgerError.invalid("payload.creditCode", "\(p.creditCode) is not a valid unified social credit code: \(problem)")
        }
        guard !orgs.values.contains(where: { $0.creditCode == p.creditCode }) else {
            throw LedgerError.invalid("payload.creditCode", "credit code \(p.creditCode) is already registered")
        }
        guard operatorId == nil || p.role != .operator else {
            throw LedgerError.invalid("payload.role", "the platform has one operator")
        }
        try checkKey(p.publicKey)
        put(Org(id: p.orgId, name: p.name, role: p.role, creditCode: p.creditCode, publicKey: p.publicKey,
                keyId: profile.keyId(publicKey: p.publicKey), status: .active, registeredTx: ctx.txId))
        if operatorId == nil {
            operatorId = p.orgId
            effects.policyChanged = true  // the default policy comes into force at genesis
        }
        effects.orgId = p.orgId
    }

    /// A key is one of the chain's profile: an Ed25519 key on an SM2 chain (or the reverse), or
    /// a point off the curve, is refused with the reason.
    func checkKey(_ key: [UInt8]) throws(LedgerError) {
        if let problem = profile.publicKeyProblem(key) { throw LedgerError.invalid("payload.publicKey", "the key \(problem)") }
    }

    mutating func rotateKey(orgId: OrgID, key: [UInt8], _ effects: inout TxEffects) throws(LedgerError) {
        _ = try existingOrg(orgId, "org")
        try checkKey(key)
        var org = orgs[orgId]!
        org.publicKey = key
        org.keyId = profile.keyId(publicKey: key)
        put(org)
        effects.orgId = orgId
    }

    mutating func setOrgStatus(orgId: OrgID, status: OrgStatus, _ ctx: Context, _ effects: inout TxEffects) throws(LedgerError) {
        _ = try existingOrg(orgId, "org")
        guard orgId != ctx.signerId else { throw LedgerError(.invalidCounterparty, "the operator cannot change its own status") }
        var org = orgs[orgId]!
        org.status = status
        put(org)
        effects.orgId = orgId
    }

    mutating func setPolicy(_ newPolicy: Policy, _ effects: inout TxEffects) throws(LedgerError) {
        if let problem = newPolicy.problem() {
            throw LedgerError(.validationFailed, "\(problem.field) \(problem.message)", fields: [problem])
        }
        policy = newPolicy
        effects.policyChanged = true
    }

    // MARK: - Bank: credit lines

    func checkCreditTerms(limitFen: Int64?, rateBps: Int64?) throws(LedgerError) {
        if let limitFen, !(1...Limits.maxAmountFen).contains(limitFen) {
            throw LedgerError(.amountOutOfRange, "limit \(limitFen) fen must be between 1 and \(Limits.maxAmountFen)")
        }
        if let rateBps, !(0...Limits.maxRateBps).contains(rateBps) {
            throw LedgerError.invalid("payload.rateBps", "must be between 0 and \(Limits.maxRateBps) basis points")
        }
    }

    mutating func grantCredit(coreId: OrgID, limitFen: Int64, rateBps: Int64, expiresOn: BusinessDate, _ ctx: Context,
                              _ effects: inout TxEffects) throws(LedgerError) {
        try counterparty(coreId, role: .core, what: "core enterprise", ctx)
        try checkCreditTerms(limitFen: limitFen, rateBps: rateBps)
        guard expiresOn >= ctx.date else { throw LedgerError.invalid("payload.expiresOn", "\(expiresOn) is already past") }
        let id = ctx.txId
        creditLines[id] = CreditLine(id: id, bankId: ctx.signerId, coreId: coreId, limitFen: limitFen, usedFen: 0,
                                     rateBps: rateBps, expiresOn: expiresOn, status: .active, createdTx: id)
        linesByBankAndCore[BankAndCore(bank: ctx.signerId, core: coreId), default: []].append(id)
        effects.creditLineId = id
    }

    mutating func updateCredit(_ p: UpdateCreditPayload, _ ctx: Context, _ effects: inout TxEffects) throws(LedgerError) {
        guard let line = creditLines[p.creditLineId] else {
            throw LedgerError(.notFound, "credit line \(p.creditLineId) does not exist")
        }
        guard line.bankId == ctx.signerId else { throw LedgerError(.notHolder, "credit line \(line.id) was granted by another bank") }
        guard p.limitFen != nil || p.rateBps != nil || p.expiresOn != nil || p.status != nil else {
            throw LedgerError.invalid("payload", "names nothing to change")
        }
        try checkCreditTerms(limitFen: p.limitFen, rateBps: p.rateBps)
        if let expiresOn = p.expiresOn, expiresOn < ctx.date {
            throw LedgerError.invalid("payload.expiresOn", "\(expiresOn) is already past")
        }
        if let v = p.limitFen { creditLines[line.id]!.limitFen = v }
        if let v = p.rateBps { creditLines[line.id]!.rateBps = v }
        if let v = p.expiresOn { creditLines[line.id]!.expiresOn = v }
        if let v = p.status { creditLines[line.id]!.status = v }
        effects.creditLineId = line.id
    }

    // MARK: - Core: issue and settle

    mutating func issue(_ p: IssuePayload, _ ctx: Context, _ effects: inout TxEffects) throws(LedgerError) {
        if policy.defaultCheckOn, let why = defaultReason(of: ctx.signerId) {
            throw LedgerError(.issuerInDefault, "core enterprise \(ctx.signerId) is in default (\(why)); it issues nothing new until that ends")
        }
        try counterparty(p.supplierId, role: .supplier, what: "supplier", ctx)
        guard let line = creditLines[p.creditLineId], line.coreId == ctx.signerId else {
            throw LedgerError(.notFound, "credit line \(p.creditLineId) is not one of yours")
        }
        guard p.issueDate == ctx.date else {
            throw LedgerError.invalid("payload.issueDate", "must be the business date of the transaction, \(ctx.date)")
        }
        try piece(p.faceFen, "face value")
        guard p.faceFen <= policy.maxFaceFen else {
            throw LedgerError(.amountOutOfRange, "face value \(Money.format(p.faceFen)) is above the maximum \(Money.format(policy.maxFaceFen))")
        }
        let term = p.issueDate.days(until: p.dueDate)
        guard term >= policy.minTermDays, term <= policy.maxTermDays else {
            throw LedgerError(.termOutOfRange, "due date \(p.dueDate) is \(term) days after issue; it must be \(policy.minTermDays) to \(policy.maxTermDays) days")
        }
        var numbers: Set<String> = []
        for number in p.documents.filter({ $0.kind == .invoice }).compactMap(\.number) {
            guard numbers.insert(number).inserted else {
                throw LedgerError(.duplicateInvoice, "invoice \(number) is listed twice")
            }
            if let other = openInvoices[number] {
                throw LedgerError(.duplicateInvoice, "invoice \(number) already backs receivable \(receivables[other]?.number ?? other.description)")
            }
        }
        guard line.isUsable(on: ctx.date) else {
            throw LedgerError(.creditLineUnusable, "credit line \(line.id) is \(line.status == .frozen ? "frozen" : "expired since \(line.expiresOn)")")
        }
        guard let used = Money.add(line.usedFen, p.faceFen), used <= line.limitFen else {
            throw LedgerError(.insufficientCredit, "credit line \(line.id) has \(Money.format(line.availableFen)) left, less than \(Money.format(p.faceFen))")
        }

        let id = ctx.txId
        let year = p.issueDate.components.year
        let sequence = String(issuedCount + 1)
        let number = "CAS-\(year)-" + String(repeating: "0", count: max(0, 6 - sequence.count)) + sequence
        receivables[id] = Receivable(id: id, number: number, issuerId: ctx.signerId, firstHolderId: p.supplierId,
                                     creditLineId: line.id, faceFen: p.faceFen, paidFen: 0, issueDate: p.issueDate,
                                     dueDate: p.dueDate, documents: p.documents, memo: p.memo, status: .pending,
                                     firstTokenId: ctx.outputId(0), termReview: policy.reviewTermDays.map { term > $0 } ?? false)
        issuedCount += 1
        for number in numbers { openInvoices[number] = id }
        creditLines[line.id]!.usedFen = used
        create(ctx, 0, from: nil, receivableId: id, holder: p.supplierId, amountFen: p.faceFen, tier: 1, status: .pending, &effects)
        effects.receivableId = id
        effects.receivableChanged = true
        effects.creditLineId = line.id
    }

    mutating func settle(receivableId: TxID, tokenIds: [TokenID], _ ctx: Context, _ effects: inout TxEffects) throws(LedgerError) {
        guard let receivable = receivables[receivableId] else {
            throw LedgerError(.notFound, "receivable \(receivableId) does not exist")
        }
        guard receivable.issuerId == ctx.signerId else {
            throw LedgerError(.notHolder, "receivable \(receivable.number) was issued by another core enterprise")
        }
        guard ctx.date >= receivable.dueDate else {
            throw LedgerError(.notYetDue, "receivable \(receivable.number) falls due on \(receivable.dueDate); settlement starts then")
        }
        var total: Int64 = 0
        for tokenId in tokenIds {
            guard let token = tokens[tokenId], token.receivableId == receivableId else {
                throw LedgerError(.notFound, "token \(tokenId) is not a piece of receivable \(receivable.number)")
            }
            guard token.status == .active || token.status == .locked else {
                throw LedgerError(.tokenNotActive, "token \(tokenId) is \(token.status.rawValue); only active or locked tokens are paid")
            }
            total += token.amountFen  // bounded by the face value: the pieces of one receivable sum to it
        }

        for tokenId in tokenIds {
            if let open = openFinancingByToken.removeValue(forKey: tokenId) {
                financings[open]!.status = .cancelled
                effects.financingIds.append(open)
            }
            if let open = openEarlyPaymentByToken.removeValue(forKey: tokenId) {
                earlyPayments[open]!.status = .cancelled
                effects.earlyPaymentIds.append(open)
            }
            setStatus(tokenId, .settled, ctx, &effects)
        }
        pay(receivable, total, &effects)
    }

    /// `total` of `receivable` is paid (its pieces settled by the caller): `paidFen` grows, the
    /// receivable is settled once it reaches the face value, and the credit line gets it back.
    mutating func pay(_ receivable: Receivable, _ total: Int64, _ effects: inout TxEffects) {
        let id = receivable.id
        receivables[id]!.paidFen += total
        assert(receivables[id]!.paidFen <= receivable.faceFen, "never pay more than the face value")
        if receivables[id]!.paidFen == receivable.faceFen {
            receivables[id]!.status = .settled
            if receivable.status == .overdue { countOverdue(receivable.issuerId, -1) }
            releaseInvoices(receivable)
        }
        restoreCredit(receivable.creditLineId, total)
        effects.receivableId = id
        effects.receivableChanged = true
        effects.creditLineId = receivable.creditLineId
    }

    // MARK: - Supplier: offers, transfers, splits

    mutating func accept(tokenId: TokenID, _ ctx: Context, _ effects: inout TxEffects) throws(LedgerError) {
        let token = try heldToken(tokenId, status: .pending, ctx)
        setStatus(token.id, .active, ctx, &effects)
        if receivables[token.receivableId]!.status == .pending {
            receivables[token.receivableId]!.status = .active
            effects.receivableChanged = true
        }
        effects.receivableId = token.receivableId
    }

    /// `reject` (by the recipient) and `expireOffer` (by the expiry job): the offer is spent (or
    /// expired) and its value goes back — to the credit line for a first offer, which also rejects
    /// the receivable; to the sender as a new active token for a transfer offer.
    mutating func returnOffer(tokenId: TokenID, expiring: Bool, _ ctx: Context, _ effects: inout TxEffects) throws(LedgerError) {
        let token: Token
        if expiring {
            guard let t = tokens[tokenId] else { throw LedgerError(.notFound, "token \(tokenId) does not exist") }
            guard t.status == .pending else {
                throw LedgerError(.tokenNotActive, "token \(tokenId) is \(t.status.rawValue), not a pending offer")
            }
            let age = t.createdOn.days(until: ctx.date)
            guard age > policy.acceptanceWindowDays else {
                throw LedgerError(.notYetDue, "the offer of \(t.createdOn) is \(age) days old; it may expire after \(policy.acceptanceWindowDays) days")
            }
            token = t
        } else {
            token = try heldToken(tokenId, status: .pending, ctx)
        }
        let receivable = receivables[token.receivableId]!

        setStatus(token.id, expiring ? .expired : .spent, ctx, &effects)
        if token.parentId == nil {
            receivables[receivable.id]!.status = .rejected
            effects.receivableChanged = true
            releaseInvoices(receivable)
            restoreCredit(receivable.creditLineId, token.amountFen)
            effects.creditLineId = receivable.creditLineId
        } else {
            // A transfer offer's parent is the token its sender spent to make it.
            let sender = tokens[token.parentId!]!.holderId
            create(ctx, 0, from: token, receivableId: receivable.id, holder: sender, amountFen: token.amountFen,
                   tier: token.tier - 1, status: .active, &effects)
        }
        effects.receivableId = receivable.id
    }

    mutating func transfer(tokenId: TokenID, to recipientId: OrgID, amountFen: Int64, _ ctx: Context, _ effects: inout TxEffects) throws(LedgerError) {
        let token = try heldToken(tokenId, status: .active, ctx)
        try beforeDue(token, ctx)
        try counterparty(recipientId, role: .supplier, what: "recipient", ctx)
        try piece(amountFen, "amount")
        guard amountFen <= token.amountFen else {
            throw LedgerError(.amountOutOfRange, "amount \(Money.format(amountFen)) is more than the token holds, \(Money.format(token.amountFen))")
        }
        let change = token.amountFen - amountFen
        guard change == 0 || change >= policy.minPieceFen else {
            throw LedgerError(.amountOutOfRange, "change of \(Money.format(change)) would be below the minimum piece \(Money.format(policy.minPieceFen))")
        }
        guard token.tier + 1 <= policy.maxTier else {
            throw LedgerError(.tierLimitExceeded, "a transfer would create a tier-\(token.tier + 1) piece; the limit is tier \(policy.maxTier)")
        }

        let offer = ctx.outputId(0)
        let changeId = change > 0 ? ctx.outputId(1) : nil
        setStatus(token.id, .spent, ctx, &effects)
        create(ctx, 0, id: offer, from: token, receivableId: token.receivableId, holder: recipientId, amountFen: amountFen,
               tier: token.tier + 1, status: .pending, &effects)
        if let changeId {
            create(ctx, 1, id: changeId, from: token, receivableId: token.receivableId, holder: ctx.signerId, amountFen: change,
                   tier: token.tier, status: .active, &effects)
        }
        effects.receivableId = token.receivableId
    }

    mutating func split(tokenId: TokenID, amounts: [Int64], _ ctx: Context, _ effects: inout TxEffects) throws(LedgerError) {
        let token = try heldToken(tokenId, status: .active, ctx)
        try beforeDue(token, ctx)
        for amount in amounts { try piece(amount, "piece") }
        guard Money.sum(amounts) == token.amountFen else {
            throw LedgerError(.splitSumMismatch, "pieces sum to \(Money.sum(amounts).map(Money.format) ?? "more than can be held"), the token holds \(Money.format(token.amountFen))")
        }

        setStatus(token.id, .spent, ctx, &effects)
        for (k, amount) in amounts.enumerated() {
            create(ctx, k, id: ctx.outputId(k), from: token, receivableId: token.receivableId, holder: ctx.signerId, amountFen: amount,
                   tier: token.tier, status: .active, &effects)
        }
        effects.receivableId = token.receivableId
    }

    // MARK: - Financing

    mutating func requestFinancing(tokenId: TokenID, bankId: OrgID, recourse: Bool, _ ctx: Context, _ effects: inout TxEffects) throws(LedgerError) {
        let token = try heldToken(tokenId, status: .active, ctx)
        try counterparty(bankId, role: .bank, what: "bank", ctx)
        try beforeDue(token, ctx)
        let receivable = receivables[token.receivableId]!
        let days = ctx.date.days(until: receivable.dueDate)
        guard days > policy.financingCutoffDays else {
            throw LedgerError(.financingCutoff, "receivable \(receivable.number) is due in \(days) days; financing closes \(policy.financingCutoffDays) days before the due date")
        }
        let line = try financingLine(bank: bankId, core: receivable.issuerId, on: ctx.date).get()

        let quote = FinancingQuote(token: token, line: line, dueDate: receivable.dueDate, on: ctx.date)
        let id = ctx.txId
        financings[id] = Financing(id: id, tokenId: token.id, receivableId: token.receivableId, supplierId: ctx.signerId,
                                   bankId: bankId, creditLineId: line.id, amountFen: quote.amountFen, rateBps: quote.rateBps,
                                   days: quote.days, interestFen: quote.interestFen, payoutFen: quote.payoutFen,
                                   status: .requested, requestedOn: ctx.date, bankTokenId: nil, payoutReference: nil, recourse: recourse)
        setStatus(token.id, .locked, ctx, &effects)
        openFinancingByToken[token.id] = id
        effects.financingIds = [id]
        effects.receivableId = token.receivableId
    }

    mutating func approveFinancing(_ id: TxID, filing: Filing?, termReview: String?, _ ctx: Context, _ effects: inout TxEffects) throws(LedgerError) {
        let f = try financing(id, of: \.bankId, ctx)
        try requireStatus(f, .requested)
        let token = tokens[f.tokenId]!
        assert(token.status == .locked, "an open financing holds its token locked")
        try approvalConditions(f, filing: filing, termReview: termReview, on: ctx.date)

        setStatus(token.id, .spent, ctx, &effects)
        create(ctx, 0, from: token, receivableId: token.receivableId, holder: ctx.signerId, amountFen: token.amountFen,
               tier: token.tier, status: .active, &effects)
        financings[id]!.status = .approved
        openFinancingByToken[token.id] = nil
        financings[id]!.bankTokenId = ctx.outputId(0)
        financings[id]!.filing = filing
        financings[id]!.termReview = termReview
        effects.financingIds = [id]
        effects.receivableId = token.receivableId
    }

    /// What format 2 asks of an approval (77号), in SPEC order: the term review of a long-term
    /// receivable, then the 中登网 filing, dated no later than `date`. (A prepared approval is tried
    /// against the rules when it is prepared, so a maker learns of a missing filing at once.)
    public func approvalConditions(_ f: Financing, filing: Filing?, termReview: String?, on date: BusinessDate) throws(LedgerError) {
        if policy.termReviewOn, termReview == nil, let receivable = receivables[f.receivableId], receivable.termReview {
            throw LedgerError(.termReviewRequired, "receivable \(receivable.number) runs \(receivable.issueDate.days(until: receivable.dueDate)) days, more than \(policy.reviewTermDays!); its financing needs the bank's term review, with its reason")
        }
        if policy.filingOn {
            guard let filing else {
                throw LedgerError(.filingRequired, "approving a financing needs the bank's 中登网 registration of the assignment: its number and date")
            }
            guard filing.filedOn <= date else {
                throw LedgerError(.filingRequired, "the 中登网 registration is dated \(filing.filedOn), after the business date \(date); register first, then approve")
            }
        }
    }

    /// `rejectFinancing` (by the bank) and `cancelFinancing` (by the supplier) unlock the token.
    mutating func closeFinancing(_ id: TxID, as status: FinancingStatus, _ ctx: Context, _ effects: inout TxEffects) throws(LedgerError) {
        let f = try financing(id, of: status == .rejected ? \.bankId : \.supplierId, ctx)
        try requireStatus(f, .requested)
        setStatus(f.tokenId, .active, ctx, &effects)
        openFinancingByToken[f.tokenId] = nil
        financings[id]!.status = status
        effects.financingIds = [id]
        effects.receivableId = f.receivableId
    }

    mutating func confirmPayout(_ id: TxID, reference: String, _ ctx: Context, _ effects: inout TxEffects) throws(LedgerError) {
        let f = try financing(id, of: \.bankId, ctx)
        try requireStatus(f, .approved)
        financings[id]!.status = .paid
        financings[id]!.payoutReference = reference
        effects.financingIds = [id]
        effects.receivableId = f.receivableId
    }

    // MARK: - System jobs

    mutating func markOverdue(receivableId: TxID, _ ctx: Context, _ effects: inout TxEffects) throws(LedgerError) {
        guard let receivable = receivables[receivableId] else {
            throw LedgerError(.notFound, "receivable \(receivableId) does not exist")
        }
        guard receivable.status == .active else {
            throw LedgerError.invalid("payload.receivableId", "receivable \(receivable.number) is \(receivable.status.rawValue), not active")
        }
        let late = receivable.dueDate.days(until: ctx.date)
        guard late > policy.graceDays else {
            throw LedgerError(.notYetDue, "receivable \(receivable.number) is \(max(0, late)) days past due; it becomes overdue after \(policy.graceDays)")
        }
        receivables[receivableId]!.status = .overdue
        receivables[receivableId]!.overdueOn = ctx.date
        countOverdue(receivable.issuerId, 1)
        effects.receivableId = receivableId
        effects.receivableChanged = true
    }

    // MARK: - Defaults (format 2)

    /// Why `org` is in default, or nil: a default the operator recorded, or an `overdue` receivable.
    public func defaultReason(of org: OrgID) -> String? {
        guard let facts = orgFacts[org] else { return nil }
        if facts.recordedDefault { return orgs[org]?.defaultReason ?? "recorded by the operator" }
        if facts.overdue > 0 { return "\(facts.overdue) overdue receivable\(facts.overdue == 1 ? "" : "s")" }
        return nil
    }

    mutating func recordDefault(orgId: OrgID, inDefault: Bool, reason: String, _ ctx: Context, _ effects: inout TxEffects) throws(LedgerError) {
        let org = try existingOrg(orgId, "org")
        guard org.role == .core else {
            throw LedgerError(.invalidCounterparty, "org \(orgId) is a \(org.role.rawValue); a default is recorded for a core enterprise")
        }
        var record = orgs[orgId]!
        record.inDefault = inDefault
        record.defaultReason = inDefault ? reason : nil
        put(record)
        effects.orgId = orgId
    }

    // MARK: - Early payment (format 2)

    mutating func requestEarlyPayment(tokenId: TokenID, rateBps: Int64, _ ctx: Context, _ effects: inout TxEffects) throws(LedgerError) {
        let token = try heldToken(tokenId, status: .active, ctx)
        try beforeDue(token, ctx)
        let receivable = receivables[token.receivableId]!
        guard orgFacts[receivable.issuerId]?.status == .active else {
            throw LedgerError(.orgSuspended, "the issuer \(receivable.issuerId) is suspended")
        }
        guard (1...Limits.maxRateBps).contains(rateBps) else {
            throw LedgerError(.amountOutOfRange, "rate \(rateBps) bps must be between 1 and \(Limits.maxRateBps) basis points")
        }
        let days = ctx.date.days(until: receivable.dueDate)
        let discount = Money.discountInterestFen(amountFen: token.amountFen, rateBps: rateBps, days: days)
        guard discount < token.amountFen else {
            throw LedgerError(.amountOutOfRange, "at \(rateBps) bps over \(days) days the discount \(Money.format(discount)) would take the whole \(Money.format(token.amountFen))")
        }

        let id = ctx.txId
        earlyPayments[id] = EarlyPayment(id: id, tokenId: token.id, receivableId: receivable.id, supplierId: ctx.signerId, issuerId: receivable.issuerId,
                                         amountFen: token.amountFen, rateBps: rateBps, days: days, discountFen: discount,
                                         payoutFen: token.amountFen - discount, status: .requested, requestedOn: ctx.date)
        setStatus(token.id, .locked, ctx, &effects)
        openEarlyPaymentByToken[token.id] = id
        effects.earlyPaymentIds = [id]
        effects.receivableId = token.receivableId
    }

    /// An early payment `party` of which is the signer, in `status`: only the issuer decides, only
    /// the supplier withdraws.
    func earlyPayment(_ id: TxID, of party: KeyPath<EarlyPayment, OrgID>, in status: EarlyPaymentStatus, _ ctx: Context) throws(LedgerError) -> EarlyPayment {
        guard let e = earlyPayments[id] else { throw LedgerError(.notFound, "early payment \(id) does not exist") }
        guard e[keyPath: party] == ctx.signerId else {
            throw LedgerError(.notHolder, party == \EarlyPayment.issuerId ? "only the issuer decides early payment \(id)" : "only the supplier who asked withdraws early payment \(id)")
        }
        guard e.status == status else {
            throw LedgerError(.earlyPaymentNotOpen, "early payment \(id) is \(e.status.rawValue), not \(status.rawValue)")
        }
        return e
    }

    mutating func approveEarlyPayment(_ id: TxID, _ ctx: Context, _ effects: inout TxEffects) throws(LedgerError) {
        let e = try earlyPayment(id, of: \.issuerId, in: .requested, ctx)
        try beforeDue(tokens[e.tokenId]!, ctx)
        earlyPayments[id]!.status = .approved
        effects.earlyPaymentIds = [id]
        effects.receivableId = e.receivableId
    }

    /// `rejectEarlyPayment` (by the issuer) and `cancelEarlyPayment` (by the supplier) unlock the token.
    mutating func closeEarlyPayment(_ id: TxID, as status: EarlyPaymentStatus, _ ctx: Context, _ effects: inout TxEffects) throws(LedgerError) {
        let e = try earlyPayment(id, of: status == .rejected ? \.issuerId : \.supplierId, in: .requested, ctx)
        setStatus(e.tokenId, .active, ctx, &effects)
        openEarlyPaymentByToken[e.tokenId] = nil
        earlyPayments[id]!.status = status
        effects.earlyPaymentIds = [id]
        effects.receivableId = e.receivableId
    }

    /// The payout reached the supplier: the piece is paid, early and for less.
    mutating func confirmEarlyPayment(_ id: TxID, reference: String, _ ctx: Context, _ effects: inout TxEffects) throws(LedgerError) {
        let e = try earlyPayment(id, of: \.issuerId, in: .approved, ctx)
        assert(tokens[e.tokenId]?.status == .locked, "an approved early payment holds its token locked")
        earlyPayments[id]!.status = .paid
        earlyPayments[id]!.reference = reference
        openEarlyPaymentByToken[e.tokenId] = nil
        setStatus(e.tokenId, .settled, ctx, &effects)
        pay(receivables[e.receivableId]!, e.amountFen, &effects)
        effects.earlyPaymentIds = [id]
    }
}
