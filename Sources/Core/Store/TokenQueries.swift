import Foundation
import Ledger
import SQLKit

/// Reads of a receivable's pieces that stay bounded however many pieces it has: a page of its
/// clearing list, a page of its tree, a page of a token's ancestry, and a picture-sized slice of
/// the tree with the rest summarised.
package enum TokenQueries {
    package static let columns = Projection.tokens.columns.map { "t." + $0 }.joined(separator: ", ")
    package static let clearingStatuses: [TokenStatus] = [.pending, .active, .locked, .settled]

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
            let counts = try await sql.raw("""
                SELECT t.parent_id AS parent_id, COUNT(*) AS n, CAST(SUM(t.amount_fen) AS BIGINT) AS total FROM tokens t
                WHERE t.parent_id IN (\(binds: parents)) GROUP BY t.parent_id
                """).all()
            var childCount: [String: (Int64, Int64)] = [:]
            for row in counts { childCount[try row.decode(column: "parent_id", as: String.self)] = (try row.decode(column: "n", as: Int64.self), try row.decode(column: "total", as: Int64.self)) }
            let room = maxNodes - shown.count
            var children: [Token] = []
            if room > 0 {
                children = try await sql.raw("""
                    SELECT \(unsafeRaw: Projection.tokens.columns.joined(separator: ", ")) FROM (
                      SELECT \(unsafeRaw: columns), ROW_NUMBER() OVER (PARTITION BY t.parent_id ORDER BY t.created_on, t.id) AS rn
                      FROM tokens t WHERE t.parent_id IN (\(binds: parents))) c
                    WHERE c.rn <= \(literal: maxChildren) ORDER BY c.parent_id, c.rn LIMIT \(literal: room)
                    """).all().map { try RowReader($0, "tokens").token }
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
}
