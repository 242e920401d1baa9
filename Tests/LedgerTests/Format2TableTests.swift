import Ledger
import Testing

/// Format 2's rules (SPEC §2–§3: 银发〔2025〕77号 and early payment), one table per operation in
/// the order of precedence of its guards, each on a fixture whose genesis turned the rules on; and
/// each rule off again where its policy field is absent, as on a chain written before format 2.
@Suite struct Format2TableTests {
    /// A fixture with the format-2 policy, a line from each bank for `core`, and one for `core2`.
    static func rulesOn() -> (Fixture, line: TxID, line2: TxID) {
        var fx = Fixture()
        fx.ok("op", .setPolicy(.format2))
        let line = fx.grant()
        _ = fx.grant("bank2", rateBps: 298)
        let line2 = fx.grant(core: "core2")
        return (fx, line, line2)
    }

    static let filing = Filing(number: "0457-2026-000123", filedOn: BusinessDate("2026-09-01")!)

    // MARK: - issue: issuer_in_default

    @Test func issueWhileInDefault() {
        var (fx, _, line2) = Self.rulesOn()
        let issue = fx.issuePayload(line: line2)
        var recorded = fx
        recorded.ok("op", .recordDefault(orgId: fx.id("core2"), inDefault: true, reason: "债券违约"))
        var overdue = fx
        let issued = overdue.ok("core2", overdue.issuePayload(line: line2, dueIn: 5))
        overdue.ok("s1", .accept(tokenId: issued.createdTokens[0]))
        let late = issued.receivableId!
        overdue.today = overdue.today.adding(days: 6)
        overdue.ok("op", .markOverdue(receivableId: late))
        var lifted = recorded
        lifted.ok("op", .recordDefault(orgId: fx.id("core2"), inDefault: false, reason: "已兑付"))
        var off = recorded
        var format1 = Policy()
        format1.maxTermDays = 365
        off.ok("op", .setPolicy(format1))
        let unknownLine = fx.issuePayload(line: unknownTx("7"))
        func issueBy(_ who: String, _ payload: Payload) -> (inout Fixture) -> Result<TxEffects, LedgerError> { { fx in fx.submit(who, payload) } }
        // Precedence: the signer's role, then default, then everything about the credit line.
        runTable(recorded, [
            Row("a supplier issues (role first)", .forbidden, issueBy("s1", issue)),
            Row("recorded in default", .issuerInDefault, issueBy("core2", issue)),
            Row("in default, on an unknown line (default before the line)", .issuerInDefault, issueBy("core2", unknownLine)),
            Row("another core enterprise is not held back", nil) { fx in
                let line = fx.state.creditLines.values.first { $0.coreId == fx.id("core") }!.id
                return fx.submit("core", fx.issuePayload(line: line))
            },
        ])
        runTable(overdue, [Row("an overdue receivable puts its issuer in default", .issuerInDefault) { fx in fx.submit("core2", fx.issuePayload(line: line2)) }])
        runTable(lifted, [Row("the default lifted, it issues again", nil, issueBy("core2", issue))])
        runTable(off, [Row("defaultBlocksIssue absent: no default check", nil, issueBy("core2", issue))])
        #expect(recorded.state.orgs[fx.id("core2")]?.inDefault == true && recorded.state.orgs[fx.id("core2")]?.defaultReason == "债券违约")
        #expect(lifted.state.orgs[fx.id("core2")]?.inDefault == false && lifted.state.orgs[fx.id("core2")]?.defaultReason == nil)
        #expect(overdue.state.defaultReason(of: fx.id("core2")) == "1 overdue receivable")
        // Paid at last, the overdue receivable no longer holds its issuer back.
        var paid = overdue
        let pieces = paid.state.tokens.values.filter { $0.receivableId == late && $0.status == .active }.map(\.id)
        paid.ok("core2", .settle(receivableId: late, tokenIds: pieces, reference: "LATE"))
        #expect(paid.state.receivables[late]?.status == .settled && paid.state.receivables[late]?.overdueOn == BusinessDate("2026-09-07"))
        runTable(paid, [Row("paid late, it issues again", nil) { fx in fx.submit("core2", fx.issuePayload(line: line2)) }])
    }

    // MARK: - issue: term review

