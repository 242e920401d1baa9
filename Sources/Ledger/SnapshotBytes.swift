/// A live state written down at a block, so that a writer or an observer starts from it and the
/// blocks after it instead of replaying the whole chain.
///
/// The bytes are canonical: objects in id order, and only what a live state keeps (whether or not
/// this one had retired the rest yet), so two nodes at the same block write the same bytes and
/// the same hash. Version 3 of the layout, which names the crypto profile and holds the
/// transaction log's right edge (an earlier version is refused, and the state is replayed instead): little-endian integers, strings and byte strings preceded by
/// their length, booleans as one byte, enums by their names.
extension LedgerState {
    static let snapshotMagic = Array("cascade-checkpoint-3\n".utf8)

    /// The state at `tip` as snapshot bytes. Only a live state can be written down: a full
    /// replay does not keep its ids in chain order.
    public func snapshotBytes(at tip: ChainTip) -> [UInt8] {
        precondition(isLive, "only a live state is snapshoted")
        let w = ByteWriter()
        w.bytes(Self.snapshotMagic, counted: false)
        w.string(profile.rawValue)
        w.int(tip.height); w.string(tip.hash); w.int(tip.time)
        w.int(log.size); w.count(log.hashes.count)
        log.hashes.forEach { w.bytes($0) }
        w.optional(operatorId) { w.org($0) }
        w.int(Int64(transactionCount)); w.int(Int64(issuedCount))
        for v in [policy.maxTermDays, policy.minTermDays, policy.minPieceFen, policy.maxFaceFen, policy.maxTier,
                  policy.acceptanceWindowDays, policy.financingCutoffDays, policy.graceDays] { w.int(v) }
        w.optional(policy.reviewTermDays) { w.int($0) }
        w.optional(policy.filingRequired) { w.bool($0) }
        w.optional(policy.defaultBlocksIssue) { w.bool($0) }

        w.sorted(orgs.storage) { w.write($0) }
        w.sorted(creditLines.storage) { w.write($0) }
        w.count(linesByBankAndCore.count)
        for (key, lines) in linesByBankAndCore.storage.sorted(by: { ($0.key.bank, $0.key.core) < ($1.key.bank, $1.key.core) }) {
            w.org(key.bank); w.org(key.core)
            w.count(lines.count)
            lines.forEach { w.tx($0) }
        }
        w.sorted(receivables.storage.filter { !Self.isClosed($0.value.status) }) { w.write($0) }
        w.count(openInvoices.count)
        for (number, id) in openInvoices.storage.sorted(by: { $0.key < $1.key }) { w.string(number); w.tx(id) }
        let kept = tokensKept()
        let liveTokens = tokens.values.filter { kept.contains($0.id) }.sorted { $0.id < $1.id }
        w.count(liveTokens.count)
        liveTokens.forEach { w.write($0) }
        w.sorted(financings.storage.filter { !Self.isClosed($0.value.status) }) { w.write($0) }
        w.count(openFinancingByToken.count)
        for (token, id) in openFinancingByToken.storage.sorted(by: { $0.key < $1.key }) { w.token(token); w.tx(id) }
        w.sorted(earlyPayments.storage.filter { !Self.isClosed($0.value.status) }) { w.write($0) }
        w.count(openEarlyPaymentByToken.count)
        for (token, id) in openEarlyPaymentByToken.storage.sorted(by: { $0.key < $1.key }) { w.token(token); w.tx(id) }

        var seen = seenIds!
        for id in recentIds { seen.insert(id) }
        w.count(seen.segments.count)
        for s in seen.segments {
            w.count(s.capacity); w.count(s.count)
            s.bits.forEach { w.word($0) }
        }
        return w.out
    }

    /// A live state from snapshot bytes, and the block it stands at. Throws on bytes that are
    /// not a whole snapshot of this layout; whether they are the right ones is the caller's to
    /// check (their hash, and the block's).
    /// The crypto profile snapshot bytes name, read before anything else of them is trusted.
    public static func snapshotProfile(_ bytes: [UInt8]) -> CryptoProfile? {
        let r = ByteReader(bytes)
        guard (try? Array(r.take(snapshotMagic.count))) == snapshotMagic, let name = try? r.string() else { return nil }
        return CryptoProfile(rawValue: name)
    }

