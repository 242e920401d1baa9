import Ledger
import PropertyBased
import Testing

/// A live state (history retired to the database, recalled when a transaction needs it) decides
/// every transaction exactly as a state holding everything does, and its snapshot reads back.
@Suite struct LiveStateTests {
    /// What the database's projections hold: every object of the full state.
    static func recalled(_ asked: Recall, from full: LedgerState, applied: Set<TxID>) -> Recalled {
        Recalled(tokens: asked.tokens.compactMap { full.tokens[$0] }, receivables: asked.receivables.compactMap { full.receivables[$0] },
                 financings: asked.financings.compactMap { full.financings[$0] }, transactionIds: asked.transactionIds.filter(applied.contains))
    }

    /// Recalls what `tx` needs, as the writer does: until nothing new is asked for.
    static func prepare(_ live: inout LedgerState, for tx: Transaction, full: LedgerState, applied: Set<TxID>) {
        var asked = Recall()
        while let fresh = live.missing(for: [tx]).fresh(after: &asked) {
            live.recall(recalled(fresh, from: full, applied: applied))
        }
    }

    /// Every object the live state holds is the full state's, as it stands there.
    static func problems(_ live: LedgerState, _ full: LedgerState) -> [String] {
        var out: [String] = []
        for t in live.tokens.values where full.tokens[t.id] != t { out.append("token \(t.id) differs") }
        for r in live.receivables.values where full.receivables[r.id] != r { out.append("receivable \(r.id) differs") }
        for f in live.financings.values where full.financings[f.id] != f { out.append("financing \(f.id) differs") }
        if live.creditLines.storage != full.creditLines.storage { out.append("credit lines differ") }
        if live.policy != full.policy || live.issuedCount != full.issuedCount || live.transactionCount != full.transactionCount {
            out.append("counters or policy differ")
        }
        return out
    }

    @Test func aLiveStateDecidesAsAFullOne() async {
        await propertyCheck(count: 40, input: Gen.int(in: 0...1_000_000).array(of: 60...200)) { values in
            var fx = Fixture()
            let line = fx.grant(limitFen: 200_000_000)
            _ = fx.grant("bank2", rateBps: 298)
            var live = LedgerState()
            live.goLive()
            for tx in fx.applied { _ = live.apply(tx) }
            var applied = Set(fx.applied.map(\.id))
            var d = PropertyTests.Draws(values: values)
            for k in 0..<values.count {
                let before = fx.state
                let tx: Transaction
                let fullResult: Result<TxEffects, LedgerError>
                if d.next(9) == 0, let old = fx.applied.randomElement() {
                    // A transaction already on the chain, sent again.
                    tx = old
                    fullResult = fx.state.apply(old)
                } else {
                    guard let result = PropertyTests.step(&fx, &d, line: line), let submitted = fx.lastSubmitted else { continue }
                    tx = submitted
                    fullResult = result
                }
                Self.prepare(&live, for: tx, full: before, applied: applied)
                let liveResult = live.apply(tx)
                #expect(liveResult == fullResult, "step \(k): \(tx.body.type.rawValue) gave \(liveResult) live, \(fullResult) in full")
                if case .success = fullResult { applied.insert(tx.id) }
                switch d.next(5) {
                case 0: live.retire()
                case 1:
                    let tip = ChainTip(height: Int64(k), hash: String(repeating: "a", count: 64), time: 0)
                    let bytes = live.snapshotBytes(at: tip)
                    let restored = try! LedgerState.restore(snapshot: bytes)
                    #expect(restored.tip == tip)
                    #expect(restored.state.snapshotBytes(at: tip) == bytes, "a snapshot reads back to the same bytes")
                    live = restored.state
                default: break
                }
                let problems = Self.problems(live, fx.state)
                #expect(problems.isEmpty, "step \(k): \(problems)")
            }
        }
    }

    @Test func retiringKeepsOnlyWhatTheRulesNeed() {
        var fx = Fixture()
        let line = fx.grant(limitFen: 200_000_000)
        var live = LedgerState()
        live.goLive()
        for tx in fx.applied { _ = live.apply(tx) }
        var pending: TokenID?
        for _ in 0..<20 {
            let (_, token) = fx.activeReceivable(line: line, faceFen: 1_000_000)
            let (_, change) = fx.pay(token, from: "s1", to: "s2", amountFen: 400_000)
            // One offer left unanswered: its parent stays, for whoever answers it.
            pending = fx.ok("s1", .transfer(tokenId: change!, toOrgId: fx.id("s3"), amountFen: 100_000, memo: nil)).createdTokens[0]
        }
        for tx in fx.applied.dropFirst(live.transactionCount) { _ = live.apply(tx) }
        let all = live.heldCounts.tokens
        live.retire()
        let kept = live.heldCounts.tokens
        #expect(kept < all)
        let parentsOfOffers = Set(live.tokens.values.filter { $0.status == .pending }.compactMap(\.parentId))
        #expect(live.tokens.values.allSatisfy { [.pending, .active, .locked].contains($0.status) || parentsOfOffers.contains($0.id) })
        #expect(live.tokens[fx.state.tokens[pending!]!.parentId!] != nil, "a pending offer's parent is kept")
        #expect(live.heldCounts.recentIds == 0 && live.heldCounts.seenIds == fx.applied.count)
        #expect(fx.applied.allSatisfy { live.missing(for: [$0]).transactionIds.contains($0.id) }, "every past id is a 'maybe' of the filter")
    }

    @Test func aDamagedSnapshotIsRefused() {
        var fx = Fixture()
        let line = fx.grant(limitFen: 200_000_000)
        _ = fx.activeReceivable(line: line)
        var live = LedgerState()
        live.goLive()
        for tx in fx.applied { _ = live.apply(tx) }
        let bytes = live.snapshotBytes(at: ChainTip(height: 3, hash: String(repeating: "b", count: 64), time: 1))
        #expect(throws: SnapshotError.self) { try LedgerState.restore(snapshot: Array(bytes.dropLast())) }
        #expect(throws: SnapshotError.self) { try LedgerState.restore(snapshot: bytes + [0]) }
        #expect(throws: SnapshotError.self) { try LedgerState.restore(snapshot: Array("cascade-snapshot-9\n".utf8) + bytes.dropFirst(21)) }
        #expect(throws: SnapshotError.self) { try LedgerState.restore(snapshot: []) }
        // A count claiming more items than the bytes could hold is refused before room is made.
        var huge = bytes
        let orgCount = 21 + 8 + 14 + 8 + 8 + 64 + 8 + 8 + 8 + 1 + 16 + 8 + 8 + 8 * 8  // magic, profile, tip, log (empty), operator, counters, policy
        for k in 0..<8 { huge[orgCount + k] = k == 7 ? 0x0F : 0xFF }
        #expect(throws: SnapshotError.self) { try LedgerState.restore(snapshot: huge) }
        // The profile is named right after the layout, and only a known one is taken.
        #expect(LedgerState.snapshotProfile(bytes) == .ed25519Sha256)
        var unknown = bytes
        unknown.replaceSubrange(21 + 8..<21 + 8 + 14, with: Array("ed25519-sha512".utf8))
        #expect(LedgerState.snapshotProfile(unknown) == nil)
        #expect(throws: SnapshotError.self) { try LedgerState.restore(snapshot: unknown) }
    }
}
