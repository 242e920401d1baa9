import Foundation
import Ledger
import SQLKit
import Testing

@testable import Core
@testable import Web
@testable import Commands

/// The totals the database keeps beside the projections (each piece's children, each
/// receivable's amount payable, each org's open receivables and approved financing): what the
/// tree page and the regulator's overview read instead of summing history. They must be the sums
/// of the rows, through issuing, splitting, financing and settling, on both
/// databases; and a total that drifts is named by the verification.
@Suite struct SummaryTests {
    /// The sums the pages used to compute from the rows, as they computed them.
    static func summed(_ sql: any SQLDatabase) async throws -> (payable: [String: Int64], children: [String: Int64], outstanding: [String: Int64], financed: [String: Int64]) {
        var payable: [String: Int64] = [:], children: [String: Int64] = [:], outstanding: [String: Int64] = [:], financed: [String: Int64] = [:]
        for row in try await sql.raw("SELECT receivable_id AS k, CAST(SUM(amount_fen) AS BIGINT) AS v FROM tokens WHERE status IN ('active', 'locked') GROUP BY receivable_id").all() {
            payable[try row.decode(column: "k", as: String.self)] = try row.decode(column: "v", as: Int64.self)
        }
        for row in try await sql.raw("SELECT parent_id AS k, COUNT(*) AS v FROM tokens WHERE parent_id IS NOT NULL GROUP BY parent_id").all() {
            children[try row.decode(column: "k", as: String.self)] = try row.decode(column: "v", as: Int64.self)
        }
        for row in try await sql.raw("""
            SELECT issuer_id AS k, CAST(SUM(face_fen - paid_fen) AS BIGINT) AS v FROM receivables WHERE status IN ('pending', 'active', 'overdue') GROUP BY issuer_id
            """).all() {
            outstanding[try row.decode(column: "k", as: String.self)] = try row.decode(column: "v", as: Int64.self)
        }
        for row in try await sql.raw("SELECT bank_id AS k, CAST(SUM(amount_fen) AS BIGINT) AS v FROM financings WHERE status IN ('approved', 'paid') GROUP BY bank_id").all() {
            financed[try row.decode(column: "k", as: String.self)] = try row.decode(column: "v", as: Int64.self)
        }
        return (payable, children, outstanding, financed)
    }

    /// What the pages read now, for the same keys.
    static func kept(_ d: DemoPlatform, regulator: Viewer) async throws -> (payable: [String: Int64], children: [String: Int64], outstanding: [String: Int64], financed: [String: Int64]) {
        let sql = d.app.sql
        var payable: [String: Int64] = [:], children: [String: Int64] = [:]
        for row in try await sql.raw("SELECT id FROM receivables").all() {
            let id = TxID(try row.decode(column: "id", as: String.self))!
            let fen = try await TokenQueries.payableFen(of: id, on: sql)
            if fen != 0 { payable[id.description] = fen }
        }
        for row in try await sql.raw("SELECT parent_id, children FROM token_children WHERE children <> 0").all() {
            children[try row.decode(column: "parent_id", as: String.self)] = try row.decode(column: "children", as: Int64.self)
        }
        let overview = try await StatsQueries.overview(for: regulator, on: sql)
        let outstanding = Dictionary(uniqueKeysWithValues: overview.outstandingByCore.filter { $0.outstandingFen != 0 }.map { ($0.coreId, $0.outstandingFen) })
        let financed = Dictionary(uniqueKeysWithValues: overview.financedByBank.map { ($0.bankId, $0.amountFen) })
        return (payable, children, outstanding, financed)
    }

    static func expectAgree(_ d: DemoPlatform, _ when: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let regulator = try await StoreQueryTests.viewer(d, "regulator@cascade.demo")
        let summed = try await summed(d.app.sql), kept = try await kept(d, regulator: regulator)
        #expect(kept.payable == summed.payable, "\(when): payable", sourceLocation: sourceLocation)
        #expect(kept.children == summed.children, "\(when): children", sourceLocation: sourceLocation)
        #expect(kept.outstanding == summed.outstanding, "\(when): outstanding", sourceLocation: sourceLocation)
        #expect(kept.financed == summed.financed, "\(when): financed", sourceLocation: sourceLocation)
        let verified = await StoredChainVerification.run(LedgerStore(db: d.app.db))
        #expect(verified.ok, "\(when): \(verified.problems.prefix(5))", sourceLocation: sourceLocation)
    }

