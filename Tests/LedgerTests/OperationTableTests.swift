import Ledger
import Testing

/// One table per operation: each line is a case, in the order of precedence of the state
/// machine's guards, then the success case. Every case starts from the same prepared fixture; a
/// refused case must leave the state exactly as it was.
struct Row {
    let name: String
    let expected: ErrorCode?
    let act: (inout Fixture) -> Result<TxEffects, LedgerError>

    init(_ name: String, _ expected: ErrorCode?, _ act: @escaping (inout Fixture) -> Result<TxEffects, LedgerError>) {
        self.name = name
        self.expected = expected
        self.act = act
    }
}

func runTable(_ prepared: Fixture, _ rows: [Row], sourceLocation: SourceLocation = #_sourceLocation) {
    for row in rows {
        var fx = prepared
        let before = fx.state.snapshotJSON
        let beforeCount = fx.state.transactionCount
        let result = row.act(&fx)
        switch (result, row.expected) {
        case (.success, nil):
            #expect(fx.conservationProblems().isEmpty, "\(row.name): value not conserved", sourceLocation: sourceLocation)
        case (.failure(let e), let want?):
            #expect(e.code == want, "\(row.name): expected \(want.rawValue), got \(e)", sourceLocation: sourceLocation)
            #expect(fx.state.snapshotJSON == before && fx.state.transactionCount == beforeCount,
                    "\(row.name): a refused transaction changed the state", sourceLocation: sourceLocation)
        case (.success, let want?):
            Issue.record("\(row.name): expected \(want.rawValue), but it was applied", sourceLocation: sourceLocation)
        case (.failure(let e), nil):
            Issue.record("\(row.name): expected success, got \(e)", sourceLocation: sourceLocation)
        }
    }
}

@Suite struct OperationTableTests {
    @Test func prelude() {
        var fx = Fixture()
        let line = fx.grant()
        let issue = fx.issuePayload(line: line)
        var suspended = fx
        suspended.ok("op", .setOrgStatus(orgId: fx.id("core"), status: .suspended))
        runTable(fx, [
            Row("unknown signer", .unauthorized) { fx in fx.submit(unknownOrg, issue) },
            Row("keyId not the signer's current key", .unauthorized) { fx in fx.submit("core", issue, keyId: "0123456789abcdef") },
            Row("keyId of the current key in capitals", .unauthorized) { fx in
                let keyId = fx.signers[fx.id("core")]!.keyId.uppercased()
                return fx.submit("core", issue, keyId: keyId)
            },
            Row("keyId of the current key with a digit more", .unauthorized) { fx in
                let keyId = fx.signers[fx.id("core")]!.keyId + "0"
                return fx.submit("core", issue, keyId: keyId)
            },
            Row("role may never do this (regulator issues)", .forbidden) { fx in fx.submit("reg", issue) },
            Row("role may never do this (supplier issues)", .forbidden) { fx in fx.submit("s1", issue) },
            Row("success", nil) { fx in fx.submit("core", issue) },
        ])
        runTable(suspended, [Row("suspended signer", .orgSuspended) { fx in fx.submit("core", issue) }])
        // A repeated transaction id.
        var replay = fx
        let tx = replay.applied.last!
        #expect(replay.state.apply(tx).failureCode == .validationFailed)
    }

    @Test func genesisMustBeTheOperatorRegisteringItself() {
        var state = LedgerState()
        let op = try! Ed25519Signer(seed: [UInt8](repeating: 9, count: 32))
        let opId = OrgID("00000000-0000-4000-8000-000000000009")!
        let bank = RegisterOrgPayload(orgId: OrgID("00000000-0000-4000-8000-000000000010")!, name: "bank", role: .bank,
                                      creditCode: CreditCode.complete("91310000000000010")!, publicKey: op.publicKey)
        let first = Transaction.unsigned(TransactionBody(orgId: opId, keyId: op.keyId, time: 1, nonce: "a", payload: .registerOrg(bank)), profile: .standard)
        #expect(state.apply(first).failureCode == .forbidden)
        let me = RegisterOrgPayload(orgId: opId, name: "op", role: .operator, creditCode: CreditCode.complete("91310000000000009")!, publicKey: op.publicKey)
        let genesis = Transaction.unsigned(TransactionBody(orgId: opId, keyId: op.keyId, time: 1, nonce: "a", payload: .registerOrg(me)), profile: .standard)
        #expect(state.apply(genesis).failureCode == nil)
        #expect(state.operatorId == opId)
    }

