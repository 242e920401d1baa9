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
        let presenter = Presenter(table: frame.table, names: Self.names)
        let page = DashboardPages.model(role: role, totals: Self.totals, events: Self.events, upcoming: Self.receivables, presenter: presenter, chinese: lang == "zh")
        let html = try await Self.html("common/dashboard", ConsolePages.pageView(frame, title: "nav_dashboard", page: page))
        // What the page must say whatever the snapshot holds: the builder's cards for the role.
        #expect(page.stats.count == (role == .supplier || role == .bank ? 3 : 5))
        #expect(html.contains("<html lang=\"\(lang == "zh" ? "zh-Hans" : "en")\">"))
        assertSnapshot(of: html, as: .lines, named: "\(role.rawValue)-\(lang)", testName: "dashboard")
    }
}
