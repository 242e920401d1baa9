import Foundation
import Ledger
import SQLKit

/// Reads of a receivable's pieces that stay bounded however many pieces it has: a page of its
/// clearing list, a page of its tree, a page of a token's ancestry, and a picture-sized slice of
/// the tree with the rest summarised.
package enum TokenQueries {
    package static let columns = Projection.tokens.columns.map { "t." + $0 }.joined(separator: ", ")
    package static let clearingStatuses: [TokenStatus] = [.pending, .active, .locked, .settled]

    // MARK: A receivable's clearing list: who is to be paid how much at maturity

    /// The pieces of `r` that are live (pending, active, locked) or already settled: all of them
    /// for the issuer, the regulator and the operator, a holder's own for a holder.
    static func clearingSelect(of r: Receivable, visibleTo viewer: Viewer) -> SQLQueryString {
        var query: SQLQueryString = """
            SELECT \(unsafeRaw: columns) FROM tokens t WHERE t.receivable_id = \(bind: r.id.description)
            AND t.status IN (\(binds: clearingStatuses.map(\.rawValue)))
            """
        if !(viewer.seesAll || r.issuerId == viewer.orgId) { query += " AND t.holder_id = \(bind: viewer.orgId.description)" }
        return query
    }

    /// The clearing list in tier, creation and id order, a page at a time.
    package static func clearing(of r: Receivable, visibleTo viewer: Viewer, page: Page, on sql: any SQLDatabase) async throws -> Page.Rows<Token> {
        try await page.rows(clearingSelect(of: r, visibleTo: viewer), keys: ["t.tier", "t.created_on", "t.id"], on: sql) { row in
            let t = try RowReader(row, "tokens").token
            return (t, [.int(t.tier), .string(t.createdOn.description), .string(t.id.description)])
        }
    }

    /// The same list, as rows `slice` of it.
    package static func clearing(of r: Receivable, visibleTo viewer: Viewer, slice: Slice, on sql: any SQLDatabase) async throws -> [Token] {
        try await slice.rows(clearingSelect(of: r, visibleTo: viewer), order: "t.tier, t.created_on, t.id", on: sql) { try RowReader($0, "tokens").token }
    }

    /// The same list in id order, a page at a time: the export.
    package static func clearingById(of r: Receivable, visibleTo viewer: Viewer, page: Page, on sql: any SQLDatabase) async throws -> Page.Rows<Token> {
        try await page.rows(clearingSelect(of: r, visibleTo: viewer), keys: ["t.id"], on: sql) { row in
            let t = try RowReader(row, "tokens").token
            return (t, [.string(t.id.description)])
        }
    }

    /// What settling `r` still pays: its active and locked pieces, as the database keeps the sum
    /// (`receivable_totals`), one row however many pieces there are.
    package static func payableFen(of r: TxID, on sql: any SQLDatabase) async throws -> Int64 {
        try await sql.totalFen("SELECT payable_fen AS total FROM receivable_totals WHERE receivable_id = \(bind: r.description)")
    }

    // MARK: A receivable's whole tree

    /// Every token descended from `r`, spent ones included, with its holder's name, in tier,
    /// creation and id order, a page at a time: for the issuer, the regulator and the operator.
    package static func tree(of r: Receivable, visibleTo viewer: Viewer, page: Page, on sql: any SQLDatabase) async throws -> Page.Rows<(token: Token, holderName: String)> {
        guard viewer.seesAll || r.issuerId == viewer.orgId else {
            throw LedgerError(.forbidden, "the whole tree is shown to the issuer, the regulator and the operator; a holder sees its own pieces and their ancestry")
        }
        let query: SQLQueryString = """
            SELECT \(unsafeRaw: columns), o.name AS holder_name FROM tokens t LEFT JOIN orgs o ON o.id = t.holder_id
            WHERE t.receivable_id = \(bind: r.id.description)
            """
        return try await page.rows(query, keys: ["t.tier", "t.created_on", "t.id"], on: sql) { row in
            let t = try RowReader(row, "tokens").token
            return ((t, (try? row.decode(column: "holder_name", as: String.self)) ?? ""), [.int(t.tier), .string(t.createdOn.description), .string(t.id.description)])
        }
    }

    // MARK: Holdings

    /// A holder's own tokens (the live ones unless a status is asked for); every token, spent
    /// ones included, for the regulator and the operator. Newest first, a page at a time.
    package static func list(status: TokenStatus?, receivableId: TxID?, visibleTo viewer: Viewer, page: Page, on sql: any SQLDatabase) async throws -> Page.Rows<Token> {
        var query: SQLQueryString = "SELECT \(unsafeRaw: Projection.tokens.columns.joined(separator: ", ")) FROM tokens WHERE "
        if viewer.seesAll {
            query += "1 = 1"
        } else {
            query += "holder_id = \(bind: viewer.orgId.description)"
            if status == nil { query += " AND status IN ('pending', 'active', 'locked')" }
        }
        if let status { query += " AND status = \(bind: status.rawValue)" }
        if let receivableId { query += " AND receivable_id = \(bind: receivableId.description)" }
        return try await page.rows(query, keys: ["created_on", "id"], descending: true, on: sql) { row in
            let t = try RowReader(row, "tokens").token
            return (t, [.string(t.createdOn.description), .string(t.id.description)])
        }
    }

    static func heldScope(by viewer: Viewer, statuses: [TokenStatus]) -> SQLQueryString {
        "t.holder_id = \(bind: viewer.orgId.description) AND t.status IN (\(binds: statuses.map(\.rawValue)))"
    }

    /// The viewer's org's tokens in `statuses` with their receivables, soonest due first: the
    /// console's inbox and holdings.
    package static func held(by viewer: Viewer, statuses: [TokenStatus], slice: Slice, on sql: any SQLDatabase) async throws -> [(token: Token, receivable: Receivable)] {
        var query: SQLQueryString = """
            SELECT \(unsafeRaw: Projection.tokens.select("t")), \(unsafeRaw: Projection.receivables.columns.map { "r.\($0) AS r_\($0)" }.joined(separator: ", "))
            FROM tokens t JOIN receivables r ON r.id = t.receivable_id WHERE\u{20}
            """
        query += heldScope(by: viewer, statuses: statuses)
        return try await slice.rows(query, order: "r.due_date, t.created_on DESC, t.id", on: sql) { row in
            (try RowReader(row, "tokens").token, try RowReader(PrefixedRow(row: row, prefix: "r_"), "receivables").receivable)
        }
    }

    /// What the viewer's org holds in `statuses`, in all.
    package static func heldFen(by viewer: Viewer, statuses: [TokenStatus], on sql: any SQLDatabase) async throws -> Int64 {
        try await sql.totalFen("SELECT CAST(SUM(t.amount_fen) AS BIGINT) AS total FROM tokens t WHERE " + heldScope(by: viewer, statuses: statuses))
    }

    /// The tokens the viewer may see with their receivables' numbers, in id order, a page at a
    /// time: the export (a holder's own, spent ones included; all for the regulator and the operator).
    package static func all(visibleTo viewer: Viewer, page: Page, on sql: any SQLDatabase) async throws -> Page.Rows<(token: Token, number: String)> {
        var query: SQLQueryString = "SELECT \(unsafeRaw: Projection.tokens.select("t")), r.number AS number FROM tokens t JOIN receivables r ON r.id = t.receivable_id WHERE "
        query += viewer.seesAll ? "1 = 1" : "t.holder_id = \(bind: viewer.orgId.description)"
        return try await page.rows(query, keys: ["t.id"], on: sql) { row in
            let t = try RowReader(row, "tokens").token
            return ((t, try row.decode(column: "number", as: String.self)), [.string(t.id.description)])
        }
    }

    // MARK: One token

    /// A token, if `viewer` may see it: its holder, the core enterprise that issued it, the
    /// regulator and the operator do; to anyone else it does not exist.
    package static func find(_ id: TokenID, visibleTo viewer: Viewer, on sql: any SQLDatabase) async throws -> Token? {
        guard let row = try await sql.raw("""
            SELECT \(unsafeRaw: columns), r.issuer_id FROM tokens t JOIN receivables r ON r.id = t.receivable_id WHERE t.id = \(bind: id.description)
            """).first() else { return nil }
        let reader = RowReader(row, "tokens")
        let token = try reader.token
        let issuer = try reader.parsed("issuer_id", OrgID.init)
        guard viewer.seesAll || token.holderId == viewer.orgId || issuer == viewer.orgId else { return nil }
        return token
    }

    /// The tree of a receivable as a picture can hold it: from the first token down, level by
    /// level, at most `maxChildren` children of any piece and `maxNodes` pieces in all; what is
    /// left out is counted, with its amount, under the piece it hangs from.
    package struct TreeSlice {
        package var tokens: [Token]
        package var hidden: [TokenID: (count: Int64, amountFen: Int64)]
    }

    package static func treeSlice(of receivable: TxID, maxChildren: Int = 5, maxNodes: Int = 60, on sql: any SQLDatabase) async throws -> TreeSlice {
        var shown = try await sql.raw("SELECT \(unsafeRaw: columns) FROM tokens t WHERE t.receivable_id = \(bind: receivable.description) AND t.parent_id IS NULL ORDER BY t.id LIMIT \(literal: maxChildren)")
            .all().map { try RowReader($0, "tokens").token }
        var hidden: [TokenID: (count: Int64, amountFen: Int64)] = [:]
        var frontier = shown
        while !frontier.isEmpty {
            let parents = frontier.map(\.id.description)
            // How many children each has, and their amount, as the database keeps them.
            let counts = try await sql.raw("SELECT parent_id, children, amount_fen FROM token_children WHERE parent_id IN (\(binds: parents))").all()
            var childCount: [String: (Int64, Int64)] = [:]
            for row in counts {
                childCount[try row.decode(column: "parent_id", as: String.self)] = (try row.decode(column: "children", as: Int64.self), try row.decode(column: "amount_fen", as: Int64.self))
            }
            let room = maxNodes - shown.count
            var children: [Token] = []
            let withChildren = parents.filter { (childCount[$0]?.0 ?? 0) > 0 }
            if room > 0, !withChildren.isEmpty {
                // Each parent's first children by creation, from the index on (parent, creation,
                // id): one bounded read per parent, all in one statement.
                var query = SQLQueryString("")
                for (k, parent) in withChildren.enumerated() {
                    query += (k > 0 ? " UNION ALL " : "") + """
                        SELECT * FROM (SELECT \(unsafeRaw: columns) FROM tokens t WHERE t.parent_id = \(bind: parent)
                        ORDER BY t.created_on, t.id LIMIT \(literal: maxChildren)) c\(unsafeRaw: String(k))
                        """
                }
                let byParent = Dictionary(grouping: try await sql.raw(query).all().map { try RowReader($0, "tokens").token }) { $0.parentId!.description }
                for parent in withChildren.sorted() {
                    let sorted = (byParent[parent] ?? []).sorted { ($0.createdOn, $0.id) < ($1.createdOn, $1.id) }
                    children += sorted.prefix(maxChildren)
                }
                children = Array(children.prefix(room))
            }
            var shownUnder: [TokenID: (Int64, Int64)] = [:]
            for c in children {
                let p = c.parentId!
                shownUnder[p] = ((shownUnder[p]?.0 ?? 0) + 1, (shownUnder[p]?.1 ?? 0) + c.amountFen)
            }
            for parent in frontier {
                guard let (n, total) = childCount[parent.id.description] else { continue }
                let (sn, stotal) = shownUnder[parent.id] ?? (0, 0)
                if n > sn { hidden[parent.id] = (n - sn, total - stotal) }
            }
            shown += children
            frontier = children
        }
        return TreeSlice(tokens: shown, hidden: hidden)
    }

    /// A token and its path back to issuance (its parent, its parent, …, the first token) from
    /// `depth` steps up, at most `limit` of them, in one recursive query; and whether the path
    /// goes on past them.
    package static func ancestry(of token: TokenID, from depth: Int64, limit: Int, on sql: any SQLDatabase) async throws -> (tokens: [Token], more: Bool) {
        let rows = try await sql.raw("""
            WITH RECURSIVE path(id, parent_id, depth) AS (
              SELECT id, parent_id, 0 FROM tokens WHERE id = \(bind: token.description)
              UNION ALL
              SELECT t.id, t.parent_id, p.depth + 1 FROM tokens t JOIN path p ON t.id = p.parent_id WHERE p.depth < \(bind: depth + Int64(limit))
            )
            SELECT \(unsafeRaw: columns) FROM path p JOIN tokens t ON t.id = p.id WHERE p.depth >= \(bind: depth) ORDER BY p.depth
            """).all()
        let tokens = try rows.map { try RowReader($0, "tokens").token }
        return (Array(tokens.prefix(limit)), tokens.count > limit)
    }

    /// The core's active receivable in the most pieces (the largest tree a page shows): what
    /// `cascade bench scale` reads.
    package static func largestActiveReceivable(of core: OrgID, on sql: any SQLDatabase) async throws -> TxID? {
        try await sql.raw("""
            SELECT r.id FROM receivables r JOIN tokens t ON t.receivable_id = r.id
            WHERE r.issuer_id = \(bind: core.description) AND r.status = 'active' GROUP BY r.id ORDER BY count(*) DESC LIMIT 1
            """).first().flatMap { TxID(try $0.decode(column: "id", as: String.self)) }
    }

    /// Offers (pending pieces) made before `date` (YYYY-MM-DD), the oldest first, by index.
    package static func offers(madeBefore date: String, on sql: any SQLDatabase) async throws -> [TokenID] {
        try await sql.raw("""
            SELECT id FROM tokens WHERE status = 'pending' AND created_on < \(bind: date) ORDER BY created_on, id
            """).all().compactMap { TokenID(try $0.decode(column: "id", as: String.self)) }
    }
}