    @Test func registerOrg() {
        let fx = Fixture()
        let key = [UInt8](repeating: 7, count: 32)
        func payload(_ id: OrgID = OrgID("00000000-0000-4000-8000-0000000000aa")!, role: OrgRole = .supplier, code: String? = nil) -> Payload {
            .registerOrg(RegisterOrgPayload(orgId: id, name: "新供应商", role: role,
                                            creditCode: code ?? CreditCode.complete("91320000000000099")!, publicKey: key))
        }
        runTable(fx, [
            Row("org id already registered", .validationFailed) { fx in fx.submit("op", payload(fx.id("s1"))) },
            Row("credit code with a wrong check character", .validationFailed) { fx in fx.submit("op", payload(code: "91320000000000099X")) },
            Row("credit code already registered", .validationFailed) { fx in
                fx.submit("op", payload(code: CreditCode.complete("91310000000000003")!))
            },
            Row("a second operator", .validationFailed) { fx in fx.submit("op", payload(role: .operator)) },
            Row("success", nil) { fx in fx.submit("op", payload()) },
        ])
    }

    @Test func rotateKeyAndSetOrgStatus() {
        let fx = Fixture()
        let newKey = try! Ed25519Signer(seed: [UInt8](repeating: 42, count: 32))
        runTable(fx, [
            Row("rotate: unknown org", .notFound) { fx in fx.submit("op", .rotateKey(orgId: unknownOrg, publicKey: newKey.publicKey)) },
            Row("rotate: success", nil) { fx in fx.submit("op", .rotateKey(orgId: fx.id("s1"), publicKey: newKey.publicKey)) },
            Row("status: unknown org", .notFound) { fx in fx.submit("op", .setOrgStatus(orgId: unknownOrg, status: .suspended)) },
            Row("status: the operator itself", .invalidCounterparty) { fx in fx.submit("op", .setOrgStatus(orgId: fx.id("op"), status: .suspended)) },
            Row("status: success", nil) { fx in fx.submit("op", .setOrgStatus(orgId: fx.id("s1"), status: .suspended)) },
        ])
        // After a rotation the old key no longer signs for the org.
        var rotated = fx
        rotated.ok("op", .rotateKey(orgId: fx.id("s1"), publicKey: newKey.publicKey))
        let line = rotated.grant()
        let offer = rotated.ok("core", rotated.issuePayload(line: line)).createdTokens[0]
        #expect(rotated.submit("s1", .accept(tokenId: offer)).failureCode == .unauthorized)
        rotated.signers[fx.id("s1")] = newKey
        #expect(rotated.submit("s1", .accept(tokenId: offer)).failureCode == nil)
    }

    @Test func setPolicy() {
        let fx = Fixture()
        var bad = Policy()
        bad.minTermDays = 400
        var zeroPiece = Policy()
        zeroPiece.minPieceFen = 0
        var good = Policy()
        good.maxTier = 3
        runTable(fx, [
            Row("min term above max term", .validationFailed) { fx in fx.submit("op", .setPolicy(bad)) },
            Row("minimum piece zero", .validationFailed) { fx in fx.submit("op", .setPolicy(zeroPiece)) },
            Row("success", nil) { fx in fx.submit("op", .setPolicy(good)) },
        ])
    }

