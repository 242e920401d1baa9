import Foundation
import Ledger
import Leaf
import SQLKit
import Vapor

/// An org's people (its admins, the operator).
enum PeoplePages: ConsoleArea {
    struct UserRow: Encodable {
        var email: String
        var name: String
        var role: String
        var createdAt: String
    }

    struct UsersPage: Encodable {
        var orgId: String
        var orgName: String
        var users: [UserRow]
        var form: FormState
        /// Only the org's own admins add people; the operator sees them.
        var canAdd: Bool
    }

    @Sendable static func users(req: Request) async throws -> Response { try await usersPage(req, form: FormState(), error: nil) }

    static func usersPage(_ req: Request, form: FormState, error: String?) async throws -> Response {
        let viewer = try await viewer(req)
        let org = try req.orgIdParameter()
        try PeopleService.requireAdminOrOperator(of: org, viewer)
        let name = try await OrgController.find(org, on: req.application.sql)["name"]?.stringValue ?? ""
        let users = try await req.application.sql.raw("SELECT email, name, role, created_ms FROM users WHERE org_id = \(bind: org.description) ORDER BY email").all().map {
            UserRow(email: try $0.decode(column: "email", as: String.self), name: try $0.decode(column: "name", as: String.self),
                    role: req.tr("user_\(try $0.decode(column: "role", as: String.self))"), createdAt: Time.local(try $0.decode(column: "created_ms", as: Int64.self)))
        }
        return try await render(req, "operator/users", title: "users_title", page: UsersPage(orgId: org.description, orgName: name, users: users, form: form,
                                                                                  canAdd: (try? PeopleService.requireAdmin(of: org, viewer)) != nil),
                                status: error == nil ? .ok : form.httpStatus, notice: notice(req), error: error)
    }

    @Sendable static func addUser(req: Request) async throws -> Response {
        let viewer = try await viewer(req)
        let org = try req.orgIdParameter()
        let values = form(req)
        do {
            try UserController.requireAdmin(of: org, viewer)
            var fields: [JSONKey: JSON] = [:]
            for key in ["email", "name", "password", "role"] { fields[key] = .string(values[key] ?? "") }
            _ = try await NewUser(StrictBody(fields: fields, path: "", allowed: ["email", "name", "password", "role"])).create(in: org, by: viewer, app: req.application, address: req.remoteAddress?.ipAddress)
            return redirect("/orgs/\(org)/users", notice: "user_added")
        } catch {
            let (message, state) = try formError(req, error, values: values.filter { $0.key != "password" })
            return try await usersPage(req, form: state, error: message)
        }
    }
}
