import Foundation
import Ledger
import SQLKit

/// The orgs the chain registered. Every signed-in org may know the others' names and roles.
package enum OrgQueries {
    static let columns = "id, name, role, credit_code, status"

    /// An org as the API shows it; an id no org has is not found.
    package static func find(_ id: OrgID, on sql: any SQLDatabase) async throws -> JSON {
        guard let row = try await sql.raw("SELECT \(unsafeRaw: columns) FROM orgs WHERE id = \(bind: id.description)").first() else {
            throw LedgerError(.notFound, "no such organisation")
        }
        return try RowReader(row, "orgs").org
    }

    /// The role the chain registered for an org that exists.
    package static func role(of id: OrgID, on sql: any SQLDatabase) async throws -> OrgRole {
        guard let role = try await find(id, on: sql)["role"]?.stringValue.flatMap(OrgRole.init(rawValue:)) else { throw StoreDamage("org \(id) role") }
        return role
    }

    /// Orgs by name, a page at a time, of one role or all.
    package static func list(role: OrgRole?, page: Page, on sql: any SQLDatabase) async throws -> Page.Rows<JSON> {
        var query: SQLQueryString = "SELECT \(unsafeRaw: columns) FROM orgs WHERE 1 = 1"
        if let role { query += " AND role = \(bind: role.rawValue)" }
        return try await page.rows(query, keys: ["name", "id"], on: sql) { row in
            let org = try RowReader(row, "orgs").org
            return (org, [org["name"]!, org["id"]!])
        }
    }

    /// Every org, by role and then name (the operator's list: a platform has tens of them).
    package static func all(on sql: any SQLDatabase) async throws -> [JSON] {
        try await sql.raw("SELECT \(unsafeRaw: columns) FROM orgs ORDER BY role, name").all().map { try RowReader($0, "orgs").org }
    }
}
