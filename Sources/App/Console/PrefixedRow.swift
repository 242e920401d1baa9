import SQLKit

/// A row whose columns carry a prefix (`r_id`), read as if they did not.
struct PrefixedRow: SQLRow {
    let row: any SQLRow
    let prefix: String
    var allColumns: [String] { row.allColumns.filter { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) } }
    func contains(column: String) -> Bool { row.contains(column: prefix + column) }
    func decodeNil(column: String) throws -> Bool { try row.decodeNil(column: prefix + column) }
    func decode<D: Decodable>(column: String, as: D.Type) throws -> D { try row.decode(column: prefix + column, as: D.self) }
}
