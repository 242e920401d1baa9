import Foundation
import Ledger
import SQLKit

/// An org's people and API keys, for its admins and the operator.
package enum PeopleQueries {
    package struct Person: Sendable {
        package var id: String
        package var email: String
        package var name: String
        package var role: UserRole
        package var createdMs: Int64
        package var disabledMs: Int64?
        package var mustChangePassword: Bool

        /// As the API shows a person.
        package var json: JSON {
            guard case .object(var fields) = PeopleService.userJSON(id: id, email: email, name: name, role: role, createdMs: createdMs) else { return .null }
            fields["disabledAt"] = disabledMs.map { .string(Time.rfc3339($0)) } ?? .null
            fields["mustChangePassword"] = .bool(mustChangePassword)
            return .object(fields)
        }
    }

    package struct Key: Sendable {
        package var id: String
        package var name: String
        package var prefix: String
        package var userId: String
        package var createdMs: Int64
        package var revokedMs: Int64?

        /// As the API shows a key: never its secret, which is shown once when it is made.
        package var json: JSON {
            ["id": .string(id), "name": .string(name), "prefix": .string(prefix), "userId": .string(userId),
             "createdAt": .string(Time.rfc3339(createdMs)), "revokedAt": revokedMs.map { .string(Time.rfc3339($0)) } ?? .null]
        }
    }

    static let personColumns = "id, email, name, role, created_ms, disabled_ms, must_change_password"
    static let keyColumns = "id, name, prefix, user_id, created_ms, revoked_ms"

    static func person(_ row: any SQLRow) throws -> Person {
        Person(id: try row.decode(column: "id", as: String.self), email: try row.decode(column: "email", as: String.self),
               name: try row.decode(column: "name", as: String.self), role: UserRole(stored: try row.decode(column: "role", as: String.self)),
               createdMs: try row.decode(column: "created_ms", as: Int64.self), disabledMs: try row.decode(column: "disabled_ms", as: Int64?.self),
               mustChangePassword: try row.decode(column: "must_change_password", as: Int.self) != 0)
    }

    static func key(_ row: any SQLRow) throws -> Key {
        Key(id: try row.decode(column: "id", as: String.self), name: try row.decode(column: "name", as: String.self),
            prefix: try row.decode(column: "prefix", as: String.self), userId: try row.decode(column: "user_id", as: String.self),
            createdMs: try row.decode(column: "created_ms", as: Int64.self), revokedMs: try row.decode(column: "revoked_ms", as: Int64?.self))
    }

    /// The org's user `userId`, or 404: another org's user is not found here.
    package static func member(_ userId: String, of org: OrgID, on sql: any SQLDatabase) async throws -> Person {
        guard let row = try await sql.raw("SELECT \(unsafeRaw: personColumns) FROM users WHERE id = \(bind: userId) AND org_id = \(bind: org.description)").first() else {
            throw LedgerError(.notFound, "no such user in this organisation")
        }
        return try person(row)
    }

    /// The people of `org` by email, a page at a time: for its admins and the operator.
    package static func people(of org: OrgID, visibleTo viewer: Viewer, page: Page, on sql: any SQLDatabase) async throws -> Page.Rows<Person> {
        try PeopleService.requireAdminOrOperator(of: org, viewer)
        return try await page.rows("SELECT \(unsafeRaw: personColumns) FROM users WHERE org_id = \(bind: org.description)", keys: ["email"], on: sql) { row in
            let p = try person(row)
            return (p, [.string(p.email)])
        }
    }

    /// Every person of `org`, by email (an org has tens of them).
    package static func people(of org: OrgID, visibleTo viewer: Viewer, on sql: any SQLDatabase) async throws -> [Person] {
        try PeopleService.requireAdminOrOperator(of: org, viewer)
        return try await sql.raw("SELECT \(unsafeRaw: personColumns) FROM users WHERE org_id = \(bind: org.description) ORDER BY email").all().map(person)
    }

    /// The API keys of the viewer's org, by id, a page at a time: for its admins.
    package static func keys(visibleTo viewer: Viewer, page: Page, on sql: any SQLDatabase) async throws -> Page.Rows<Key> {
        try PeopleService.requireAdmin(of: viewer.orgId, viewer)
        return try await page.rows("SELECT \(unsafeRaw: keyColumns) FROM api_keys WHERE org_id = \(bind: viewer.orgId.description)", keys: ["id"], on: sql) { row in
            let k = try key(row)
            return (k, [.string(k.id)])
        }
    }

    /// One API key of the viewer's org.
    package static func key(_ id: String, visibleTo viewer: Viewer, on sql: any SQLDatabase) async throws -> Key? {
        try await sql.raw("SELECT \(unsafeRaw: keyColumns) FROM api_keys WHERE id = \(bind: id) AND org_id = \(bind: viewer.orgId.description)").first().map(key)
    }
}