    @Test func aLongTermIsMarkedForReview() {
        var (fx, line, _) = Self.rulesOn()
        let at183 = fx.ok("core", fx.issuePayload(line: line, dueIn: 183)).receivableId!
        let at184 = fx.ok("core", fx.issuePayload(line: line, dueIn: 184)).receivableId!
        #expect(fx.state.receivables[at183]?.termReview == false && fx.state.receivables[at184]?.termReview == true)
        var off = Fixture()
        let offLine = off.grant()
        let long = off.ok("core", off.issuePayload(line: offLine, dueIn: 300)).receivableId!
        #expect(off.state.receivables[long]?.termReview == false, "reviewTermDays absent: nothing is marked")
    }

    // MARK: - approveFinancing: term review, then filing

    @Test func approveFinancingUnder77() {
        var (fx, line, _) = Self.rulesOn()
        let (_, longToken) = fx.activeReceivable(line: line, dueIn: 200)
        let (_, shortToken) = fx.activeReceivable(line: line, dueIn: 90)
        let long = fx.ok("s1", .requestFinancing(tokenId: longToken, bankId: fx.id("bank"), recourse: true)).financingIds[0]
        let short = fx.ok("s1", .requestFinancing(tokenId: shortToken, bankId: fx.id("bank"))).financingIds[0]
        let tomorrow = Filing(number: "0457-2026-000124", filedOn: fx.today.adding(days: 1))
        func approve(_ id: TxID, _ filing: Filing?, _ review: String?, by bank: String = "bank") -> (inout Fixture) -> Result<TxEffects, LedgerError> {
            { fx in fx.submit(bank, .approveFinancing(financingId: id, filing: filing, termReview: review)) }
        }
        var approved = fx
        approved.ok("bank", .approveFinancing(financingId: short, filing: Self.filing))
        runTable(fx, [
            Row("unknown financing", .notFound, approve(unknownTx("f"), Self.filing, "r")),
            Row("another bank", .notHolder, approve(long, Self.filing, "r", by: "bank2")),
            Row("long term, no review, no filing (review first)", .termReviewRequired, approve(long, nil, nil)),
            Row("long term, filed but not reviewed", .termReviewRequired, approve(long, Self.filing, nil)),
            Row("long term, reviewed but not filed", .filingRequired, approve(long, nil, "已核贸易背景")),
            Row("filing dated after the business date", .filingRequired, approve(long, tomorrow, "已核贸易背景")),
            Row("long term, reviewed and filed", nil, approve(long, Self.filing, "已核贸易背景")),
            Row("short term, not filed", .filingRequired, approve(short, nil, nil)),
            Row("short term, filed (no review needed)", nil, approve(short, Self.filing, nil)),
            Row("short term, filed on the business date itself", nil, approve(short, Filing(number: "A-1", filedOn: fx.today), nil)),
        ])
        runTable(approved, [Row("approved already (status before the rules)", .financingNotOpen, approve(short, nil, nil))])
        // What the approval carried is the financing's.
        var done = fx
        done.ok("bank", .approveFinancing(financingId: long, filing: Self.filing, termReview: "已核贸易背景"))
        let f = done.state.financings[long]!
        #expect(f.recourse && f.filing == Self.filing && f.termReview == "已核贸易背景" && f.status == .approved)
        #expect(done.state.financings[short]!.recourse == false)
        // The rules off (fields absent): an approval needs neither.
        var off = fx
        off.ok("op", .setPolicy(Policy()))
        runTable(off, [Row("format 1 policy: no review, no filing", nil, approve(long, nil, nil))])
    }

    // MARK: - recordDefault

    @Test func recordDefault() {
        let (fx, _, _) = Self.rulesOn()
        func record(_ who: String, _ org: OrgID, _ inDefault: Bool = true) -> (inout Fixture) -> Result<TxEffects, LedgerError> {
            { fx in fx.submit(who, .recordDefault(orgId: org, inDefault: inDefault, reason: "上海票交所持续逾期名单")) }
        }
        runTable(fx, [
            Row("a supplier records", .forbidden, record("s1", fx.id("core2"))),
            Row("a core enterprise records its own", .forbidden, record("core2", fx.id("core2"))),
            Row("the regulator records", .forbidden, record("reg", fx.id("core2"))),
            Row("unknown org", .notFound, record("op", unknownOrg)),
            Row("a bank", .invalidCounterparty, record("op", fx.id("bank"))),
            Row("a supplier", .invalidCounterparty, record("op", fx.id("s1"))),
            Row("a core enterprise", nil, record("op", fx.id("core2"))),
            Row("lifting one never recorded", nil, record("op", fx.id("core2"), false)),
        ])
    }

