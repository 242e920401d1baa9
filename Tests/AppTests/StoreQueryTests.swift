import Foundation
import Ledger
import SQLKit
import Testing

@testable import Core
@testable import Web
@testable import Commands

/// The Store's query types, called directly as the API and the console call them, on the demo
/// consortium: each answers what its viewer may see and nothing more.
@Suite struct StoreQueryTests {
    /// The viewer the person with this email is.
    static func viewer(_ d: DemoPlatform, _ email: String) async throws -> Viewer {
        let row = try #require(try await d.app.sql.raw("SELECT id, org_id, email, name, role FROM users WHERE email = \(bind: email)").first())
        let caller = try Accounts.caller(row, viaAPIKey: false)
        return Viewer(caller: caller, role: try #require(try await Accounts.role(of: caller.orgId, on: d.app.sql)))
    }

    static func viewers(_ d: DemoPlatform) async throws -> [String: Viewer] {
        var all: [String: Viewer] = [:]
        for m in DemoSeed.members { all[m.key] = try await viewer(d, m.email) }
        return all
    }

    /// Every row of a paged query, page after page.
    static func everything<Row>(_ pages: (Page) async throws -> Page.Rows<Row>) async throws -> [Row] {
        var rows: [Row] = [], page: Page? = Page(limit: 7)
        while let current = page {
            let got = try await pages(current)
            rows += got.items
            page = got.next(limit: 7)
        }
        return rows
    }

    @Test func aReceivableAndItsPiecesShowToTheirIssuerTheirHoldersAndTheRegulatorAlone() async throws {
        try await DemoPlatform.with { d in
            let sql = d.app.sql, viewers = try await Self.viewers(d)
            let all = try await Self.everything { try await ReceivableQueries.list(.init(), visibleTo: viewers["regulator"]!, page: $0, on: sql) }
            #expect(all.count >= 2)
            for r in all {
                let pieces = try await ReceivableQueries.tokens(of: r.id, on: sql)
                let holders = Set(pieces.map(\.holderId))
                for (key, viewer) in viewers {
                    let sees = viewer.seesAll || r.issuerId == viewer.orgId || holders.contains(viewer.orgId)
                    #expect((try await ReceivableQueries.find(r.id, visibleTo: viewer, on: sql) != nil) == sees, "\(key), receivable \(r.number)")
                    let listed = try await Self.everything { try await ReceivableQueries.list(.init(), visibleTo: viewer, page: $0, on: sql) }
                    #expect(listed.contains { $0.id == r.id } == sees, "\(key) lists receivable \(r.number)")
                    for t in pieces {
                        let seesToken = viewer.seesAll || t.holderId == viewer.orgId || r.issuerId == viewer.orgId
                        #expect((try await TokenQueries.find(t.id, visibleTo: viewer, on: sql) != nil) == seesToken, "\(key), token \(t.id)")
                    }
                    guard sees else { continue }
                    // The clearing list: the issuer's and the regulator's whole, a holder's own rows.
                    let clearing = try await Self.everything { try await TokenQueries.clearing(of: r, visibleTo: viewer, page: $0, on: sql) }
                    let wholeList = viewer.seesAll || r.issuerId == viewer.orgId
                    #expect(wholeList || clearing.allSatisfy { $0.holderId == viewer.orgId }, "\(key) sees only its own clearing rows")
                    #expect(clearing.map(\.id) == (try await TokenQueries.clearing(of: r, visibleTo: viewer, slice: Slice(limit: 1_000), on: sql)).map(\.id),
                            "the API's pages and the console's slice are one list")
                    // The whole tree: the issuer, the regulator and the operator.
                    if wholeList {
                        let tree = try await Self.everything { try await TokenQueries.tree(of: r, visibleTo: viewer, page: $0, on: sql) }
                        #expect(Set(tree.map(\.token.id)) == Set(pieces.map(\.id)))
                    } else {
                        await #expect(throws: LedgerError.self) { _ = try await TokenQueries.tree(of: r, visibleTo: viewer, page: Page(), on: sql) }
                    }
                }
            }
            // The console's numbered pages are the API's list, cut another way.
            let core = viewers["core"]!
            let paged = try await Self.everything { try await ReceivableQueries.list(.init(), visibleTo: core, page: $0, on: sql) }
            #expect(paged.map(\.id) == (try await ReceivableQueries.list(.init(), visibleTo: core, slice: Slice(limit: 1_000), on: sql)).map(\.id))
        }
    }

