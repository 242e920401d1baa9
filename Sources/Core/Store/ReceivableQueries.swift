import Foundation
import Ledger
import SQLKit

/// Reads of receivables and their pieces, by id and viewer: the API, the console and the
/// services share them.
package enum ReceivableQueries {
    package static let columns = Projection.receivables.columns.map { "r." + $0 }.joined(separator: ", ")

    /// The issuer sees its receivables; a holder (supplier or bank) those it holds or held a
    /// piece of; the regulator and the operator all.
    package static func visible(_ v: Viewer) -> SQLQueryString {
        switch v.role {
        case .regulator, .operator: return "1 = 1"
        case .core: return "r.issuer_id = \(bind: v.orgId.description)"
        case .supplier, .bank: return "EXISTS (SELECT 1 FROM tokens t WHERE t.receivable_id = r.id AND t.holder_id = \(bind: v.orgId.description))"
        }
    }

    /// Which receivables a list shows: all the viewer may see, or those of some statuses, one
    /// issuer, or due on or before a day.
    package struct Filter: Sendable {
        package var statuses: [ReceivableStatus]?
        package var issuerId: OrgID?
        package var dueBefore: BusinessDate?

        package init(statuses: [ReceivableStatus]? = nil, issuerId: OrgID? = nil, dueBefore: BusinessDate? = nil) {
            self.statuses = statuses
            self.issuerId = issuerId
            self.dueBefore = dueBefore
        }
    }

    static func select(_ filter: Filter, visibleTo viewer: Viewer) -> SQLQueryString {
        var query: SQLQueryString = "SELECT \(unsafeRaw: columns) FROM receivables r WHERE "
        query += visible(viewer)
        if let statuses = filter.statuses { query += " AND r.status IN (\(binds: statuses.map(\.rawValue)))" }
        if let issuer = filter.issuerId { query += " AND r.issuer_id = \(bind: issuer.description)" }
        if let due = filter.dueBefore { query += " AND r.due_date <= \(bind: due.description)" }
        return query
    }

    /// The receivables `viewer` may see, soonest due first, a page at a time.
    package static func list(_ filter: Filter, visibleTo viewer: Viewer, page: Page, on sql: any SQLDatabase) async throws -> Page.Rows<Receivable> {
        try await page.rows(select(filter, visibleTo: viewer), keys: ["r.due_date", "r.id"], on: sql) { row in
            let r = try RowReader(row, "receivables").receivable
            return (r, [.string(r.dueDate.description), .string(r.id.description)])
        }
    }

    /// The same list, as rows `slice` of it.
    package static func list(_ filter: Filter, visibleTo viewer: Viewer, slice: Slice, on sql: any SQLDatabase) async throws -> [Receivable] {
        try await slice.rows(select(filter, visibleTo: viewer), order: "r.due_date, r.id", on: sql) { try RowReader($0, "receivables").receivable }
    }

    /// The receivables `viewer` may see, in id order, a page at a time: the export.
    package static func all(visibleTo viewer: Viewer, page: Page, on sql: any SQLDatabase) async throws -> Page.Rows<Receivable> {
        try await page.rows(select(Filter(), visibleTo: viewer), keys: ["r.id"], on: sql) { row in
            let r = try RowReader(row, "receivables").receivable
            return (r, [.string(r.id.description)])
        }
    }

    /// The receivable a token the viewer may see is a piece of (whoever else holds its other pieces).
    package static func receivable(of token: Token, on sql: any SQLDatabase) async throws -> Receivable? {
        try await sql.raw("SELECT \(unsafeRaw: columns) FROM receivables r WHERE r.id = \(bind: token.receivableId.description)").first()
            .map { try RowReader($0, "receivables").receivable }
    }

    /// The receivable, if `viewer` may see it (another org's receivable is not found).
    package static func find(_ id: TxID, visibleTo viewer: Viewer, on sql: any SQLDatabase) async throws -> Receivable? {
        var query: SQLQueryString = "SELECT \(unsafeRaw: columns) FROM receivables r WHERE r.id = \(bind: id.description) AND "
        query += visible(viewer)
        guard let row = try await sql.raw(query).first() else { return nil }
        return try RowReader(row, "receivables").receivable
    }

    package static func tokens(of r: TxID, holder: OrgID? = nil, statuses: [TokenStatus]? = nil, on sql: any SQLDatabase) async throws -> [Token] {
        var query: SQLQueryString = "SELECT \(unsafeRaw: Projection.tokens.columns.joined(separator: ", ")) FROM tokens WHERE receivable_id = \(bind: r.description)"
        if let holder { query += " AND holder_id = \(bind: holder.description)" }
        if let statuses { query += " AND status IN (\(binds: statuses.map(\.rawValue)))" }
        query += " ORDER BY tier, created_on, id"
        return try await sql.raw(query).all().map { try RowReader($0, "tokens").token }
    }

    /// Up to `limit` ids of the receivable's pieces that settlement pays (active or locked), in
    /// id order after `after`.
    package static func payableIds(of r: TxID, after: TokenID? = nil, limit: Int, on sql: any SQLDatabase) async throws -> [TokenID] {
        var query: SQLQueryString = "SELECT id FROM tokens WHERE receivable_id = \(bind: r.description) AND status IN ('active', 'locked')"
        if let after { query += " AND id > \(bind: after.description)" }
        query += " ORDER BY id LIMIT \(unsafeRaw: String(limit))"
        return try await sql.raw(query).all().map { row in
            let text = try row.decode(column: "id", as: String.self)
            guard let id = TokenID(text) else { throw StoreDamage("tokens.id \(text)") }
            return id
        }
    }

    /// The receivable's number, as the core enterprise gave it ("" for an unknown id).
    package static func number(of r: TxID, on sql: any SQLDatabase) async throws -> String {
        try await sql.raw("SELECT number FROM receivables WHERE id = \(bind: r.description)").first()?.decode(column: "number", as: String.self) ?? ""
    }

    /// Every org's name by id, for pages that name holders.
    /// Which of `ids` were issued with a term that needs the bank's review (77号).
    package static func needingTermReview(_ ids: [TxID], on sql: any SQLDatabase) async throws -> Set<TxID> {
        var found = Set<TxID>()
        for chunk in Array(Set(ids)).chunked(500) {
            let list = SQLList(chunk.map { SQLBind($0.description) })
            for row in try await sql.raw("SELECT id FROM receivables WHERE term_review = 1 AND id IN (\(list))").all() {
                if let id = TxID(try row.decode(column: "id", as: String.self)) { found.insert(id) }
            }
        }
        return found
    }

    package static func orgNames(on sql: any SQLDatabase) async throws -> [String: String] {
        var names: [String: String] = [:]
        for row in try await sql.raw("SELECT id, name FROM orgs").all() {
            names[try row.decode(column: "id", as: String.self)] = try row.decode(column: "name", as: String.self)
        }
        return names
    }

    /// Active receivables due before `date` (YYYY-MM-DD), by index.
    package static func active(dueBefore date: String, on sql: any SQLDatabase) async throws -> [TxID] {
        try await sql.raw("""
            SELECT id FROM receivables WHERE status = 'active' AND due_date < \(bind: date) ORDER BY id
            """).all().compactMap { TxID(try $0.decode(column: "id", as: String.self)) }
    }
}