    @Test func grantCredit() {
        let fx = Fixture()
        let d = BusinessDate("2028-01-01")!
        runTable(fx, [
            Row("core unknown", .notFound) { fx in fx.submit("bank", .grantCredit(coreId: unknownOrg, limitFen: 1, rateBps: 1, expiresOn: d)) },
            Row("counterparty not a core", .invalidCounterparty) { fx in fx.submit("bank", .grantCredit(coreId: fx.id("s1"), limitFen: 1, rateBps: 1, expiresOn: d)) },
            Row("limit zero", .amountOutOfRange) { fx in fx.submit("bank", .grantCredit(coreId: fx.id("core"), limitFen: 0, rateBps: 1, expiresOn: d)) },
            Row("limit above 10^15", .amountOutOfRange) { fx in fx.submit("bank", .grantCredit(coreId: fx.id("core"), limitFen: Limits.maxAmountFen + 1, rateBps: 1, expiresOn: d)) },
            Row("rate above 10000 bps", .validationFailed) { fx in fx.submit("bank", .grantCredit(coreId: fx.id("core"), limitFen: 1, rateBps: 10_001, expiresOn: d)) },
            Row("expiry already past", .validationFailed) { fx in fx.submit("bank", .grantCredit(coreId: fx.id("core"), limitFen: 1, rateBps: 1, expiresOn: fx.today.adding(days: -1))) },
            Row("success", nil) { fx in fx.submit("bank", .grantCredit(coreId: fx.id("core"), limitFen: 1, rateBps: 1, expiresOn: d)) },
        ])
        var suspended = fx
        suspended.ok("op", .setOrgStatus(orgId: fx.id("core"), status: .suspended))
        runTable(suspended, [Row("core suspended", .orgSuspended) { fx in fx.submit("bank", .grantCredit(coreId: fx.id("core"), limitFen: 1, rateBps: 1, expiresOn: d)) }])
    }

    @Test func updateCredit() {
        var fx = Fixture()
        let line = fx.grant()
        let unknown = unknownTx("b")
        runTable(fx, [
            Row("line unknown", .notFound) { fx in fx.submit("bank", .updateCredit(UpdateCreditPayload(creditLineId: unknown, rateBps: 1))) },
            Row("another bank's line", .notHolder) { fx in fx.submit("bank2", .updateCredit(UpdateCreditPayload(creditLineId: line, rateBps: 1))) },
            Row("nothing to change", .validationFailed) { fx in fx.submit("bank", .updateCredit(UpdateCreditPayload(creditLineId: line))) },
            Row("negative limit", .amountOutOfRange) { fx in fx.submit("bank", .updateCredit(UpdateCreditPayload(creditLineId: line, limitFen: -5))) },
            Row("rate out of range", .validationFailed) { fx in fx.submit("bank", .updateCredit(UpdateCreditPayload(creditLineId: line, rateBps: -1))) },
            Row("expiry already past", .validationFailed) { fx in fx.submit("bank", .updateCredit(UpdateCreditPayload(creditLineId: line, expiresOn: fx.today.adding(days: -1)))) },
            Row("success: freeze", nil) { fx in fx.submit("bank", .updateCredit(UpdateCreditPayload(creditLineId: line, status: .frozen))) },
        ])
    }