    public static func restore(snapshot bytes: [UInt8]) throws(SnapshotError) -> (state: LedgerState, tip: ChainTip) {
        let r = ByteReader(bytes)
        guard Array(try r.take(snapshotMagic.count)) == snapshotMagic else { throw SnapshotError("not a snapshot of layout 3") }
        let profileName = try r.string()
        guard let profile = CryptoProfile(rawValue: profileName) else { throw SnapshotError("\(profileName) is not a crypto profile") }
        let tip = ChainTip(height: try r.int(), hash: try r.string(), time: try r.int())
        var s = LedgerState(profile: profile)
        let logSize = try r.int()
        let logHashes = try (0..<(try r.count())).map { _ throws(SnapshotError) in try r.byteString() }
        guard let log = LogFrontier(size: logSize, hashes: logHashes, profile: profile) else { throw SnapshotError("its transaction log's edge does not fit its size") }
        s.log = log
        s.operatorId = try r.optional { () throws(SnapshotError) in try r.org() }
        s.transactionCount = Int(try r.int()); s.issuedCount = Int(try r.int())
        var p = Policy()
        (p.maxTermDays, p.minTermDays, p.minPieceFen, p.maxFaceFen) = (try r.int(), try r.int(), try r.int(), try r.int())
        (p.maxTier, p.acceptanceWindowDays, p.financingCutoffDays, p.graceDays) = (try r.int(), try r.int(), try r.int(), try r.int())
        p.reviewTermDays = try r.optional { () throws(SnapshotError) in try r.int() }
        p.filingRequired = try r.optional { () throws(SnapshotError) in try r.bool() }
        p.defaultBlocksIssue = try r.optional { () throws(SnapshotError) in try r.bool() }
        s.policy = p

        for _ in 0..<(try r.count()) { s.put(try r.orgValue()) }
        for _ in 0..<(try r.count()) { let l = try r.creditLine(); s.creditLines[l.id] = l }
        for _ in 0..<(try r.count()) {
            let key = BankAndCore(bank: try r.org(), core: try r.org())
            s.linesByBankAndCore[key] = try (0..<(try r.count())).map { _ throws(SnapshotError) in try r.tx() }
        }
        for _ in 0..<(try r.count()) {
            let x = try r.receivable()
            s.receivables[x.id] = x
            if x.status == .overdue {
                guard s.orgFacts[x.issuerId] != nil else { throw SnapshotError("receivable \(x.id)'s issuer is not an org") }
                s.countOverdue(x.issuerId, 1)
            }
        }
        for _ in 0..<(try r.count()) { s.openInvoices[try r.string()] = try r.tx() }
        let tokenCount = try r.count()
        s.tokens.reserveCapacity(tokenCount)
        for _ in 0..<tokenCount { s.tokens.insert(try r.token()) }
        for _ in 0..<(try r.count()) { let f = try r.financing(); s.financings[f.id] = f }
        for _ in 0..<(try r.count()) { s.openFinancingByToken[try r.tokenId()] = try r.tx() }
        for _ in 0..<(try r.count()) { let e = try r.earlyPayment(); s.earlyPayments[e.id] = e }
        for _ in 0..<(try r.count()) { s.openEarlyPaymentByToken[try r.tokenId()] = try r.tx() }

        var seen = SeenIds()
        for _ in 0..<(try r.count()) {
            let capacity = try r.count(), count = try r.count()
            guard capacity > 0, capacity <= 1 << 40, count <= capacity else { throw SnapshotError("a Bloom filter segment of impossible size") }
            let words = capacity * SeenIds.bitsPerId / 64
            seen.segments.append(SeenIds.Segment(bits: try (0..<words).map { _ throws(SnapshotError) in try r.word() }, count: count, capacity: capacity))
        }
        s.seenIds = seen
        s.liveAtRetire = s.tokens.count
        guard r.atEnd else { throw SnapshotError("bytes after the end of the snapshot") }
        return (s, tip)
    }
}

/// Snapshot bytes that cannot be read back.
public struct SnapshotError: Error, Sendable, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

final class ByteWriter {
    var out: [UInt8] = []

