import SQLKit

/// A row whose columns carry a prefix (`r_id`), read as if they did not.
package struct PrefixedRow: SQLRow {
    package let row: any SQLRow
    package let prefix: String
    package var allColumns: [String] { row.allColumns.filter { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) } }
    package func contains(column: String) -> Bool { row.contains(column: prefix + column) }
    package func decodeNil(column: String) throws -> Bool { try row.decodeNil(column: prefix + column) }
    package func decode<D: Decodable>(column: String, as: D.Type) throws -> D { try row.decode(column: prefix + column, as: D.self) }
}