    @Test func issue() {
        var fx = Fixture()
        let line = fx.grant(limitFen: 5_000_000)
        let otherLine = fx.grant(core: "core2")
        var frozenLine = fx
        frozenLine.ok("bank", .updateCredit(UpdateCreditPayload(creditLineId: line, status: .frozen)))
        var expiredLine = fx
        expiredLine.ok("bank", .updateCredit(UpdateCreditPayload(creditLineId: line, expiresOn: fx.today)))
        expiredLine.today = fx.today.adding(days: 1)
        var suspendedSupplier = fx
        suspendedSupplier.ok("op", .setOrgStatus(orgId: fx.id("s1"), status: .suspended))
        var invoiceUsed = fx
        invoiceUsed.ok("core", fx.issuePayload(line: line, faceFen: 100, invoice: "INV-1"))

        func with(_ edit: @escaping (inout IssuePayload) -> Void) -> (inout Fixture) -> Result<TxEffects, LedgerError> {
            { fx in
                guard case .issue(var p) = fx.issuePayload(line: line) else { fatalError() }
                edit(&p)
                return fx.submit("core", .issue(p))
            }
        }
        let twoInvoices = [Document(kind: .invoice, sha256: String(repeating: "c", count: 64), number: "INV-9"),
                           Document(kind: .invoice, sha256: String(repeating: "d", count: 64), number: "INV-9")]
        runTable(fx, [
            Row("supplier unknown", .notFound, with { $0.supplierId = unknownOrg }),
            Row("supplier is a bank", .invalidCounterparty, with { $0.supplierId = fx.id("bank") }),
            Row("credit line unknown", .notFound, with { $0.creditLineId = unknownTx("e") }),
            Row("another core's credit line", .notFound, with { $0.creditLineId = otherLine }),
            Row("issue date not the business date", .validationFailed, with { $0.issueDate = fx.today.adding(days: -1) }),
            Row("face value zero", .amountOutOfRange, with { $0.faceFen = 0 }),
            Row("face value negative", .amountOutOfRange, with { $0.faceFen = -100 }),
            Row("face value above the maximum", .amountOutOfRange, with { $0.faceFen = 100_000_000_001 }),
            Row("due date on the issue date", .termOutOfRange, with { $0.dueDate = fx.today }),
            Row("due date more than a year out", .termOutOfRange, with { $0.dueDate = fx.today.adding(days: 366) }),
            Row("invoice repeated within the issue", .duplicateInvoice, with { $0.documents = twoInvoices }),
            Row("more than the line has room for", .insufficientCredit, with { $0.faceFen = 5_000_001 }),
            Row("success at the longest term", nil, with { $0.dueDate = fx.today.adding(days: 365) }),
        ])
        runTable(suspendedSupplier, [Row("supplier suspended", .orgSuspended) { fx in fx.submit("core", fx.issuePayload(line: line)) }])
        runTable(frozenLine, [Row("line frozen", .creditLineUnusable) { fx in fx.submit("core", fx.issuePayload(line: line)) }])
        runTable(expiredLine, [
            Row("line expired yesterday", .creditLineUnusable) { fx in fx.submit("core", fx.issuePayload(line: line)) },
        ])
        runTable(invoiceUsed, [
            Row("invoice backs an open receivable", .duplicateInvoice) { fx in fx.submit("core", fx.issuePayload(line: line, invoice: "INV-1")) },
            Row("room is what is left after earlier issues", .insufficientCredit) { fx in fx.submit("core", fx.issuePayload(line: line, faceFen: 4_999_901)) },
        ])
        // The line is usable through its expiry date, inclusive.
        var lastDay = fx
        lastDay.ok("bank", .updateCredit(UpdateCreditPayload(creditLineId: line, expiresOn: fx.today)))
        runTable(lastDay, [Row("line usable on its expiry date", nil) { fx in fx.submit("core", fx.issuePayload(line: line)) }])
    }

    @Test func acceptAndReject() {
        var fx = Fixture()
        let line = fx.grant()
        let first = fx.ok("core", fx.issuePayload(line: line)).createdTokens[0]
        var accepted = fx
        accepted.ok("s1", .accept(tokenId: first))
        for op in [Payload.accept(tokenId: first), .reject(tokenId: first)] {
            let make: (TokenID) -> Payload = { id in op.type == .accept ? .accept(tokenId: id) : .reject(tokenId: id) }
            runTable(fx, [
                Row("\(op.type): token unknown", .notFound) { fx in fx.submit("s1", make(unknownToken)) },
                Row("\(op.type): not the recipient", .notHolder) { fx in fx.submit("s2", make(first)) },
                Row("\(op.type): success", nil) { fx in fx.submit("s1", make(first)) },
            ])
            runTable(accepted, [Row("\(op.type): already accepted", .tokenNotActive) { fx in fx.submit("s1", make(first)) }])
        }
        // Rejecting the first offer rejects the receivable and restores the line.
        var rejected = fx
        rejected.ok("s1", .reject(tokenId: first))
        #expect(rejected.state.creditLines[line]!.usedFen == 0)
        #expect(rejected.state.receivables.values.first!.status == .rejected)
        #expect(rejected.state.tokens[first]!.status == .spent)
        // Rejecting a transfer offer returns the value to the sender as a new active token, its parent the offer.
        let (_, token) = accepted.activeReceivable(line: line)
        let offer = accepted.ok("s1", .transfer(tokenId: token, toOrgId: accepted.id("s2"), amountFen: 400_000, memo: nil)).createdTokens[0]
        let back = accepted.ok("s2", .reject(tokenId: offer)).createdTokens
        #expect(back.count == 1)
        let returned = accepted.state.tokens[back[0]]!
        #expect(returned.holderId == accepted.id("s1") && returned.tier == 1 && returned.amountFen == 400_000)
        #expect(returned.parentId == offer && returned.status == .active)
        #expect(accepted.conservationProblems().isEmpty)
    }

