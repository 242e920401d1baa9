import Core
import Foundation
import Ledger
import Leaf
import SQLKit
import Vapor

/// An org's people (its admins, the operator).
package enum PeoplePages: ConsoleArea {
    package struct UserRow: Encodable {
        package var id: String
        package var email: String
        package var name: String
        package var role: String
        package var roleName: String
        package var createdAt: String
        package var disabled: Bool
        package var isSelf: Bool
    }

    package struct UsersPage: Encodable {
        package var orgId: String
        package var orgName: String
        package var users: [UserRow]
        package var form: FormState
        /// Only the org's own admins add people; the operator sees them.
        package var canAdd: Bool
        package var roles: [Choice]
    }

    @Sendable package static func users(req: Request) async throws -> Response { try await usersPage(req, form: FormState(), error: nil) }

    package static func usersPage(_ req: Request, form: FormState, error: String?, notice: String? = nil) async throws -> Response {
        let viewer = try await viewer(req)
        let org = try req.orgIdParameter()
        try PeopleService.requireAdminOrOperator(of: org, viewer)
        let name = try await OrgQueries.find(org, on: req.application.sql)["name"]?.stringValue ?? ""
        let people = try await PeopleQueries.people(of: org, visibleTo: viewer, on: req.application.sql)
        let page = model(org, name: name, people: people, me: viewer.caller.userId, canAdd: (try? PeopleService.requireAdmin(of: org, viewer)) != nil, form: form,
                         presenter: try await Presenter.make(req))
        return try await render(req, "operator/users", title: "users_title", page: page,
                                status: error == nil ? .ok : form.httpStatus, notice: notice ?? Self.notice(req), error: error)
    }

    /// An org's people, the signed-in person (`me`) marked, and the roles a new person may have.
    package static func model(_ org: OrgID, name: String, people: [PeopleQueries.Person], me: String, canAdd: Bool, form: FormState, presenter p: Presenter) -> UsersPage {
        UsersPage(orgId: org.description, orgName: name,
                  users: people.map {
                      UserRow(id: $0.id, email: $0.email, name: $0.name, role: p.tr("user_\($0.role.rawValue)"), roleName: $0.role.rawValue,
                              createdAt: Time.local($0.createdMs), disabled: $0.disabledMs != nil, isSelf: $0.id == me)
                  },
                  form: form, canAdd: canAdd, roles: UserRole.allCases.map { Choice(value: $0.rawValue, label: p.tr("user_\($0.rawValue)")) })
    }

    @Sendable package static func addUser(req: Request) async throws -> Response {
        let viewer = try await viewer(req)
        let org = try req.orgIdParameter()
        let values = form(req)
        do {
            try UserController.requireAdmin(of: org, viewer)
            var fields: [JSONKey: JSON] = [:]
            for key in ["email", "name", "password", "role"] { fields[key] = .string(values[key] ?? "") }
            let made = try await NewUser(StrictBody(fields: fields, path: "", allowed: ["email", "name", "password", "role"])).create(in: org, by: viewer, app: req.application, address: req.remoteAddress?.ipAddress)
            if let held = made["approval"]?["id"]?.stringValue { return redirect("/approvals/\(held)", notice: "held") }
            return redirect("/orgs/\(org)/users", notice: "user_added")
        } catch is ReauthenticationRequired {
            return ReauthPages.ask(back: "/orgs/\(org)/users")
        } catch {
            let (message, state) = try formError(req, error, values: values.filter { $0.key != "password" })
            return try await usersPage(req, form: state, error: message)
        }
    }

    /// The admin's buttons on each person: disable or enable, end their sessions, reset their
    /// password (the temporary one is shown on the page, once).
    @Sendable package static func personAction(req: Request) async throws -> Response {
        let viewer = try await viewer(req)
        let (org, user) = try UserController.orgAndUser(req)
        let app = req.application, address = req.remoteAddress?.ipAddress
        do {
            switch req.parameters.get("action") {
            case "disable": _ = try await PeopleService.setDisabled(user, true, in: org, by: viewer, app: app, address: address)
            case "enable": _ = try await PeopleService.setDisabled(user, false, in: org, by: viewer, app: app, address: address)
            case "end-sessions": _ = try await PeopleService.endSessions(user, in: org, by: viewer, app: app, address: address)
            case "role":
                guard let role = form(req)["role"].flatMap(UserRole.init(rawValue:)) else { throw Problem(.forbidden, "choose a role") }
                if let held = try await PeopleService.setRole(user, to: role, in: org, by: viewer, app: app, address: address).held {
                    return redirect("/approvals/\(held.id)", notice: "held")
                }
            case "reset-password":
                let (json, temporary) = try await PeopleService.resetPassword(user, in: org, by: viewer, app: app, address: address)
                let email = json["email"]?.stringValue ?? ""
                return try await usersPage(req, form: FormState(), error: nil,
                                           notice: req.tr("temporary_password_notice").replacingOccurrences(of: "{email}", with: email).replacingOccurrences(of: "{password}", with: temporary))
            default: throw Problem(.notFound, "no such action")
            }
            return redirect("/orgs/\(org)/users", notice: "person_\(req.parameters.get("action")!.replacingOccurrences(of: "-", with: "_"))")
        } catch is ReauthenticationRequired {
            return ReauthPages.ask(back: "/orgs/\(org)/users")
        } catch let problem as LedgerError where problem.code.httpStatus == 403 {
            return try await ConsolePages.error(req, status: .forbidden, code: .forbidden, detail: problem.message)
        }
    }
}