    func word(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
    func int(_ v: Int64) { word(UInt64(bitPattern: v)) }
    func count(_ n: Int) { int(Int64(n)) }
    func bytes(_ b: [UInt8], counted: Bool = true) {
        if counted { count(b.count) }
        out.append(contentsOf: b)
    }
    func string(_ s: String) { bytes(Array(s.utf8)) }
    func bool(_ b: Bool) { out.append(b ? 1 : 0) }
    func optional<T>(_ v: T?, _ write: (T) -> Void) {
        out.append(v == nil ? 0 : 1)
        if let v { write(v) }
    }
    func tx(_ id: TxID) { word(id.w0); word(id.w1); word(id.w2); word(id.w3) }
    func token(_ id: TokenID) { word(id.hi); word(id.lo) }
    func org(_ id: OrgID) { word(id.hi); word(id.lo) }
    func date(_ d: BusinessDate) { int(d.dayNumber) }

    func sorted<K: Comparable, V>(_ items: [K: V], _ write: (V) -> Void) {
        count(items.count)
        for key in items.keys.sorted() { write(items[key]!) }
    }

    func write(_ o: Org) {
        org(o.id); string(o.name); string(o.role.rawValue); string(o.creditCode); bytes(o.publicKey); string(o.keyId)
        string(o.status.rawValue); tx(o.registeredTx)
        bool(o.inDefault); optional(o.defaultReason) { string($0) }
    }

    func write(_ l: CreditLine) {
        tx(l.id); org(l.bankId); org(l.coreId); int(l.limitFen); int(l.usedFen); int(l.rateBps); date(l.expiresOn)
        string(l.status.rawValue); tx(l.createdTx)
    }

    func write(_ r: Receivable) {
        tx(r.id); string(r.number); org(r.issuerId); org(r.firstHolderId); tx(r.creditLineId); int(r.faceFen); int(r.paidFen)
        date(r.issueDate); date(r.dueDate)
        count(r.documents.count)
        for d in r.documents {
            string(d.kind.rawValue); string(d.sha256)
            optional(d.number) { string($0) }
            optional(d.fileName) { string($0) }
        }
        optional(r.memo) { string($0) }
        string(r.status.rawValue); token(r.firstTokenId)
        bool(r.termReview); optional(r.overdueOn) { date($0) }
    }

    func write(_ t: Token) {
        token(t.id); tx(t.receivableId); optional(t.parentId) { token($0) }; org(t.holderId); int(t.amountFen); int(t.tier)
        string(t.status.rawValue); tx(t.createdTx); optional(t.spentTx) { tx($0) }; date(t.createdOn)
    }

    func write(_ f: Financing) {
        tx(f.id); token(f.tokenId); tx(f.receivableId); org(f.supplierId); org(f.bankId); tx(f.creditLineId); int(f.amountFen)
        int(f.rateBps); int(f.days); int(f.interestFen); int(f.payoutFen); string(f.status.rawValue); date(f.requestedOn)
        optional(f.bankTokenId) { token($0) }; optional(f.payoutReference) { string($0) }
        bool(f.recourse)
        optional(f.filing) { string($0.number); date($0.filedOn) }
        optional(f.termReview) { string($0) }
    }

    func write(_ e: EarlyPayment) {
        tx(e.id); token(e.tokenId); tx(e.receivableId); org(e.supplierId); org(e.issuerId); int(e.amountFen); int(e.rateBps); int(e.days)
        int(e.discountFen); int(e.payoutFen); string(e.status.rawValue); date(e.requestedOn); optional(e.reference) { string($0) }
    }
}

final class ByteReader {
    let bytes: [UInt8]
    var at = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }
    var atEnd: Bool { at == bytes.count }

    func take(_ n: Int) throws(SnapshotError) -> ArraySlice<UInt8> {
        guard n >= 0, n <= bytes.count - at else { throw SnapshotError("the snapshot ends early, at byte \(at)") }
        defer { at += n }
        return bytes[at..<at + n]
    }