    @Test func aTransactionShowsToItsPartiesAndTheRegulatorAlone() async throws {
        try await DemoPlatform.with { d in
            let sql = d.app.sql, viewers = try await Self.viewers(d)
            let issued = try #require(try await ReceivableQueries.list(.init(), visibleTo: viewers["regulator"]!, slice: Slice(limit: 1), on: sql).first)
            // A receivable is named by the transaction that issued it: the core signed it, its first holder is named in it.
            for (key, viewer) in viewers {
                let party = viewer.seesAll || viewer.orgId == issued.issuerId || viewer.orgId == issued.firstHolderId
                let stored = try await ChainQueries.transaction(issued.id, visibleTo: viewer, on: sql)
                #expect((stored != nil) == party, "\(key)")
                #expect(stored.map { $0.blockHeight >= 1 && $0.type == "issue" } ?? true)
            }
        }
    }

    @Test func eachOrgReadsItsOwnEventsOfStoredTransactions() async throws {
        try await DemoPlatform.with { d in
            let sql = d.app.sql, viewers = try await Self.viewers(d)
            var seen: [String: Set<Int64>] = [:]
            for (key, viewer) in viewers {
                let events = try await Self.everything { try await EventQueries.inOrder(for: viewer, page: $0, on: sql) }
                #expect(events.map(\.seq) == events.map(\.seq).sorted(), "\(key): in order")
                #expect(events.map(\.seq) == (try await EventQueries.latest(for: viewer, limit: 10_000, on: sql)).map(\.seq).reversed(), "\(key): one list, both ways")
                for e in events {
                    let t = try #require(TxID(e.transactionId))
                    let stored = try #require(try await ChainQueries.transaction(t, visibleTo: viewers["regulator"]!, on: sql), "\(key): event \(e.seq) is of a stored transaction")
                    #expect(stored.type == e.type)
                }
                seen[key] = Set(events.map(\.seq))
            }
            // An event belongs to one org: no two orgs read the same one.
            let keys = Array(seen.keys)
            for i in keys.indices { for j in keys.indices where i < j { #expect(seen[keys[i]]!.isDisjoint(with: seen[keys[j]]!)) } }
            #expect(!(seen["core"] ?? []).isEmpty && !(seen["tier1"] ?? []).isEmpty)
        }
    }

    @Test func whatOnlySomeMayReadIsRefusedToTheRest() async throws {
        try await DemoPlatform.with { d in
            let sql = d.app.sql, viewers = try await Self.viewers(d)
            let tier1 = viewers["tier1"]!, tier2 = viewers["tier2"]!, regulator = viewers["regulator"]!
            // Exposure: an org's own, and any for the regulator and the operator.
            _ = try await ExposureQueries.exposure(of: tier1.orgId, for: tier1, on: sql)
            _ = try await ExposureQueries.exposure(of: tier1.orgId, for: regulator, on: sql)
            await #expect(throws: LedgerError.self) { _ = try await ExposureQueries.exposure(of: tier1.orgId, for: tier2, on: sql) }
            // The overview: the regulator and the operator.
            let overview = try await StatsQueries.overview(for: regulator, on: sql)
            #expect(Set(overview.outstandingByCore.map(\.coreId)) == [viewers["core"]!.orgId.description, d.orgs["core2"]!.description])
            for key in ["core", "tier1", "bank"] {
                await #expect(throws: LedgerError.self, "\(key)") { _ = try await StatsQueries.overview(for: viewers[key]!, on: sql) }
            }
            // Totals: a supplier's are its own holdings, within the regulator's.
            let mine = try await StatsQueries.totals(for: tier1, on: sql), everyone = try await StatsQueries.totals(for: regulator, on: sql)
            let held = try await TokenQueries.heldFen(by: tier1, statuses: [.pending, .active, .locked], on: sql)
            #expect(mine.outstandingFen == held && held > 0 && everyone.outstandingFen > mine.outstandingFen)
            // People: an org's admins and the operator; another org's admin is refused.
            #expect(!(try await PeopleQueries.people(of: tier1.orgId, visibleTo: tier1, on: sql)).isEmpty)
            #expect(!(try await PeopleQueries.people(of: tier1.orgId, visibleTo: viewers["operator"]!, on: sql)).isEmpty)
            await #expect(throws: LedgerError.self) { _ = try await PeopleQueries.people(of: tier1.orgId, visibleTo: tier2, on: sql) }
            // The audit log: an admin reads its own org's entries; a checker none.
            let checker = try await Self.viewer(d, "bank-checker@cascade.demo")
            await #expect(throws: LedgerError.self) { _ = try await AuditLog.entries(action: nil, visibleTo: checker, slice: Slice(limit: 10), on: sql) }
            let bankEntries = try await Self.everything { try await AuditLog.entries(action: nil, visibleTo: viewers["bank"]!, page: $0, on: sql) }
            #expect(bankEntries.allSatisfy { $0.orgId == viewers["bank"]!.orgId.description })
            #expect(try await AuditLog.entries(action: nil, visibleTo: regulator, slice: Slice(limit: 10_000), on: sql).count >= bankEntries.count)
            // The bank rail's instructions: banks and those who see everything.
            await #expect(throws: LedgerError.self) { _ = try await PaymentQueries.instructions(visibleTo: tier1, page: Page(), on: sql) }
            _ = try await PaymentQueries.instructions(visibleTo: viewers["bank"]!, page: Page(), on: sql)
            // Credit lines are between banks and cores.
            await #expect(throws: LedgerError.self) { _ = try await CreditLineQueries.list(.init(), visibleTo: tier1, page: Page(), on: sql) }
            let bankLines = try await CreditLineQueries.list(.init(), visibleTo: viewers["bank"]!, slice: Slice(limit: 100), on: sql)
            #expect(!bankLines.isEmpty && bankLines.allSatisfy { $0.bankId == viewers["bank"]!.orgId })
        }
    }

    @Test func aDocumentOpensToItsUploaderTheRegulatorAndWhoSeesAReceivableNamingIt() async throws {
        try await DemoPlatform.with { d in
            let sql = d.app.sql, viewers = try await Self.viewers(d)
            let core = viewers["core"]!
            let sha = try await DocumentStore.keep(Data("合同 contract".utf8), kind: "contract", number: "C-1", fileName: "c.pdf", contentType: "application/pdf",
                                                   by: core.orgId, nowMs: 0, on: sql)
            #expect(try await DocumentStore.file(sha, visibleTo: core, on: sql)?.content == Data("合同 contract".utf8))
            #expect(try await DocumentStore.file(sha, visibleTo: viewers["regulator"]!, on: sql) != nil)
            // No receivable names it yet: nobody else opens it.
            for key in ["tier1", "tier2", "bank", "bank2"] {
                #expect(try await DocumentStore.file(sha, visibleTo: viewers[key]!, on: sql) == nil, "\(key)")
            }
        }
    }

    @Test func theSameBytesAreOneDocument() async throws {
        try await DemoPlatform.with { d in
            let sql = d.app.sql, core = try await Self.viewer(d, "core@cascade.demo")
            let first = try await DocumentStore.keep(Data("x".utf8), kind: "invoice", number: nil, fileName: "a", contentType: "text/plain", by: core.orgId, nowMs: 0, on: sql)
            let again = try await DocumentStore.keep(Data("x".utf8), kind: "invoice", number: nil, fileName: "b", contentType: "text/plain", by: core.orgId, nowMs: 1, on: sql)
            #expect(first == again)
            #expect(try await sql.raw("SELECT COUNT(*) AS n FROM documents WHERE sha256 = \(bind: first)").first()?.decode(column: "n", as: Int.self) == 1)
        }
    }
}
