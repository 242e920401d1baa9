import Foundation
import Ledger
import SQLKit

/// Reads of credit lines and financings by id and viewer, for the API, the console and the
/// exports alike.
enum CreditLineQueries {
    static let columns = Projection.creditLines.columns.joined(separator: ", ")

    /// Which lines the viewer may see, as a WHERE condition on `credit_lines`: a bank its own
    /// grants, a core the lines granted to it, the regulator and the operator all. A supplier
    /// has no business with them.
    static func visible(_ v: Viewer) throws -> SQLQueryString {
        switch v.role {
        case .regulator, .operator: return "1 = 1"
        case .bank: return "bank_id = \(bind: v.orgId.description)"
        case .core: return "core_id = \(bind: v.orgId.description)"
        case .supplier: throw Problem(.forbidden, "credit lines are between banks and core enterprises")
        }
    }

    static func find(_ id: TxID, visibleTo viewer: Viewer, on sql: any SQLDatabase) async throws -> CreditLine? {
        var query: SQLQueryString = "SELECT \(unsafeRaw: columns) FROM credit_lines WHERE id = \(bind: id.description) AND "
        query += try visible(viewer)
        return try await sql.raw(query).first().map { try RowReader($0, "credit_lines").creditLine }
    }
}

enum FinancingQueries {
    static let columns = Projection.financings.columns.map { "f." + $0 }.joined(separator: ", ")

    /// Which financings the viewer may see, as a WHERE condition on `financings f`: the bank's
    /// queue, the supplier's requests, the paper of a core's receivables; all for the regulator
    /// and the operator.
    static func visible(_ v: Viewer) -> SQLQueryString {
        switch v.role {
        case .regulator, .operator: return "1 = 1"
        case .bank: return "f.bank_id = \(bind: v.orgId.description)"
        case .supplier: return "f.supplier_id = \(bind: v.orgId.description)"
        case .core: return "EXISTS (SELECT 1 FROM receivables r WHERE r.id = f.receivable_id AND r.issuer_id = \(bind: v.orgId.description))"
        }
    }

    static func find(_ id: TxID, visibleTo viewer: Viewer, on sql: any SQLDatabase) async throws -> Financing? {
        var query: SQLQueryString = "SELECT \(unsafeRaw: columns) FROM financings f WHERE f.id = \(bind: id.description) AND "
        query += visible(viewer)
        return try await sql.raw(query).first().map { try RowReader($0, "financings").financing }
    }
}