    @Test func theKeptTotalsAreTheSumsOfTheirRowsThroughAWholeLife() async throws {
        try await DemoPlatform.with(ownDatabase: true) { d in
            try await Self.expectAgree(d, "after the demo")
            // A piece split into many (a parent with more children than the tree page shows).
            let big = try await d.call("tier1", .GET, "/api/v1/tokens?status=active").items.first { $0["amountFen"] == .int(600_000_00) }!["id"]!.stringValue!
            let split = try await d.call("tier1", .POST, "/api/v1/tokens/\(big)/split", #"{"amountsFen":[\#(Array(repeating: "100000", count: 60).joined(separator: ",")),\#(600_000_00 - 60 * 100_000)]}"#)
            #expect(split.status == .ok || split.status == .created, "\(split.json)")
            try await Self.expectAgree(d, "after a split into 61")
            // A financing requested (its piece locked), then approved by the bank.
            let piece = try await d.call("tier1", .GET, "/api/v1/tokens?status=active").items.first { $0["amountFen"] == .int(100_000) }!["id"]!.stringValue!
            let asked = try await d.call("tier1", .POST, "/api/v1/financings", #"{"tokenId":"\#(piece)","bankId":"\#(d.orgs["bank"]!)"}"#)
            try await Self.expectAgree(d, "after a financing request")
            let financing = asked["financing"]!["id"]!.stringValue!
            let approved = try await d.call("bank", .POST, "/api/v1/financings/\(financing)/approve")
            #expect(approved.status.code < 300, "\(approved.json)")
            try await Self.expectAgree(d, "after the financing's approval")
            // At maturity the core pays every holder: nothing is payable any more.
            let receivable = try await d.call("core", .GET, "/api/v1/tokens/\(big)")["receivableId"]!.stringValue!
            let due = try await d.call("core", .GET, "/api/v1/receivables/\(receivable)")["dueDate"]!.stringValue!
            #expect(try await d.call("operator", .POST, "/api/v1/admin/clock", #"{"today":"\#(due)"}"#).status.code < 300)
            let settled = try await d.call("core", .POST, "/api/v1/receivables/\(receivable)/settle", #"{"reference":"SUMMARY-TEST"}"#)
            #expect(settled.status.code < 300, "\(settled.json)")
            try await Self.expectAgree(d, "after the settlement")
        }
    }

    @Test func aKeptTotalThatDriftedIsNamedByTheVerification() async throws {
        try await DemoPlatform.with(ownDatabase: true) { d in
            let sql = d.app.sql
            let receivable = try await sql.raw("SELECT receivable_id FROM receivable_totals WHERE payable_fen > 0 ORDER BY receivable_id LIMIT 1").first()!
                .decode(column: "receivable_id", as: String.self)
            let parent = try await sql.raw("SELECT parent_id FROM token_children ORDER BY parent_id LIMIT 1").first()!.decode(column: "parent_id", as: String.self)
            let bank = d.orgs["bank"]!.description
            try await sql.raw("UPDATE receivable_totals SET payable_fen = payable_fen + 1 WHERE receivable_id = \(bind: receivable)").run()
            try await sql.raw("UPDATE token_children SET children = children + 1 WHERE parent_id = \(bind: parent)").run()
            try await sql.raw("UPDATE org_totals SET financed_rate = financed_rate + 7 WHERE org_id = \(bind: bank)").run()
            let verified = await StoredChainVerification.run(LedgerStore(db: d.app.db))
            #expect(!verified.ok)
            for (table, key) in [("receivable_totals", receivable), ("token_children", parent), ("org_totals", bank)] {
                #expect(verified.problems.contains { $0.hasPrefix("\(table) \(key): ") }, "\(table) \(key) in \(verified.problems)")
            }
        }
    }
}