    @Test func transfer() {
        var fx = Fixture()
        let line = fx.grant()
        let (_, token) = fx.activeReceivable(line: line, faceFen: 1_000_000, dueIn: 30)
        var pending = fx
        let pendingToken = pending.ok("core", fx.issuePayload(line: line, to: "s1")).createdTokens[0]
        var dueDay = fx
        dueDay.today = fx.today.adding(days: 30)
        var suspended = fx
        suspended.ok("op", .setOrgStatus(orgId: fx.id("s2"), status: .suspended))
        var minPiece = fx
        var policy = Policy()
        policy.minPieceFen = 1_000
        minPiece.ok("op", .setPolicy(policy))
        var shallow = fx
        policy = Policy()
        policy.maxTier = 1
        shallow.ok("op", .setPolicy(policy))

        func t(_ from: String = "s1", _ tokenId: TokenID = token, to: String = "s2", amount: Int64 = 300_000) -> (inout Fixture) -> Result<TxEffects, LedgerError> {
            { fx in fx.submit(from, .transfer(tokenId: tokenId, toOrgId: fx.id(to), amountFen: amount, memo: nil)) }
        }
        runTable(fx, [
            Row("token unknown", .notFound, t("s1", unknownToken)),
            Row("not the holder", .notHolder, t("s2")),
            Row("recipient unknown", .notFound, t(to: unknownOrg.description)),
            Row("recipient is a bank", .invalidCounterparty, t(to: "bank")),
            Row("recipient is the regulator", .invalidCounterparty, t(to: "reg")),
            Row("recipient is oneself", .invalidCounterparty, t(to: "s1")),
            Row("amount zero", .amountOutOfRange, t(amount: 0)),
            Row("amount negative", .amountOutOfRange, t(amount: -1)),
            Row("amount above the token", .amountOutOfRange, t(amount: 1_000_001)),
            Row("success with change", nil, t()),
            Row("success, the whole token", nil, t(amount: 1_000_000)),
        ])
        runTable(pending, [Row("token not active (pending offer)", .tokenNotActive, t("s1", pendingToken))])
        runTable(dueDay, [Row("on the due date", .pastDue, t())])
        runTable(suspended, [Row("recipient suspended", .orgSuspended, t())])
        runTable(minPiece, [
            Row("amount below the minimum piece", .amountOutOfRange, t(amount: 999)),
            Row("change below the minimum piece", .amountOutOfRange, t(amount: 999_500)),
            Row("change exactly the minimum piece", nil, t(amount: 999_000)),
        ])
        runTable(shallow, [Row("would create a piece deeper than maxTier", .tierLimitExceeded, t())])
        // Outputs: 0 pending for the recipient at tier + 1, 1 change for the holder at the same tier.
        var done = fx
        let e = done.ok("s1", .transfer(tokenId: token, toOrgId: fx.id("s2"), amountFen: 300_000, memo: nil))
        #expect(e.createdTokens == [CryptoProfile.standard.tokenId(transactionId: e.transactionId, index: 0), CryptoProfile.standard.tokenId(transactionId: e.transactionId, index: 1)])
        let out = done.state.tokens[e.createdTokens[0]]!, change = done.state.tokens[e.createdTokens[1]]!
        #expect(out.status == .pending && out.tier == 2 && out.holderId == fx.id("s2") && out.amountFen == 300_000 && out.parentId == token)
        #expect(change.status == .active && change.tier == 1 && change.holderId == fx.id("s1") && change.amountFen == 700_000)
        #expect(done.state.tokens[token]!.status == .spent && done.state.tokens[token]!.spentTx == e.transactionId)
        // A spent token cannot be spent again.
        #expect(done.submit("s1", .transfer(tokenId: token, toOrgId: fx.id("s3"), amountFen: 1, memo: nil)).failureCode == .tokenNotActive)
    }

