import Foundation
import Ledger
import SQLKit

/// The orgs the chain registered. Every signed-in org may know the others' names and roles.
package enum OrgQueries {
    static let columns = "id, name, role, credit_code, status, in_default, default_reason"

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

    /// An org's name, role and status as the chain registered them; nil for an org it does not know.
    package static func summary(of id: OrgID, on sql: any SQLDatabase) async throws -> (name: String, role: String, status: String)? {
        try await sql.raw("SELECT name, role, status FROM orgs WHERE id = \(bind: id.description)").first().map {
            (try $0.decode(column: "name", as: String.self), try $0.decode(column: "role", as: String.self), try $0.decode(column: "status", as: String.self))
        }
    }

    /// The orgs of a role, by name, with their ids: what a form may name.
    package static func named(role: OrgRole, activeOnly: Bool, on sql: any SQLDatabase) async throws -> [(id: String, name: String)] {
        var query: SQLQueryString = "SELECT id, name FROM orgs WHERE role = \(bind: role.rawValue)"
        if activeOnly { query += " AND status = 'active'" }
        query += " ORDER BY name"
        return try await sql.raw(query).all().map { (try $0.decode(column: "id", as: String.self), try $0.decode(column: "name", as: String.self)) }
    }

    /// The platform's policy as the chain set it last (nil before any).
    package static func policy(on sql: any SQLDatabase) async throws -> JSON? {
        guard let row = try await sql.raw("SELECT body FROM policy WHERE id = 1").first() else { return nil }
        return try JSON.parse(try row.decode(column: "body", as: String.self))
    }

    /// The first org of a role, by id: the operator (there is one), the regulator an observer's
    /// local sign-in is bound to.
    package static func first(_ role: OrgRole, on sql: any SQLDatabase) async throws -> OrgID? {
        try await sql.raw("SELECT id FROM orgs WHERE role = \(bind: role.rawValue) ORDER BY id").first()
            .flatMap { OrgID(try $0.decode(column: "id", as: String.self)) }
    }

    /// The org of the user with this email, if there is one.
    package static func org(ofUserWithEmail email: String, on sql: any SQLDatabase) async throws -> OrgID? {
        try await sql.raw("SELECT org_id FROM users WHERE email = \(bind: email.lowercased())").first()
            .flatMap { OrgID(try $0.decode(column: "org_id", as: String.self)) }
    }
}
