import Foundation
import Ledger
import SQLKit

package enum FinancingQueries {
    package static let columns = Projection.financings.columns.map { "f." + $0 }.joined(separator: ", ")

    /// Which financings the viewer may see, as a WHERE condition on `financings f`: the bank's
    /// queue, the supplier's requests, the paper of a core's receivables; all for the regulator
    /// and the operator.
    package static func visible(_ v: Viewer) -> SQLQueryString {
        switch v.role {
        case .regulator, .operator: return "1 = 1"
        case .bank: return "f.bank_id = \(bind: v.orgId.description)"
        case .supplier: return "f.supplier_id = \(bind: v.orgId.description)"
        case .core: return "EXISTS (SELECT 1 FROM receivables r WHERE r.id = f.receivable_id AND r.issuer_id = \(bind: v.orgId.description))"
        }
    }

    static func select(status: FinancingStatus?, visibleTo viewer: Viewer) -> SQLQueryString {
        var query: SQLQueryString = "SELECT \(unsafeRaw: columns) FROM financings f WHERE "
        query += visible(viewer)
        if let status { query += " AND f.status = \(bind: status.rawValue)" }
        return query
    }

    /// The financings `viewer` may see, of one status or all, latest requested first, a page at a time.
    package static func list(status: FinancingStatus?, visibleTo viewer: Viewer, page: Page, on sql: any SQLDatabase) async throws -> Page.Rows<Financing> {
        try await page.rows(select(status: status, visibleTo: viewer), keys: ["f.requested_on", "f.id"], descending: true, on: sql) { row in
            let f = try RowReader(row, "financings").financing
            return (f, [.string(f.requestedOn.description), .string(f.id.description)])
        }
    }

    /// The same list, as rows `slice` of it.
    package static func list(status: FinancingStatus?, visibleTo viewer: Viewer, slice: Slice, on sql: any SQLDatabase) async throws -> [Financing] {
        try await slice.rows(select(status: status, visibleTo: viewer), order: "f.requested_on DESC, f.id", on: sql) { try RowReader($0, "financings").financing }
    }

    /// The financings `viewer` may see, in id order, a page at a time: the export.
    package static func all(visibleTo viewer: Viewer, page: Page, on sql: any SQLDatabase) async throws -> Page.Rows<Financing> {
        try await page.rows(select(status: nil, visibleTo: viewer), keys: ["f.id"], on: sql) { row in
            let f = try RowReader(row, "financings").financing
            return (f, [.string(f.id.description)])
        }
    }

    package static func find(_ id: TxID, visibleTo viewer: Viewer, on sql: any SQLDatabase) async throws -> Financing? {
        var query: SQLQueryString = "SELECT \(unsafeRaw: columns) FROM financings f WHERE f.id = \(bind: id.description) AND "
        query += visible(viewer)
        return try await sql.raw(query).first().map { try RowReader($0, "financings").financing }
    }

    /// An approved financing in the fields the PBoC credit reference centre's movable-property
    /// financing registry (动产融资统一登记公示系统) asks for about an assignment of receivables.
    package struct RegistryFiling: Sendable {
        package var id: String
        package var amountFen: Int64
        package var requestedOn: String
        package var supplierName: String
        package var supplierCode: String
        package var bankName: String
        package var bankCode: String
        package var coreName: String
        package var coreCode: String
        package var number: String
        package var dueDate: String
        package var faceFen: Int64
        package var invoices: [String]
        /// The bank's 中登网 registration (nil on a chain written before format 2), recourse, and
        /// the term review's reason.
        package var filingNumber: String?
        package var filedOn: String?
        package var recourse: Bool
        package var termReview: String?
    }

    /// Who files: the financing bank (its own), the regulator and the operator (all).
    package static func registryScope(_ viewer: Viewer) throws -> SQLQueryString {
        if viewer.seesAll { return "1 = 1" }
        guard viewer.role == .bank else { throw LedgerError(.forbidden, "the registry filing is for the financing bank, the regulator and the operator") }
        return "f.bank_id = \(bind: viewer.orgId.description)"
    }

    /// The approved (and paid) financings `viewer` files, in id order, a page at a time.
    package static func registryFiling(visibleTo viewer: Viewer, page: Page, on sql: any SQLDatabase) async throws -> Page.Rows<RegistryFiling> {
        var query: SQLQueryString = """
            SELECT f.id AS id, f.amount_fen, f.requested_on, s.name AS supplier_name, s.credit_code AS supplier_code,
                   b.name AS bank_name, b.credit_code AS bank_code, c.name AS core_name, c.credit_code AS core_code, r.number, r.due_date, r.face_fen, r.documents,
                   f.filing_number, f.filed_on, f.recourse, f.term_review_reason
            FROM financings f JOIN orgs s ON s.id = f.supplier_id JOIN orgs b ON b.id = f.bank_id JOIN receivables r ON r.id = f.receivable_id JOIN orgs c ON c.id = r.issuer_id
            WHERE f.status IN ('approved', 'paid') AND\u{20}
            """
        query += try registryScope(viewer)
        return try await page.rows(query, keys: ["f.id"], on: sql) { row in
            func s(_ c: String) throws -> String { try row.decode(column: c, as: String.self) }
            func optional(_ c: String) throws -> String? { try row.decodeNil(column: c) ? nil : try s(c) }
            let invoices = (try? JSON.parse(try s("documents")))?.arrayValue?.compactMap { $0["number"]?.stringValue } ?? []
            let filing = RegistryFiling(id: try s("id"), amountFen: try row.decode(column: "amount_fen", as: Int64.self), requestedOn: try s("requested_on"),
                                        supplierName: try s("supplier_name"), supplierCode: try s("supplier_code"), bankName: try s("bank_name"),
                                        bankCode: try s("bank_code"), coreName: try s("core_name"), coreCode: try s("core_code"), number: try s("number"),
                                        dueDate: try s("due_date"), faceFen: try row.decode(column: "face_fen", as: Int64.self), invoices: invoices,
                                        filingNumber: try optional("filing_number"), filedOn: try optional("filed_on"),
                                        recourse: try row.decode(column: "recourse", as: Int64.self) == 1, termReview: try optional("term_review_reason"))
            return (filing, [.string(filing.id)])
        }
    }
}