    @Test func split() {
        var fx = Fixture()
        let line = fx.grant()
        let (_, token) = fx.activeReceivable(line: line, faceFen: 1_000, dueIn: 30)
        var dueDay = fx
        dueDay.today = fx.today.adding(days: 30)
        func s(_ from: String = "s1", _ tokenId: TokenID = token, amounts: [Int64]) -> (inout Fixture) -> Result<TxEffects, LedgerError> {
            { fx in fx.submit(from, .split(tokenId: tokenId, amountsFen: amounts)) }
        }
        runTable(fx, [
            Row("token unknown", .notFound, s("s1", unknownToken, amounts: [500, 500])),
            Row("not the holder", .notHolder, s("s2", token, amounts: [500, 500])),
            Row("a zero piece", .amountOutOfRange, s(amounts: [1_000, 0])),
            Row("a negative piece", .amountOutOfRange, s(amounts: [1_100, -100])),
            Row("pieces sum to more", .splitSumMismatch, s(amounts: [600, 500])),
            Row("pieces sum to less", .splitSumMismatch, s(amounts: [400, 500])),
            Row("success", nil, s(amounts: [100, 200, 700])),
        ])
        runTable(dueDay, [Row("on the due date", .pastDue, s(amounts: [500, 500]))])
        var done = fx
        let e = done.ok("s1", .split(tokenId: token, amountsFen: [100, 200, 700]))
        #expect(e.createdTokens.map { done.state.tokens[$0]!.amountFen } == [100, 200, 700])
        #expect(e.createdTokens.allSatisfy { done.state.tokens[$0]!.status == .active && done.state.tokens[$0]!.tier == 1 })
        #expect(done.submit("s1", .split(tokenId: token, amountsFen: [500, 500])).failureCode == .tokenNotActive)
    }

    @Test func requestFinancing() {
        var fx = Fixture()
        let line = fx.grant(rateBps: 365)
        let (_, token) = fx.activeReceivable(line: line, faceFen: 1_000_000, dueIn: 90)
        var cutoff = fx
        cutoff.today = fx.today.adding(days: 87)
        var dueDay = fx
        dueDay.today = fx.today.adding(days: 90)
        var frozen = fx
        frozen.ok("bank", .updateCredit(UpdateCreditPayload(creditLineId: line, status: .frozen)))
        var suspendedBank = fx
        suspendedBank.ok("op", .setOrgStatus(orgId: fx.id("bank"), status: .suspended))
        func r(_ from: String = "s1", _ tokenId: TokenID = token, bank: String = "bank") -> (inout Fixture) -> Result<TxEffects, LedgerError> {
            { fx in fx.submit(from, .requestFinancing(tokenId: tokenId, bankId: fx.id(bank))) }
        }
        runTable(fx, [
            Row("token unknown", .notFound, r("s1", unknownToken)),
            Row("not the holder", .notHolder, r("s2")),
            Row("bank unknown", .notFound, r(bank: unknownOrg.description)),
            Row("bank is a supplier", .invalidCounterparty, r(bank: "s2")),
            Row("bank has no line for this core", .noCreditLine, r(bank: "bank2")),
            Row("success", nil, r()),
        ])
        runTable(suspendedBank, [Row("bank suspended", .orgSuspended, r())])
        runTable(dueDay, [Row("on the due date", .pastDue, r())])
        runTable(cutoff, [Row("within the cut-off (3 days left)", .financingCutoff, r())])
        runTable(frozen, [Row("the bank's only line frozen", .creditLineUnusable, r())])
        // Terms are fixed at request time from the earliest usable line: 1,000,000 × 365 × 90 / 3,600,000 = 9,125.
        var done = fx
        let e = done.ok("s1", .requestFinancing(tokenId: token, bankId: fx.id("bank")))
        let f = done.state.financings[e.financingIds[0]]!
        #expect(f.days == 90 && f.rateBps == 365 && f.interestFen == 9_125 && f.payoutFen == 990_875 && f.status == .requested)
        #expect(done.state.tokens[token]!.status == .locked)
        #expect(done.submit("s1", .transfer(tokenId: token, toOrgId: fx.id("s2"), amountFen: 1, memo: nil)).failureCode == .tokenNotActive)
        // Four days before the due date is still open.
        var open = fx
        open.today = fx.today.adding(days: 86)
        runTable(open, [Row("four days left", nil, r())])
    }

    @Test func earliestUsableLineGivesTheQuote() {
        var fx = Fixture()
        let first = fx.grant(rateBps: 500)
        _ = fx.grant(rateBps: 300)
        let (_, token) = fx.activeReceivable(line: first, dueIn: 90)
        #expect(try! fx.state.quote(tokenId: token, bank: fx.id("bank"), on: fx.today).get().rateBps == 500)
        fx.ok("bank", .updateCredit(UpdateCreditPayload(creditLineId: first, status: .frozen)))
        #expect(try! fx.state.quote(tokenId: token, bank: fx.id("bank"), on: fx.today).get().rateBps == 300)
    }

