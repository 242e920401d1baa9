import Foundation
import Ledger
import SnapshotTesting
import Testing
import Vapor

@testable import Core
@testable import Web

/// The console's pages as HTML, built from fixed view models and rendered with the real
/// templates and words: a change to a template, a translation or a view-model builder shows here
/// as a difference from the HTML kept in `__Snapshots__/PageSnapshotTests/`. When a change is
/// meant, run the tests with `SNAPSHOT_TESTING_RECORD=failed`, read the new files, commit them.
@Suite struct PageSnapshotTests {
    static let core = OrgID("0a5e0000-0000-4000-8000-000000000001")!
    static let supplier = OrgID("0a5e0000-0000-4000-8000-000000000002")!
    static let tier2 = OrgID("0a5e0000-0000-4000-8000-000000000003")!
    static let bank = OrgID("0a5e0000-0000-4000-8000-000000000004")!
    static let regulator = OrgID("0a5e0000-0000-4000-8000-000000000005")!
    static let platform = OrgID("0a5e0000-0000-4000-8000-000000000006")!

    static let names = [core.description: "华东重工集团", supplier.description: "苏州精密部件", tier2.description: "常州五金加工",
                        bank.description: "江南商业银行", regulator.description: "金融监管局", platform.description: "Cascade 平台运营"]

    static func org(_ role: OrgRole) -> OrgID {
        switch role {
        case .core: core
        case .supplier: supplier
        case .bank: bank
        case .regulator: regulator
        case .operator: platform
        }
    }

    static func txId(_ n: UInt8) -> TxID { TxID(digest: [UInt8](repeating: n, count: 32)) }

    /// 2026-12-07 10:30 in Beijing.
    static let morning: Int64 = 1_796_610_600_000

    static let receivables = [
        Receivable(id: txId(1), number: "AR-2026-0001", issuerId: core, firstHolderId: supplier, creditLineId: txId(9), faceFen: 100_000_000, paidFen: 0,
                   issueDate: BusinessDate("2026-12-07")!, dueDate: BusinessDate("2027-03-07")!, documents: [], memo: "钢材采购 <第一批> & 运费",
                   status: .active, firstTokenId: TokenID(hi: 1, lo: 1)),
        Receivable(id: txId(2), number: "AR-2026-0002", issuerId: core, firstHolderId: supplier, creditLineId: txId(9), faceFen: 2_500_050, paidFen: 0,
                   issueDate: BusinessDate("2026-12-07")!, dueDate: BusinessDate("2027-06-30")!, documents: [], memo: nil,
                   status: .pending, firstTokenId: TokenID(hi: 2, lo: 2)),
    ]

    static let events = [
        EventQueries.Event(seq: 2, timeMs: morning + 60_000, type: "transfer", transactionId: txId(3).description,
                           summary: "苏州精密部件 paid ¥250,000.00 of AR-2026-0001 to 常州五金加工", summaryZh: "苏州精密部件 向 常州五金加工 支付 ¥250,000.00（AR-2026-0001）"),
        EventQueries.Event(seq: 1, timeMs: morning, type: "issue", transactionId: txId(1).description,
                           summary: "华东重工集团 issued AR-2026-0001 (¥1,000,000.00) to 苏州精密部件", summaryZh: nil),
    ]

    static var totals: StatsQueries.Totals {
        var t = StatsQueries.Totals()
        t.issuedFen = 102_500_050
        t.receivables = 2
        t.outstandingFen = 102_500_050
        t.financedFen = 19_883_333
        t.settledFen = 0
        t.overdueFen = 0
        t.byTier = [(tier: 1, outstandingFen: 77_500_050, tokens: 3), (tier: 2, outstandingFen: 25_000_000, tokens: 2)]
        t.byMonth = [(month: "2027-03", outstandingFen: 100_000_000), (month: "2027-06", outstandingFen: 2_500_050)]
        return t
    }

    static let templates = DirectoryConfiguration.detect().workingDirectory + "Templates/"