    // MARK: - The payloads' own bounds (the strict reader, as the gate applies it)

    @Test func format2PayloadsAreReadStrictly() throws {
        let fin = unknownTx("a").description
        func approval(_ filing: String) -> JSON { try! JSON.parse(Array(#"{"financingId":"\#(fin)","filing":\#(filing)}"#.utf8)) }
        func refused(_ type: TxType, _ json: JSON, field: String) {
            #expect(throws: LedgerError.self) { _ = try Payload(type: type, json: json, text: .new) }
            do { _ = try Payload(type: type, json: json, text: .new) } catch { #expect(error.fields.first?.field == field, "\(error)") }
        }
        refused(.approveFinancing, approval(#"{"number":"0457 2026","filedOn":"2026-09-01"}"#), field: "payload.filing.number")
        refused(.approveFinancing, approval(#"{"number":"\#(String(repeating: "1", count: 41))","filedOn":"2026-09-01"}"#), field: "payload.filing.number")
        refused(.approveFinancing, approval(#"{"number":"","filedOn":"2026-09-01"}"#), field: "payload.filing.number")
        refused(.approveFinancing, approval(#"{"number":"A-1","filedOn":"2026-9-1"}"#), field: "payload.filing.filedOn")
        refused(.approveFinancing, approval(#"{"number":"A-1"}"#), field: "payload.filing.filedOn")
        refused(.approveFinancing, approval(#"{"number":"A-1","filedOn":"2026-09-01","office":"x"}"#), field: "payload.filing.office")
        #expect((try? Payload(type: .approveFinancing, json: approval(#"{"number":"\#(String(repeating: "Z", count: 40))","filedOn":"2026-09-01"}"#), text: .new)) != nil)
        let review = try JSON.parse(Array(#"{"financingId":"\#(fin)","termReview":{"reason":"a\u0007b"}}"#.utf8))
        refused(.approveFinancing, review, field: "payload.termReview.reason")
        let token = unknownToken.description, bank = unknownOrg.description
        refused(.requestFinancing, try JSON.parse(Array(#"{"tokenId":"\#(token)","bankId":"\#(bank)","recourse":"true"}"#.utf8)), field: "payload.recourse")
        refused(.recordDefault, try JSON.parse(Array(#"{"orgId":"\#(bank)","inDefault":true,"reason":""}"#.utf8)), field: "payload.reason")
        refused(.recordDefault, try JSON.parse(Array(#"{"orgId":"\#(bank)","inDefault":1,"reason":"x"}"#.utf8)), field: "payload.inDefault")
        refused(.requestEarlyPayment, try JSON.parse(Array(#"{"tokenId":"\#(token)","rateBps":"600"}"#.utf8)), field: "payload.rateBps")
        // `recourse` absent and `false` are two payloads; both read back as written.
        let absent = Payload.requestFinancing(tokenId: unknownToken, bankId: unknownOrg)
        let no = Payload.requestFinancing(tokenId: unknownToken, bankId: unknownOrg, recourse: false)
        #expect(absent.readsBack && no.readsBack && absent.json != no.json)
        // A setPolicy without the format-2 fields reads back without them.
        #expect(Payload.setPolicy(Policy()).readsBack && Policy().json["filingRequired"] == nil && Payload.setPolicy(.format2).readsBack)
    }

    // MARK: - Early payment

    /// The rules on, s1 holding an active 90-day token of `core`'s, and s2 a pending offer.
    static func earlyPaymentFixture() -> (Fixture, token: TokenID, receivable: TxID) {
        var (fx, line, _) = Self.rulesOn()
        let (receivable, token) = fx.activeReceivable(line: line, faceFen: 1_000_000, dueIn: 90)
        return (fx, token, receivable)
    }

    @Test func requestEarlyPayment() {
        var (fx, token, receivable) = Self.earlyPaymentFixture()
        let (_, otherToken) = fx.activeReceivable(line: fx.state.creditLines.values.first { $0.coreId == fx.id("core") }!.id, to: "s2")
        let pieces = fx.ok("s1", .split(tokenId: token, amountsFen: [400_000, 600_000])).createdTokens
        let locked = fx.ok("s1", .requestFinancing(tokenId: pieces[1], bankId: fx.id("bank"))).financingIds[0]
        _ = locked
        var due = fx
        due.today = fx.today.adding(days: 90)
        var suspended = fx
        suspended.ok("op", .setOrgStatus(orgId: fx.id("core"), status: .suspended))
        func ask(_ who: String, _ t: TokenID, _ rate: Int64) -> (inout Fixture) -> Result<TxEffects, LedgerError> {
            { fx in fx.submit(who, .requestEarlyPayment(tokenId: t, rateBps: rate)) }
        }
        runTable(fx, [
            Row("a bank asks (only suppliers)", .forbidden, ask("bank", pieces[0], 600)),
            Row("the core asks", .forbidden, ask("core", pieces[0], 600)),
            Row("unknown token", .notFound, ask("s1", unknownToken, 600)),
            Row("another's token", .notHolder, ask("s1", otherToken, 600)),
            Row("a spent token", .tokenNotActive, ask("s1", token, 600)),
            Row("a locked token", .tokenNotActive, ask("s1", pieces[1], 600)),
            Row("a rate of 0", .amountOutOfRange, ask("s1", pieces[0], 0)),
            Row("a rate of 10001", .amountOutOfRange, ask("s1", pieces[0], 10_001)),
            Row("a rate of 10000 over 90 days", nil, ask("s1", pieces[0], 10_000)),
            Row("success", nil, ask("s1", pieces[0], 600)),
        ])
        runTable(due, [Row("on the due date", .pastDue, ask("s1", pieces[0], 600))])
        runTable(suspended, [Row("its issuer suspended", .orgSuspended, ask("s1", pieces[0], 600))])
        // A discount that takes the whole amount: a 1-fen piece at any rate over a day rounds to
        // nothing, so the edge is a long term at the highest rate.
        var long = Self.rulesOn().0
        let longLine = long.state.creditLines.values.first { $0.coreId == long.id("core") && $0.rateBps == 365 }!.id
        let (_, longToken) = long.activeReceivable(line: longLine, faceFen: 1_000, dueIn: 365)
        runTable(long, [
            Row("¥10.00 at 9859 bps over 365 days: a discount of ¥10.00", .amountOutOfRange, ask("s1", longToken, 9_859)),
            Row("¥10.00 at 9858 bps over 365 days: a discount of ¥9.99 leaves a fen", nil, ask("s1", longToken, 9_858)),
        ])
        // The amounts are fixed at request time, by the discount formula of §2.
        let e = fx.ok("s1", .requestEarlyPayment(tokenId: pieces[0], rateBps: 600))
        let ep = fx.state.earlyPayments[e.earlyPaymentIds[0]]!
        #expect(ep.amountFen == 400_000 && ep.days == 90 && ep.discountFen == Money.discountInterestFen(amountFen: 400_000, rateBps: 600, days: 90)
                && ep.payoutFen == 400_000 - ep.discountFen && ep.issuerId == fx.id("core") && ep.status == .requested && ep.receivableId == receivable)
        #expect(fx.state.tokens[pieces[0]]!.status == .locked)
        runTable(fx, [
            Row("a second offer on the same token", .tokenNotActive, ask("s1", pieces[0], 700)),
            Row("financing a token offered for early payment", .tokenNotActive) { fx in fx.submit("s1", .requestFinancing(tokenId: pieces[0], bankId: fx.id("bank"))) },
            Row("transferring it", .tokenNotActive) { fx in fx.submit("s1", .transfer(tokenId: pieces[0], toOrgId: fx.id("s2"), amountFen: 1, memo: nil)) },
        ])
    }

    @Test func decideEarlyPayment() {
        var (fx, token, receivable) = Self.earlyPaymentFixture()
        let id = fx.ok("s1", .requestEarlyPayment(tokenId: token, rateBps: 600)).earlyPaymentIds[0]
        var approved = fx
        approved.ok("core", .approveEarlyPayment(earlyPaymentId: id))
        var approvedThenDue = approved
        approvedThenDue.today = fx.today.adding(days: 95)
        var due = fx
        due.today = fx.today.adding(days: 90)
        func act(_ who: String, _ p: Payload) -> (inout Fixture) -> Result<TxEffects, LedgerError> { { fx in fx.submit(who, p) } }
        runTable(fx, [
            Row("approve: a supplier", .forbidden, act("s1", .approveEarlyPayment(earlyPaymentId: id))),
            Row("approve: unknown", .notFound, act("core", .approveEarlyPayment(earlyPaymentId: unknownTx("e")))),
            Row("approve: another core enterprise", .notHolder, act("core2", .approveEarlyPayment(earlyPaymentId: id))),
            Row("approve: success", nil, act("core", .approveEarlyPayment(earlyPaymentId: id))),
            Row("reject: another core enterprise", .notHolder, act("core2", .rejectEarlyPayment(earlyPaymentId: id))),
            Row("reject: success", nil, act("core", .rejectEarlyPayment(earlyPaymentId: id))),
            Row("cancel: not the supplier", .notHolder) { fx in
                fx.submit("s2", .cancelEarlyPayment(earlyPaymentId: id))
            },
            Row("cancel: success", nil, act("s1", .cancelEarlyPayment(earlyPaymentId: id))),
            Row("confirm: not yet approved", .earlyPaymentNotOpen, act("core", .confirmEarlyPayment(earlyPaymentId: id, reference: "E1"))),
        ])
        runTable(due, [Row("approve: on the due date", .pastDue, act("core", .approveEarlyPayment(earlyPaymentId: id)))])
        runTable(approved, [
            Row("approve twice", .earlyPaymentNotOpen, act("core", .approveEarlyPayment(earlyPaymentId: id))),
            Row("reject after approval", .earlyPaymentNotOpen, act("core", .rejectEarlyPayment(earlyPaymentId: id))),
            Row("cancel after approval", .earlyPaymentNotOpen, act("s1", .cancelEarlyPayment(earlyPaymentId: id))),
            Row("confirm: another core enterprise", .notHolder, act("core2", .confirmEarlyPayment(earlyPaymentId: id, reference: "E1"))),
            Row("confirm: success", nil, act("core", .confirmEarlyPayment(earlyPaymentId: id, reference: "ECNY-E1"))),
        ])
        runTable(approvedThenDue, [Row("confirm after the due date, approved before it", nil, act("core", .confirmEarlyPayment(earlyPaymentId: id, reference: "E1")))])
        // Confirmed: the piece is settled, paid in full, and the line has it back.
        var paid = approved
        let usedBefore = paid.state.creditLines.values.first { $0.coreId == fx.id("core") && $0.rateBps == 365 }!.usedFen
        paid.ok("core", .confirmEarlyPayment(earlyPaymentId: id, reference: "ECNY-E1"))
        let r = paid.state.receivables[receivable]!
        #expect(paid.state.tokens[token]!.status == .settled && r.paidFen == 1_000_000 && r.status == .settled)
        #expect(paid.state.earlyPayments[id]!.status == .paid && paid.state.earlyPayments[id]!.reference == "ECNY-E1")
        #expect(paid.state.creditLines[r.creditLineId]!.usedFen == usedBefore - 1_000_000)
        runTable(paid, [
            Row("a piece paid early moves nowhere", .tokenNotActive) { fx in fx.submit("s1", .transfer(tokenId: token, toOrgId: fx.id("s2"), amountFen: 1, memo: nil)) },
            Row("confirmed twice", .earlyPaymentNotOpen, act("core", .confirmEarlyPayment(earlyPaymentId: id, reference: "E2"))),
        ])
        // Rejected or withdrawn, the token is free again.
        var rejected = fx
        rejected.ok("core", .rejectEarlyPayment(earlyPaymentId: id))
        #expect(rejected.state.tokens[token]!.status == .active && rejected.state.earlyPayments[id]!.status == .rejected)
    }

    @Test func settlementAtMaturityCancelsAnOpenEarlyPayment() {
        var (fx, token, receivable) = Self.earlyPaymentFixture()
        let pieces = fx.ok("s1", .split(tokenId: token, amountsFen: [300_000, 700_000])).createdTokens
        let requested = fx.ok("s1", .requestEarlyPayment(tokenId: pieces[0], rateBps: 500)).earlyPaymentIds[0]
        let approved = fx.ok("s1", .requestEarlyPayment(tokenId: pieces[1], rateBps: 450)).earlyPaymentIds[0]
        fx.ok("core", .approveEarlyPayment(earlyPaymentId: approved))
        fx.today = fx.today.adding(days: 90)
        let e = fx.ok("core", .settle(receivableId: receivable, tokenIds: pieces, reference: "AT-MATURITY"))
        #expect(Set(e.earlyPaymentIds) == [requested, approved])
        #expect(fx.state.earlyPayments[requested]!.status == .cancelled && fx.state.earlyPayments[approved]!.status == .cancelled)
        #expect(fx.state.receivables[receivable]!.status == .settled && fx.conservationProblems().isEmpty)
        #expect(fx.submit("core", .confirmEarlyPayment(earlyPaymentId: approved, reference: "LATE")).failureCode == .earlyPaymentNotOpen)
    }
}
