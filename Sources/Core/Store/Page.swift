import Foundation
import Ledger
import SQLKit

/// `?limit=` (1–200, default 50) and `?cursor=`, answered as `{items, nextCursor}`. Lists are
/// keyset-paged: the cursor holds the sort key of the last item, so a page never shifts when
/// rows are added before it.
package struct Page {
    package static let defaultLimit = 50
    package static let maxLimit = 200

    package var limit: Int
    package var after: [JSON]?

    package init(limit: Int = Page.defaultLimit, after: [JSON]? = nil) {
        self.limit = limit
        self.after = after
    }

    /// The page after the one whose last item had sort key `cursor` (as `cursor(_:)` wrote it), of
    /// a list sorted by `keyCount` keys.
    package init(limit: Int, cursor: String?, keyCount: Int) throws {
        self.init(limit: limit)
        guard let cursor else { return }
        guard let data = Data(base64Encoded: Self.unURL(cursor)), case .array(let parts)? = try? JSON.parse(Array(data)),
              parts.count == keyCount, parts.allSatisfy({ if case .string = $0 { true } else if case .int = $0 { true } else { false } })
        else { throw LedgerError.invalid("cursor", "is not a cursor this list gave out") }
        after = parts
    }

    package static func cursor(_ keys: [JSON]) -> String {
        Data(JSON.array(keys).canonicalBytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    package static func unURL(_ s: String) -> String {
        let b = s.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        return b + String(repeating: "=", count: (4 - b.count % 4) % 4)
    }

    /// One page of typed rows, and the cursor of the next page (nil on the last).
    package struct Rows<Row> {
        package var items: [Row]
        /// The sort key of the last item, when more follow.
        package var lastKey: [JSON]?

        package var nextCursor: String? { lastKey.map(Page.cursor) }

        /// The page after this one, of the same size; nil on the last.
        package func next(limit: Int) -> Page? { lastKey.map { Page(limit: limit, after: $0) } }

        package func map<Other>(_ transform: (Row) throws -> Other) rethrows -> Rows<Other> {
            Rows<Other>(items: try items.map(transform), lastKey: lastKey)
        }

        /// `{items, nextCursor}`, as every list of the API answers.
        package func json(_ item: (Row) throws -> JSON) rethrows -> JSON {
            ["items": .array(try items.map(item)), "nextCursor": nextCursor.map(JSON.string) ?? .null]
        }
    }

    /// Runs `select` (a query ending in its WHERE clause, which may be `WHERE 1 = 1`) one page at
    /// a time, ordered by `keys` (the last one unique). `row` reads each row and gives its sort key
    /// (strings or integers, as the columns hold them).
    package func rows<Row>(_ select: SQLQueryString, keys: [String], descending: Bool = false, on sql: any SQLDatabase,
                           _ row: (any SQLRow) throws -> (row: Row, key: [JSON])) async throws -> Rows<Row> {
        var query = select
        let columns = keys.joined(separator: ", ")
        if let after {
            let values: [any Encodable & Sendable] = after.map { key -> any Encodable & Sendable in
                if case .int(let n) = key { return n }
                return key.stringValue ?? ""
            }
            query += " AND (\(unsafeRaw: columns)) \(unsafeRaw: descending ? "<" : ">") (\(binds: values))"
        }
        let direction = descending ? " DESC" : ""
        query += " ORDER BY \(unsafeRaw: keys.map { $0 + direction }.joined(separator: ", ")) LIMIT \(literal: limit + 1)"
        let found = try await sql.raw(query).all()
        var items: [Row] = [], lastKey: [JSON] = []
        for r in found.prefix(limit) {
            let (item, key) = try row(r)
            items.append(item)
            lastKey = key
        }
        return Rows(items: items, lastKey: found.count > limit ? lastKey : nil)
    }
}

/// Rows `offset` to `offset + limit` of a list in its order: the console's numbered pages and
/// its short lists (the dashboard's next receivables).
package struct Slice: Sendable {
    package var limit: Int
    package var offset: Int

    package init(limit: Int, offset: Int = 0) {
        self.limit = limit
        self.offset = offset
    }

    /// Runs `select` (a query ending in its WHERE clause) ordered by `order`.
    package func rows<Row>(_ select: SQLQueryString, order: String, on sql: any SQLDatabase, _ row: (any SQLRow) throws -> Row) async throws -> [Row] {
        var query = select
        query += " ORDER BY \(unsafeRaw: order) LIMIT \(literal: limit) OFFSET \(literal: offset)"
        return try await sql.raw(query).all().map(row)
    }
}