    @Test func decideFinancing() {
        var fx = Fixture()
        let line = fx.grant()
        let (_, token) = fx.activeReceivable(line: line)
        let fin = fx.ok("s1", .requestFinancing(tokenId: token, bankId: fx.id("bank"))).financingIds[0]
        var approved = fx
        approved.ok("bank", .approveFinancing(financingId: fin))
        let unknown = unknownTx("f")
        runTable(fx, [
            Row("approve: unknown", .notFound) { fx in fx.submit("bank", .approveFinancing(financingId: unknown)) },
            Row("approve: another bank", .notHolder) { fx in fx.submit("bank2", .approveFinancing(financingId: fin)) },
            Row("approve: success", nil) { fx in fx.submit("bank", .approveFinancing(financingId: fin)) },
            Row("reject: another bank", .notHolder) { fx in fx.submit("bank2", .rejectFinancing(financingId: fin)) },
            Row("reject: success", nil) { fx in fx.submit("bank", .rejectFinancing(financingId: fin)) },
            Row("cancel: not the supplier", .notHolder) { fx in fx.submit("s2", .cancelFinancing(financingId: fin)) },
            Row("cancel: success", nil) { fx in fx.submit("s1", .cancelFinancing(financingId: fin)) },
            Row("confirm payout: not yet approved", .financingNotOpen) { fx in fx.submit("bank", .confirmPayout(financingId: fin, reference: "R1")) },
        ])
        runTable(approved, [
            Row("approve twice", .financingNotOpen) { fx in fx.submit("bank", .approveFinancing(financingId: fin)) },
            Row("reject after approval", .financingNotOpen) { fx in fx.submit("bank", .rejectFinancing(financingId: fin)) },
            Row("cancel after approval", .financingNotOpen) { fx in fx.submit("s1", .cancelFinancing(financingId: fin)) },
            Row("confirm payout: another bank", .notHolder) { fx in fx.submit("bank2", .confirmPayout(financingId: fin, reference: "R1")) },
            Row("confirm payout: success", nil) { fx in fx.submit("bank", .confirmPayout(financingId: fin, reference: "ECNY-1")) },
        ])
        // Approval spends the locked token and gives the bank an active one of the same tier and amount.
        let bankToken = approved.state.financings[fin]!.bankTokenId!
        #expect(approved.state.tokens[token]!.status == .spent)
        let held = approved.state.tokens[bankToken]!
        #expect(held.holderId == fx.id("bank") && held.status == .active && held.tier == 1 && held.amountFen == 1_000_000 && held.parentId == token)
        // A bank holds what it discounted: it may not transfer it.
        #expect(approved.submit("bank", .transfer(tokenId: bankToken, toOrgId: fx.id("s2"), amountFen: 1, memo: nil)).failureCode == .forbidden)
        // Rejection unlocks the token.
        var rejected = fx
        rejected.ok("bank", .rejectFinancing(financingId: fin))
        #expect(rejected.state.tokens[token]!.status == .active)
    }

