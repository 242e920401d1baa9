import Foundation
import Ledger
import SQLKit

/// 信息披露 (SPEC §5): each core enterprise's paper as the market prices it — what it owes, what
/// is overdue and for how long, a default and its reason, and its record of paying on time or
/// late. Public: anyone may read it, signed in or not. Read from the totals kept beside the
/// receivables (migration 0028) and one index seek a core, so a page answers alike at any size.
package enum DisclosureQueries {
    package struct Disclosure: Sendable {
        package var orgId: String
        package var name: String
        package var creditCode: String
        package var outstandingFen: Int64
        package var outstandingCount: Int64
        package var overdueFen: Int64
        package var overdueCount: Int64
        /// Days since the oldest overdue receivable's due date; 0 when none is overdue.
        package var maxDaysOverdue: Int64
        /// In default (SPEC §3): a default the operator recorded, or a receivable overdue.
        package var inDefault: Bool
        /// The recorded default's reason, if one is recorded.
        package var defaultReason: String?
        package var settledOnTimeCount: Int64
        package var settledLateCount: Int64

        package var json: JSON {
            ["orgId": .string(orgId), "name": .string(name), "creditCode": .string(creditCode), "outstandingFen": .int(outstandingFen),
             "outstandingCount": .int(outstandingCount), "overdueFen": .int(overdueFen), "overdueCount": .int(overdueCount),
             "maxDaysOverdue": .int(maxDaysOverdue), "inDefault": .bool(inDefault), "defaultReason": defaultReason.map(JSON.string) ?? .null,
             "settledOnTimeCount": .int(settledOnTimeCount), "settledLateCount": .int(settledLateCount)]
        }
    }

    static let select: SQLQueryString = """
        SELECT o.id, o.name, o.credit_code, o.in_default, o.default_reason,
               COALESCE(d.outstanding_fen, 0) AS outstanding_fen, COALESCE(d.outstanding_count, 0) AS outstanding_count,
               COALESCE(d.overdue_fen, 0) AS overdue_fen, COALESCE(d.overdue_count, 0) AS overdue_count,
               COALESCE(d.on_time_count, 0) AS on_time_count, COALESCE(d.late_count, 0) AS late_count,
               (SELECT MIN(r.due_date) FROM receivables r WHERE r.status = 'overdue' AND r.issuer_id = o.id) AS oldest_overdue
        FROM orgs o LEFT JOIN issuer_disclosures d ON d.org_id = o.id
        WHERE o.role = 'core'
        """

    /// Every core enterprise, by name; `inDefaultOnly`, only those in default (逾期名单).
    package static func list(inDefaultOnly: Bool, today: BusinessDate, page: Page, on sql: any SQLDatabase) async throws -> Page.Rows<Disclosure> {
        var query = select
        if inDefaultOnly { query += " AND (o.in_default = 1 OR COALESCE(d.overdue_count, 0) > 0)" }
        return try await page.rows(query, keys: ["o.name", "o.id"], on: sql) { row in
            let d = try disclosure(row, today: today)
            return (d, [.string(d.name), .string(d.orgId)])
        }
    }

    /// One core enterprise's disclosure; nil for an id that is not a core enterprise's.
    package static func find(_ org: OrgID, today: BusinessDate, on sql: any SQLDatabase) async throws -> Disclosure? {
        var query = select
        query += " AND o.id = \(bind: org.description)"
        return try await sql.raw(query).first().map { try disclosure($0, today: today) }
    }

    static func disclosure(_ row: any SQLRow, today: BusinessDate) throws -> Disclosure {
        func int(_ c: String) throws -> Int64 { try row.decode(column: c, as: Int64.self) }
        let oldest = try row.decodeNil(column: "oldest_overdue") ? nil : BusinessDate(try row.decode(column: "oldest_overdue", as: String.self))
        let recorded = try int("in_default") == 1, overdue = try int("overdue_count")
        return Disclosure(orgId: try row.decode(column: "id", as: String.self), name: try row.decode(column: "name", as: String.self),
                          creditCode: try row.decode(column: "credit_code", as: String.self), outstandingFen: try int("outstanding_fen"),
                          outstandingCount: try int("outstanding_count"), overdueFen: try int("overdue_fen"), overdueCount: overdue,
                          maxDaysOverdue: oldest.map { max(0, $0.days(until: today)) } ?? 0, inDefault: recorded || overdue > 0,
                          defaultReason: try row.decodeNil(column: "default_reason") ? nil : try row.decode(column: "default_reason", as: String.self),
                          settledOnTimeCount: try int("on_time_count"), settledLateCount: try int("late_count"))
    }
}