    func word() throws(SnapshotError) -> UInt64 {
        let b = try take(8)
        var v: UInt64 = 0
        for (i, byte) in b.enumerated() { v |= UInt64(byte) << (8 * UInt64(i)) }
        return v
    }
    func int() throws(SnapshotError) -> Int64 { Int64(bitPattern: try word()) }
    func count() throws(SnapshotError) -> Int {
        let n = try int()
        // No count can exceed the bytes left: every item (and every id a filter segment holds)
        // takes at least one byte. So nothing read here makes room for more than the bytes hold.
        guard n >= 0, n <= Int64(bytes.count - at) else { throw SnapshotError("an impossible count \(n) at byte \(at - 8)") }
        return Int(n)
    }
    func byteString() throws(SnapshotError) -> [UInt8] { Array(try take(try count())) }
    func string() throws(SnapshotError) -> String {
        let b = try byteString()
        guard let s = String(validating: b, as: UTF8.self) else { throw SnapshotError("a string that is not UTF-8 at byte \(at - b.count)") }
        return s
    }
    func optional<T>(_ read: () throws(SnapshotError) -> T) throws(SnapshotError) -> T? {
        switch try take(1).first! {
        case 0: return nil
        case 1: return try read()
        case let tag: throw SnapshotError("an optional's tag \(tag) at byte \(at - 1)")
        }
    }
    func bool() throws(SnapshotError) -> Bool {
        switch try take(1).first! {
        case 0: return false
        case 1: return true
        case let b: throw SnapshotError("a boolean \(b) at byte \(at - 1)")
        }
    }
    func tx() throws(SnapshotError) -> TxID { TxID(try word(), try word(), try word(), try word()) }
    func tokenId() throws(SnapshotError) -> TokenID { TokenID(hi: try word(), lo: try word()) }
    func org() throws(SnapshotError) -> OrgID { OrgID(hi: try word(), lo: try word()) }
    func date() throws(SnapshotError) -> BusinessDate { BusinessDate(dayNumber: try int()) }
    func name<E: RawRepresentable>(_: E.Type) throws(SnapshotError) -> E where E.RawValue == String {
        let text = try string()
        guard let value = E(rawValue: text) else { throw SnapshotError("an unknown \(E.self) \(text)") }
        return value
    }

    func orgValue() throws(SnapshotError) -> Org {
        Org(id: try org(), name: try string(), role: try name(OrgRole.self), creditCode: try string(), publicKey: try byteString(),
            keyId: try string(), status: try name(OrgStatus.self), registeredTx: try tx(),
            inDefault: try bool(), defaultReason: try optional { () throws(SnapshotError) in try string() })
    }

    func creditLine() throws(SnapshotError) -> CreditLine {
        CreditLine(id: try tx(), bankId: try org(), coreId: try org(), limitFen: try int(), usedFen: try int(), rateBps: try int(),
                   expiresOn: try date(), status: try name(CreditLineStatus.self), createdTx: try tx())
    }

    func receivable() throws(SnapshotError) -> Receivable {
        let id = try tx(), number = try string(), issuer = try org(), firstHolder = try org(), line = try tx()
        let face = try int(), paid = try int(), issued = try date(), due = try date()
        var documents: [Document] = []
        for _ in 0..<(try count()) {
            documents.append(Document(kind: try name(DocumentKind.self), sha256: try string(), number: try optional { () throws(SnapshotError) in try string() },
                                      fileName: try optional { () throws(SnapshotError) in try string() }))
        }
        return Receivable(id: id, number: number, issuerId: issuer, firstHolderId: firstHolder, creditLineId: line, faceFen: face, paidFen: paid,
                          issueDate: issued, dueDate: due, documents: documents, memo: try optional { () throws(SnapshotError) in try string() },
                          status: try name(ReceivableStatus.self), firstTokenId: try tokenId(), termReview: try bool(),
                          overdueOn: try optional { () throws(SnapshotError) in try date() })
    }

    func token() throws(SnapshotError) -> Token {
        Token(id: try tokenId(), receivableId: try tx(), parentId: try optional { () throws(SnapshotError) in try tokenId() }, holderId: try org(),
              amountFen: try int(), tier: try int(), status: try name(TokenStatus.self), createdTx: try tx(),
              spentTx: try optional { () throws(SnapshotError) in try tx() }, createdOn: try date())
    }

    func financing() throws(SnapshotError) -> Financing {
        Financing(id: try tx(), tokenId: try tokenId(), receivableId: try tx(), supplierId: try org(), bankId: try org(), creditLineId: try tx(),
                  amountFen: try int(), rateBps: try int(), days: try int(), interestFen: try int(), payoutFen: try int(),
                  status: try name(FinancingStatus.self), requestedOn: try date(),
                  bankTokenId: try optional { () throws(SnapshotError) in try tokenId() },
                  payoutReference: try optional { () throws(SnapshotError) in try string() },
                  recourse: try bool(),
                  filing: try optional { () throws(SnapshotError) in Filing(number: try string(), filedOn: try date()) },
                  termReview: try optional { () throws(SnapshotError) in try string() })
    }

    func earlyPayment() throws(SnapshotError) -> EarlyPayment {
        EarlyPayment(id: try tx(), tokenId: try tokenId(), receivableId: try tx(), supplierId: try org(), issuerId: try org(), amountFen: try int(),
                     rateBps: try int(), days: try int(), discountFen: try int(), payoutFen: try int(),
                     status: try name(EarlyPaymentStatus.self), requestedOn: try date(),
                     reference: try optional { () throws(SnapshotError) in try string() })
    }
}
