import Core
import Foundation
import Ledger
import Leaf
import SQLKit
import Vapor

/// Organisations: the list, registration and suspension (operator).
package enum OrgPages: ConsoleArea {
    package struct OrgView: Encodable {
        package var id: String
        package var name: String
        package var role: String
        package var roleLabel: String
        package var creditCode: String
        package var status: String
        package var statusLabel: String
    }

    package struct OrgsPage: Encodable {
        package var orgs: [OrgView]
        package var isOperator: Bool
        package var form: FormState
    }

    @Sendable package static func orgs(req: Request) async throws -> Response { try await orgsPage(req, form: FormState(), error: nil) }

    package static func orgsPage(_ req: Request, form: FormState, error: String?) async throws -> Response {
        let viewer = try await viewer(req)
        let page = model(try await OrgQueries.all(on: req.application.sql), isOperator: viewer.role == .operator, form: form, presenter: try await Presenter.make(req))
        return try await render(req, "operator/orgs", title: "nav_orgs", page: page,
                                status: error == nil ? .ok : form.httpStatus, notice: notice(req), error: error)
    }

    /// Every org (as the API shows one), with the operator's forms.
    package static func model(_ orgs: [JSON], isOperator: Bool, form: FormState, presenter p: Presenter) -> OrgsPage {
        OrgsPage(orgs: orgs.map { o in
            let role = o["role"]?.stringValue ?? "", status = o["status"]?.stringValue ?? ""
            return OrgView(id: o["id"]?.stringValue ?? "", name: o["name"]?.stringValue ?? "", role: role, roleLabel: p.tr("role_\(role)"),
                           creditCode: o["creditCode"]?.stringValue ?? "", status: status, statusLabel: p.tr("status_\(status)"))
        }, isOperator: isOperator, form: form)
    }

    @Sendable package static func setOrgStatus(req: Request) async throws -> Response {
        let id = try req.orgIdParameter()
        let status: OrgStatus = req.url.path.hasSuffix("/suspend") ? .suspended : .active
        return try await act(req, action: "status", next: "/orgs", done: status == .suspended ? "suspended" : "activated",
                             page: { try await orgsPage(req, form: $0, error: $1) }) { viewer, _ in
            _ = try await OnboardingService.setStatus(of: id, to: status, by: viewer, app: req.application, address: req.remoteAddress?.ipAddress)
        }
    }

    @Sendable package static func registerOrg(req: Request) async throws -> Response {
        let viewer = try await viewer(req)
        let values = form(req)
        do {
            var fields: [JSONKey: JSON] = [:]
            for key in ["name", "role", "creditCode"] { fields[key] = .string(values[key] ?? "") }
            var admin: NewUser?
            if let email = values["adminEmail"], !email.isEmpty {
                admin = try NewUser(StrictBody(fields: ["email": .string(email), "name": .string(values["adminName"] ?? ""), "password": .string(values["adminPassword"] ?? "")],
                                               path: "admin", allowed: ["email", "name", "password"]))
            }
            _ = try await OnboardingService.register(StrictBody(fields: fields, path: "", allowed: ["name", "role", "creditCode"]), admin: admin, by: viewer,
                                                     app: req.application, address: req.remoteAddress?.ipAddress)
            return redirect("/orgs", notice: "registered")
        } catch {
            var (message, state) = try formError(req, error, values: values.filter { $0.key != "adminPassword" },
                                                 fieldNames: ["payload.creditCode": "creditCode", "creditCode": "creditCode", "payload.name": "name", "admin.email": "adminEmail",
                                                              "admin.name": "adminName", "admin.password": "adminPassword", "email": "adminEmail"])
            if state.errors.isEmpty, (error as? LedgerError)?.code == .validationFailed { state.errors["creditCode"] = (error as? LedgerError)?.message }
            return try await orgsPage(req, form: state, error: message)
        }
    }
}