    @Test func settle() {
        var fx = Fixture()
        let line = fx.grant()
        let (receivable, token) = fx.activeReceivable(line: line, faceFen: 1_000, dueIn: 30)
        let (other, _) = fx.activeReceivable(line: line, faceFen: 500, dueIn: 30)
        let pieces = fx.ok("s1", .split(tokenId: token, amountsFen: [300, 700])).createdTokens
        let fin = fx.ok("s1", .requestFinancing(tokenId: pieces[1], bankId: fx.id("bank"))).financingIds[0]
        let offer = fx.ok("s1", .transfer(tokenId: pieces[0], toOrgId: fx.id("s2"), amountFen: 100, memo: nil)).createdTokens[0]
        let change = fx.applied.last.map { CryptoProfile.standard.tokenId(transactionId: $0.id, index: 1) }!
        var due = fx
        due.today = fx.today.adding(days: 30)
        func st(_ org: String = "core", _ r: TxID = receivable, tokens: [TokenID]) -> (inout Fixture) -> Result<TxEffects, LedgerError> {
            { fx in fx.submit(org, .settle(receivableId: r, tokenIds: tokens, reference: "ECNY-CLR")) }
        }
        runTable(fx, [Row("before the due date", .notYetDue, st(tokens: [pieces[1]]))])
        runTable(due, [
            Row("receivable unknown", .notFound, st("core", unknownTx("9"), tokens: [pieces[1]])),
            Row("another core's receivable", .notHolder, st("core2", receivable, tokens: [pieces[1]])),
            Row("token of another receivable", .notFound, st("core", other, tokens: [pieces[1]])),
            Row("a spent token", .tokenNotActive, st(tokens: [token])),
            Row("a pending offer", .tokenNotActive, st(tokens: [offer])),
            Row("success: locked and active pieces", nil, st(tokens: [pieces[1], change])),
        ])
        var paid = due
        paid.ok("core", .settle(receivableId: receivable, tokenIds: [pieces[1], change], reference: "ECNY-CLR"))
        #expect(paid.state.financings[fin]!.status == .cancelled, "an open financing on a paid token is cancelled")
        #expect(paid.state.receivables[receivable]!.paidFen == 900 && paid.state.receivables[receivable]!.status == .active)
        #expect(paid.state.creditLines[line]!.usedFen == 600)
        // The offer expires back to s1 and is paid: the receivable is settled.
        paid.today = due.today.adding(days: 4)
        let back = paid.ok("op", .expireOffer(tokenId: offer)).createdTokens[0]
        paid.ok("core", .settle(receivableId: receivable, tokenIds: [back], reference: "ECNY-CLR-2"))
        #expect(paid.state.receivables[receivable]!.status == .settled && paid.state.receivables[receivable]!.paidFen == 1_000)
        #expect(paid.conservationProblems().isEmpty)
    }

    @Test func expireOffer() {
        var fx = Fixture()
        let line = fx.grant()
        let first = fx.ok("core", fx.issuePayload(line: line, invoice: "INV-7")).createdTokens[0]
        var day3 = fx
        day3.today = fx.today.adding(days: 3)
        var day4 = fx
        day4.today = fx.today.adding(days: 4)
        runTable(day4, [
            Row("token unknown", .notFound) { fx in fx.submit("op", .expireOffer(tokenId: unknownToken)) },
            Row("not signed by the operator", .forbidden) { fx in fx.submit("s1", .expireOffer(tokenId: first)) },
            Row("success after the window", nil) { fx in fx.submit("op", .expireOffer(tokenId: first)) },
        ])
        runTable(day3, [
            Row("within the acceptance window", .notYetDue) { fx in fx.submit("op", .expireOffer(tokenId: first)) },
            Row("the recipient may still accept on day 3", nil) { fx in fx.submit("s1", .accept(tokenId: first)) },
        ])
        // An expired first offer rejects its receivable, restores the line and frees its invoice.
        day4.ok("op", .expireOffer(tokenId: first))
        #expect(day4.state.tokens[first]!.status == .expired)
        #expect(day4.state.receivables.values.first!.status == .rejected)
        #expect(day4.state.creditLines[line]!.usedFen == 0)
        #expect(day4.submit("core", day4.issuePayload(line: line, invoice: "INV-7")).failureCode == nil)
        #expect(day4.submit("s1", .accept(tokenId: first)).failureCode == .tokenNotActive)
    }

    @Test func markOverdue() {
        var fx = Fixture()
        let line = fx.grant()
        let (receivable, _) = fx.activeReceivable(line: line, dueIn: 10)
        var dueDay = fx
        dueDay.today = fx.today.adding(days: 10)
        var after = fx
        after.today = fx.today.adding(days: 11)
        func m(_ r: TxID = receivable) -> (inout Fixture) -> Result<TxEffects, LedgerError> {
            { fx in fx.submit("op", .markOverdue(receivableId: r)) }
        }
        runTable(dueDay, [Row("on the due date (grace 0)", .notYetDue, m())])
        runTable(after, [
            Row("receivable unknown", .notFound, m(unknownTx("9"))),
            Row("success the day after", nil, m()),
        ])
        after.ok("op", .markOverdue(receivableId: receivable))
        #expect(after.state.receivables[receivable]!.status == .overdue)
        runTable(after, [Row("already overdue", .validationFailed, m())])
    }
}

extension Result where Failure == LedgerError {
    var failureCode: ErrorCode? {
        if case .failure(let e) = self { return e.code }
        return nil
    }
}
