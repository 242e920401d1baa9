import Ledger
import PropertyBased
import Testing

/// Random sequences of operations — valid and invalid mixed, with the clock moving — checked
/// against the invariants: value is never created or destroyed, no token is spent twice, a
/// refused transaction changes nothing, and replaying the produced chain gives the same state.
@Suite struct PropertyTests {
    /// Draws choices from a generated list of integers, so the shrinker can simplify a failure.
    struct Draws {
        var values: [Int]
        var i = 0
        mutating func next(_ n: Int) -> Int {
            guard n > 0 else { return 0 }
            defer { i += 1 }
            return values.isEmpty ? 0 : abs(values[i % values.count] % n)
        }
        mutating func pick<T>(_ items: [T]) -> T? { items.isEmpty ? nil : items[next(items.count)] }
    }

    static let suppliers = ["s1", "s2", "s3"]

    /// One random step; returns the result of the transaction it tried, if any.
    static func step(_ fx: inout Fixture, _ d: inout Draws, line: TxID) -> Result<TxEffects, LedgerError>? {
        let s = fx.state
        let all = s.tokens.values.sorted { $0.id < $1.id }
        func tokens(_ status: TokenStatus) -> [Token] { all.filter { $0.status == status } }
        let openFinancings = s.financings.values.filter { $0.status == .requested }.sorted { $0.id < $1.id }
        let openEarly = s.earlyPayments.values.filter { $0.status == .requested || $0.status == .approved }.sorted { $0.id < $1.id }
        let receivables = s.receivables.values.sorted { $0.id < $1.id }
        switch d.next(16) {
        case 0, 1:
            let supplier = d.pick(suppliers)!
            return fx.submit("core", fx.issuePayload(line: line, to: supplier, faceFen: Int64(d.next(10_000_000)), dueIn: Int64(d.next(40) + 1)))
        case 2:
            guard let t = d.pick(tokens(.pending)) else { return nil }
            return fx.submit(t.holderId, .accept(tokenId: t.id))
        case 3:
            guard let t = d.pick(tokens(.pending)) else { return nil }
            return fx.submit(t.holderId, .reject(tokenId: t.id))
        case 4, 5:
            guard let t = d.pick(tokens(.active) + tokens(.spent)) else { return nil }
            let to = fx.id(d.pick(suppliers + ["bank"])!)
            return fx.submit(t.holderId, .transfer(tokenId: t.id, toOrgId: to, amountFen: Int64(d.next(Int(t.amountFen) + 2)), memo: nil))
        case 6:
            guard let t = d.pick(tokens(.active) + tokens(.spent)) else { return nil }
            let first = Int64(d.next(Int(t.amountFen) + 1))
            let rest = t.amountFen - first + Int64(d.next(3)) - 1
            return fx.submit(t.holderId, .split(tokenId: t.id, amountsFen: [first, rest]))
        case 7:
            guard let t = d.pick(tokens(.active)) else { return nil }
            return fx.submit(t.holderId, .requestFinancing(tokenId: t.id, bankId: fx.id(d.pick(["bank", "bank2"])!), recourse: d.pick([nil, true, false])!))
        case 8:
            guard let f = d.pick(openFinancings) else { return nil }
            switch d.next(3) {
            case 0:
                // Filed or not, dated today or tomorrow; reviewed or not.
                let filing = d.pick([nil, Filing(number: "F-\(d.next(1000))", filedOn: fx.today), Filing(number: "F-1", filedOn: fx.today.adding(days: 1))])!
                return fx.submit(f.bankId, .approveFinancing(financingId: f.id, filing: filing, termReview: d.pick([nil, "已核验"])!))
            case 1: return fx.submit(f.bankId, .rejectFinancing(financingId: f.id))
            default: return fx.submit(f.supplierId, .cancelFinancing(financingId: f.id))
            }
        case 9:
            fx.today = fx.today.adding(days: Int64(d.next(6)))
            return nil
        case 10:
            guard let t = d.pick(tokens(.pending)) else { return nil }
            return fx.submit("op", .expireOffer(tokenId: t.id))
        case 13:
            guard let t = d.pick(tokens(.active) + tokens(.locked)) else { return nil }
            return fx.submit(t.holderId, .requestEarlyPayment(tokenId: t.id, rateBps: Int64(d.next(10_002))))
        case 14:
            guard let e = d.pick(openEarly) else { return nil }
            switch d.next(4) {
            case 0: return fx.submit(e.issuerId, .approveEarlyPayment(earlyPaymentId: e.id))
            case 1: return fx.submit(d.pick([e.issuerId, fx.id("core2")])!, .rejectEarlyPayment(earlyPaymentId: e.id))
            case 2: return fx.submit(e.supplierId, .cancelEarlyPayment(earlyPaymentId: e.id))
            default: return fx.submit(e.issuerId, .confirmEarlyPayment(earlyPaymentId: e.id, reference: "E\(d.next(100))"))
            }
        case 15:
            return fx.submit("op", .recordDefault(orgId: fx.id(d.pick(["core", "core2", "bank"])!), inDefault: d.next(3) == 0, reason: "违约"))
        case 11:
            guard let r = d.pick(receivables) else { return nil }
            let payable = all.filter { $0.receivableId == r.id && ($0.status == .active || $0.status == .locked) }
            let chosen = payable.filter { _ in d.next(3) > 0 }
            guard !chosen.isEmpty else { return nil }
            return fx.submit("core", .settle(receivableId: r.id, tokenIds: chosen.map(\.id), reference: "CLR"))
        default:
            guard let r = d.pick(receivables) else { return nil }
            return fx.submit("op", .markOverdue(receivableId: r.id))
        }
    }