    /// The frame of a page at `path` for an admin of an org of `role`.
    static func frame(_ role: OrgRole, lang: String, path: String) throws -> PageFrame {
        let table = try Translations.load(from: templates).table(lang)
        var frame = PageFrame(lang: lang, table: table, path: path, csrf: "csrf-token-of-the-session")
        let caller = Caller(userId: "u-\(role.rawValue)", orgId: org(role), email: "\(role.rawValue)@cascade.demo", name: "王 \(role.rawValue)",
                            userRole: .admin, viaAPIKey: false)
        frame.signedIn(caller, orgName: names[org(role).description]!, role: role)
        return frame
    }

    /// Renders `view` with the console's template, as a request would.
    static func html<P: Encodable & Sendable>(_ template: String, _ view: PageView<P>) async throws -> String {
        let app = try await Application.make(.testing)
        do {
            try ConsolePages.useTemplates(templates, on: app)
            let rendered = try await app.view.render(template, view).get()
            try await app.asyncShutdown()
            return String(buffer: rendered.data)
        } catch {
            try? await app.asyncShutdown()
            throw error
        }
    }

    @Test(arguments: OrgRole.allCases, ["zh", "en"])
    func dashboard(_ role: OrgRole, _ lang: String) async throws {
        let frame = try Self.frame(role, lang: lang, path: "/dashboard")
        let presenter = Presenter(lang: lang, table: frame.table, names: Self.names)
        let page = DashboardPages.model(role: role, totals: Self.totals, events: Self.events, upcoming: Self.receivables, presenter: presenter)
        let html = try await Self.html("common/dashboard", ConsolePages.pageView(frame, title: "nav_dashboard", page: page))
        // What the page must say whatever the snapshot holds: the builder's cards for the role.
        #expect(page.stats.count == (role == .supplier || role == .bank ? 3 : 5))
        #expect(html.contains("<html lang=\"\(lang == "zh" ? "zh-Hans" : "en")\">"))
        assertSnapshot(of: html, as: .lines, named: "\(role.rawValue)-\(lang)", testName: "dashboard")
    }

    static let piece = TokenID(hi: 0xabc, lo: 1)

    static let pieces = [
        Token(id: TokenID(hi: 1, lo: 1), receivableId: txId(1), parentId: nil, holderId: supplier, amountFen: 100_000_000, tier: 1, status: .spent,
              createdTx: txId(1), spentTx: txId(3), createdOn: BusinessDate("2026-12-07")!),
        Token(id: piece, receivableId: txId(1), parentId: TokenID(hi: 1, lo: 1), holderId: supplier, amountFen: 75_000_000, tier: 1, status: .active,
              createdTx: txId(3), spentTx: nil, createdOn: BusinessDate("2026-12-07")!),
        Token(id: TokenID(hi: 0xabc, lo: 2), receivableId: txId(1), parentId: TokenID(hi: 1, lo: 1), holderId: tier2, amountFen: 25_000_000, tier: 2, status: .locked,
              createdTx: txId(3), spentTx: nil, createdOn: BusinessDate("2026-12-07")!),
    ]

    static let financings = [
        Financing(id: txId(5), tokenId: TokenID(hi: 0xabc, lo: 2), receivableId: txId(1), supplierId: tier2, bankId: bank, creditLineId: txId(9),
                  amountFen: 25_000_000, rateBps: 350, days: 90, interestFen: 215_753, payoutFen: 24_784_247, status: .requested, requestedOn: BusinessDate("2026-12-07")!),
        Financing(id: txId(6), tokenId: TokenID(hi: 0xabc, lo: 3), receivableId: txId(1), supplierId: supplier, bankId: bank, creditLineId: txId(9),
                  amountFen: 20_000_000, rateBps: 298, days: 90, interestFen: 146_958, payoutFen: 19_853_042, status: .paid, requestedOn: BusinessDate("2026-12-01")!,
                  bankTokenId: TokenID(hi: 0xabc, lo: 4), payoutReference: "RAIL-ECNY-0001", recourse: true,
                  filing: Filing(number: "0457-2026-000801", filedOn: BusinessDate("2026-12-01")!)),
    ]