    @Test(arguments: [false, true])
    func randomOperationsKeepTheInvariants(format2: Bool) async {
        await propertyCheck(count: 60, input: Gen.int(in: 0...1_000_000).array(of: 40...160)) { values in
            var fx = Fixture()
            if format2 { fx.ok("op", .setPolicy(.format2)) }
            let line = fx.grant(limitFen: 200_000_000)
            _ = fx.grant("bank2", rateBps: 298)
            var d = Draws(values: values)
            var spentOnce: [TokenID: TxID] = [:]
            var applied = 0
            for _ in 0..<values.count {
                let before = fx.state.snapshotJSON
                let receivablesBefore = fx.state.receivables
                let coreWasInDefault = fx.state.defaultReason(of: fx.id("core")) != nil
                guard let result = Self.step(&fx, &d, line: line) else { continue }
                switch result {
                case .success(let effects):
                    applied += 1
                    if let last = fx.applied.last {
                        Self.checkFormat2(last, fx, format2: format2, coreWasInDefault: coreWasInDefault)
                    }
                    // The effects name the receivable whenever it changed: its row is written only then.
                    let changed = Set(fx.state.receivables.keys.filter { receivablesBefore[$0] != fx.state.receivables[$0] })
                    let named: Set<TxID> = effects.receivableChanged ? Set([effects.receivableId].compactMap { $0 }) : []
                    #expect(changed.isSubset(of: named), "receivables \(changed) changed, the effects name \(named)")
                case .failure(let e):
                    #expect(fx.state.snapshotJSON == before, "refused \(e) changed the state")
                }
                let problems = fx.conservationProblems()
                #expect(problems.isEmpty, "\(problems)")
                // A token leaves the live set once, by one transaction, and never comes back.
                for t in fx.state.tokens.values where t.spentTx != nil {
                    if let first = spentOnce[t.id] { #expect(first == t.spentTx, "token \(t.id) spent twice") }
                    spentOnce[t.id] = t.spentTx
                }
                for id in spentOnce.keys {
                    #expect(![.pending, .active, .locked].contains(fx.state.tokens[id]!.status), "a spent token came back")
                }
                let used = fx.state.receivables.values.filter { $0.creditLineId == line && $0.status != .rejected }
                    .reduce(Int64(0)) { $0 + $1.faceFen - $1.paidFen }
                #expect(fx.state.creditLines[line]!.usedFen == used, "the line's use is its open receivables")
                Self.checkLocks(fx.state)
            }
            // Replaying the chain those transactions make rebuilds the same state.
            let export = Self.export(fx, blockSize: 4)
            switch ChainReplayer.verify(export: export, parallelism: 2) {
            case .success(let replayer):
                #expect(replayer.state.snapshotJSON == fx.state.snapshotJSON)
                #expect(replayer.state.transactionCount == fx.applied.count)
            case .failure(let f):
                Issue.record("the produced chain does not verify: \(f)")
            }
            _ = applied
        }
    }

    /// What format 2 promises of an applied transaction: no issue by a core enterprise in default
    /// while the rule is on; no approval without a filing dated by then, nor without a review of a
    /// long term; every early payment's amounts by §2's formula at the supplier's rate.
    static func checkFormat2(_ tx: Transaction, _ fx: Fixture, format2: Bool, coreWasInDefault: Bool) {
        switch tx.body.payload {
        case .issue:
            if format2 { #expect(!coreWasInDefault, "a core enterprise in default issued") }
        case .approveFinancing(let id, let filing, let review):
            guard format2 else { break }
            #expect(filing != nil && filing!.filedOn <= tx.body.businessDate, "approved without a filing dated by then")
            let f = fx.state.financings[id]!
            if fx.state.receivables[f.receivableId]?.termReview == true { #expect(review != nil, "a long term approved without review") }
        case .requestEarlyPayment(_, let rate):
            let e = fx.state.earlyPayments[tx.id]!
            #expect((1...10_000).contains(rate) && e.discountFen == Money.discountInterestFen(amountFen: e.amountFen, rateBps: rate, days: e.days)
                    && e.payoutFen == e.amountFen - e.discountFen && e.payoutFen > 0)
        default: break
        }
    }

    /// A locked token is held by exactly one open financing request or open early payment, and
    /// every open one holds its token locked; a paid early payment's piece is settled.
    static func checkLocks(_ s: LedgerState) {
        for t in s.tokens.values where t.status == .locked {
            #expect((s.openFinancingByToken[t.id] != nil) != (s.openEarlyPaymentByToken[t.id] != nil), "locked token \(t.id) held by one request")
        }
        for e in s.earlyPayments.values {
            switch e.status {
            case .requested, .approved: #expect(s.tokens[e.tokenId]?.status == .locked && s.openEarlyPaymentByToken[e.tokenId] == e.id)
            case .paid: #expect(s.tokens[e.tokenId]?.status == .settled)
            case .rejected, .cancelled: #expect(s.openEarlyPaymentByToken[e.tokenId] != e.id)
            }
        }
    }

    /// Seals the fixture's applied transactions into blocks and exports them as JSON Lines.
    static func export(_ fx: Fixture, blockSize: Int) -> [UInt8] {
        var out: [UInt8] = []
        for block in blocks(fx, blockSize: blockSize) {
            out += block.exportLine
            out.append(0x0A)
        }
        return out
    }

    static func blocks(_ fx: Fixture, blockSize: Int) -> [Block] {
        let sealer = fx.signers[fx.id("op")]!
        var blocks: [Block] = []
        var prev = BlockHeader.genesisPrevHash
        for start in stride(from: 0, to: fx.applied.count, by: blockSize) {
            let chunk = Array(fx.applied[start..<min(start + blockSize, fx.applied.count)])
            let block = try! Block.seal(chunk, height: Int64(blocks.count), prevHash: prev, time: chunk.last!.body.time, sealer: sealer)
            blocks.append(block)
            prev = block.hash
        }
        return blocks
    }
}