    /// A page of `role`'s in both languages, rendered and compared with its snapshot.
    func expectSnapshot<P: Encodable & Sendable>(_ role: OrgRole, _ lang: String, path: String, title: String, template: String, name: String,
                                                 _ page: (Presenter) -> P) async throws -> String {
        let frame = try Self.frame(role, lang: lang, path: path)
        let html = try await Self.html(template, ConsolePages.pageView(frame, title: title, page: page(Presenter(lang: lang, table: frame.table, names: Self.names))))
        assertSnapshot(of: html, as: .lines, named: "\(role.rawValue)-\(lang)", testName: name)
        return html
    }

    @Test(arguments: ["zh", "en"])
    func mainPages(_ lang: String) async throws {
        // A supplier's holdings.
        let holdings = try await expectSnapshot(.supplier, lang, path: "/holdings", title: "nav_holdings", template: "supplier/tokens", name: "holdings") {
            HoldingsPages.model(Self.pieces.filter { $0.status != .spent }.map { ($0, Self.receivables[0]) }, totalFen: 100_000_000, inbox: false,
                                pager: Pager(page: 1, prev: nil, next: "/holdings?page=2"), presenter: $0)
        }
        #expect(holdings.contains("¥750,000.00") && holdings.contains("/holdings?page=2"))
        // A bank's queue: the request open, the paid one below.
        let queue = try await expectSnapshot(.bank, lang, path: "/financings", title: "nav_financing_queue", template: "bank/financings", name: "financings") {
            FinancingPages.model(Self.financings, isBank: true, form: FormState(), presenter: $0, needingReview: [Self.financings[0].receivableId],
                                 today: BusinessDate("2026-12-07")!)
        }
        #expect(queue.contains("3.50%") && queue.contains("RAIL-ECNY-0001"))
        // A core's receivable, its clearing list and its tree with what is left out counted.
        let receivable = try await expectSnapshot(.core, lang, path: "/receivables/\(Self.txId(1))", title: "receivable_title", template: "core/receivable", name: "receivable") {
            ReceivablePages.model(Self.receivables[0], clearing: Array(Self.pieces.dropFirst()), pager: Pager(page: 1, prev: nil, next: nil), payableFen: 100_000_000,
                                  tree: TokenQueries.TreeSlice(tokens: Self.pieces, hidden: [Self.piece: (count: 12, amountFen: 1_200)]), issuerSettles: true,
                                  form: FormState(), presenter: $0)
        }
        #expect(receivable.contains("钢材采购 &lt;第一批&gt; &amp; 运费"), "the memo is escaped")
        // The regulator's overview.
        let overview = try await expectSnapshot(.regulator, lang, path: "/overview", title: "overview_title", template: "regulator/overview", name: "overview") {
            OverviewPages.model(StatsQueries.Overview(outstandingByCore: [(coreId: Self.core.description, outstandingFen: 102_500_050)],
                                                      financedByBank: [(bankId: Self.bank.description, amountFen: 45_000_000, averageRateBps: 327)]), presenter: $0)
        }
        #expect(overview.contains("3.27%") && overview.contains("¥1,025,000.50"))
        // The operator's organisations, one of them suspended.
        let orgs = try await expectSnapshot(.operator, lang, path: "/orgs", title: "nav_orgs", template: "operator/orgs", name: "orgs") { p in
            OrgPages.model([OrgRole.core, .supplier, .bank].map { role in
                ["id": .string(Self.org(role).description), "name": .string(Self.names[Self.org(role).description]!), "role": .string(role.rawValue),
                 "creditCode": .string("91320000MA1K0000\(role == .bank ? 9 : 1)X"), "status": .string(role == .supplier ? "suspended" : "active")]
            }, isOperator: true, form: FormState(), presenter: p)
        }
        #expect(orgs.contains("91320000MA1K00009X"))
        // A core's reconciliation of a day with one difference.
        let day = try await expectSnapshot(.core, lang, path: "/reconciliation", title: "nav_reconciliation", template: "common/reconciliation", name: "reconciliation") { p in
            var report = Reconciliation.Report(date: BusinessDate("2027-03-07")!)
            report.rail["instructed"] = { var t = Reconciliation.Totals(); t.add(75_000_000); t.add(25_000_000); return t }()
            report.rail["settled"] = { var t = Reconciliation.Totals(); t.add(75_000_000); return t }()
            report.ledgerViaRail.add(75_000_000)
            report.differences = [Reconciliation.Difference(kind: "settled_without_ledger_record", paymentId: "p-2", transactionId: nil, payerId: Self.core.description,
                                                            payeeId: Self.tier2.description, amountFen: 25_000_000, detail: "the rail settled it; the ledger has no record of it yet")]
            return PaymentPages.model(report, payments: [], presenter: p)
        }
        #expect(day.contains("¥250,000.00"))
        // A core's early-payment program and today's market: two offers ranked, one that clears.
        let early = try await expectSnapshot(.core, lang, path: "/early-payments", title: "nav_early_payments", template: "common/early_payments", name: "early-payments") { p in
            let offers = Self.earlyPayments
            let program = EarlyPaymentProgram(active: true, hurdleBps: 600, dailyBudgetFen: 50_000_000, cutoffTime: "15:00")
            let market = EarlyPaymentService.Market(issuerId: Self.core, program: program, budgetLeftFen: 20_000_000, clearingRateBps: 720,
                                                    ranked: [(offers[0], true), (offers[1], false)])
            var totals = EarlyPaymentQueries.Totals()
            totals.count = 1; totals.amountFen = 15_000_000; totals.payoutFen = 14_730_000; totals.discountFen = 270_000; totals.dayWeightedPayoutFen = Int128(14_730_000) * 90
            let clearing = EarlyPaymentQueries.ClearingRecord(id: "c-1", issuerId: Self.core, date: BusinessDate("2026-12-07")!, atMs: Self.morning, source: "cutoff",
                                                              takenCount: 1, spentFen: 14_730_000, clearingRateBps: 720, hurdleBps: 600, budgetLeftFen: 35_270_000)
            return EarlyPaymentPages.model(role: .core, isAdmin: true, all: offers, market: market, clearings: [clearing], totals: totals, form: FormState(), presenter: p)
        }
        #expect(early.contains("9.50%") && early.contains("7.33%") && early.contains("¥200,000.00 / ¥500,000.00"))
    }

    static let earlyPayments = [
        EarlyPayment(id: txId(21), tokenId: TokenID(hi: 0xe, lo: 1), receivableId: txId(1), supplierId: supplier, issuerId: core, amountFen: 10_000_000, rateBps: 950,
                     days: 40, discountFen: 105_556, payoutFen: 9_894_444, status: .requested, requestedOn: BusinessDate("2026-12-07")!),
        EarlyPayment(id: txId(22), tokenId: TokenID(hi: 0xe, lo: 2), receivableId: txId(1), supplierId: tier2, issuerId: core, amountFen: 30_000_000, rateBps: 610,
                     days: 90, discountFen: 457_500, payoutFen: 29_542_500, status: .requested, requestedOn: BusinessDate("2026-12-07")!),
        EarlyPayment(id: txId(23), tokenId: TokenID(hi: 0xe, lo: 3), receivableId: txId(1), supplierId: tier2, issuerId: core, amountFen: 15_000_000, rateBps: 720,
                     days: 90, discountFen: 270_000, payoutFen: 14_730_000, status: .paid, requestedOn: BusinessDate("2026-12-06")!, reference: "RAIL-ECNY-0002"),
    ]
}
