import Foundation
import Ledger
import Leaf
import SQLKit
import Vapor

/// An org's people (its admins, the operator).
enum PeoplePages: ConsoleArea {
    struct UserRow: Encodable {
        var id: String
        var email: String
        var name: String
        var role: String
        var roleName: String
        var createdAt: String
        var disabled: Bool
        var isSelf: Bool
    }

    struct UsersPage: Encodable {
        var orgId: String
        var orgName: String
        var users: [UserRow]
        var form: FormState
        /// Only the org's own admins add people; the operator sees them.
        var canAdd: Bool
        var roles: [Choice]
    }

    @Sendable static func users(req: Request) async throws -> Response { try await usersPage(req, form: FormState(), error: nil) }

    static func usersPage(_ req: Request, form: FormState, error: String?, notice: String? = nil) async throws -> Response {
        let viewer = try await viewer(req)
        let org = try req.orgIdParameter()
        try PeopleService.requireAdminOrOperator(of: org, viewer)
        let name = try await OrgController.find(org, on: req.application.sql)["name"]?.stringValue ?? ""
        let users = try await req.application.sql.raw("SELECT id, email, name, role, created_ms, disabled_ms FROM users WHERE org_id = \(bind: org.description) ORDER BY email").all().map {
            UserRow(id: try $0.decode(column: "id", as: String.self), email: try $0.decode(column: "email", as: String.self), name: try $0.decode(column: "name", as: String.self),
                    role: req.tr("user_\(UserRole(stored: try $0.decode(column: "role", as: String.self)).rawValue)"),
                    roleName: UserRole(stored: try $0.decode(column: "role", as: String.self)).rawValue, createdAt: Time.local(try $0.decode(column: "created_ms", as: Int64.self)),
                    disabled: try $0.decode(column: "disabled_ms", as: Int64?.self) != nil, isSelf: try $0.decode(column: "id", as: String.self) == viewer.caller.userId)
        }
        return try await render(req, "operator/users", title: "users_title", page: UsersPage(orgId: org.description, orgName: name, users: users, form: form,
                                                                                  canAdd: (try? PeopleService.requireAdmin(of: org, viewer)) != nil,
                                                                                  roles: UserRole.allCases.map { Choice(value: $0.rawValue, label: req.tr("user_\($0.rawValue)")) }),
                                status: error == nil ? .ok : form.httpStatus, notice: notice ?? Self.notice(req), error: error)
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
        } catch is ReauthenticationRequired {
            return ReauthPages.ask(back: "/orgs/\(org)/users")
        } catch {
            let (message, state) = try formError(req, error, values: values.filter { $0.key != "password" })
            return try await usersPage(req, form: state, error: message)
        }
    }

    /// The admin's buttons on each person: disable or enable, end their sessions, reset their
    /// password (the temporary one is shown on the page, once).
    @Sendable static func personAction(req: Request) async throws -> Response {
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
                _ = try await PeopleService.setRole(user, to: role, in: org, by: viewer, app: app, address: address)
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
        } catch let problem as Problem where problem.status == 403 {
            return try await ConsolePages.error(req, status: .forbidden, code: .forbidden, detail: problem.detail)
        }
    }
}

/// Changing one's own password; a session opened with a temporary one goes nowhere else first.
enum PasswordPages: ConsoleArea {
    struct PasswordPage: Encodable {
        var temporary: Bool
    }

    @Sendable static func form(req: Request) async throws -> Response {
        let caller = try req.auth.require(Caller.self)
        return try await render(req, "common/password", title: "password_title", page: PasswordPage(temporary: caller.mustChangePassword))
    }

    @Sendable static func change(req: Request) async throws -> Response {
        let caller = try req.auth.require(Caller.self)
        let values = form(req)
        do {
            try await PeopleService.changePassword(of: caller, current: values["currentPassword"] ?? "", new: values["newPassword"] ?? "",
                                                   keeping: req.storage[SessionTokenKey.self], app: req.application, address: req.remoteAddress?.ipAddress)
            return redirect("/dashboard", notice: "password_changed")
        } catch let error as LedgerError {
            return try await render(req, "common/password", title: "password_title", page: PasswordPage(temporary: caller.mustChangePassword),
                                    status: .unprocessableEntity, error: error.fields.first.map { "\(req.tr("new_password")): \($0.message)" } ?? error.message)
        } catch let problem as Problem where problem.status == 401 {
            return try await render(req, "common/password", title: "password_title", page: PasswordPage(temporary: caller.mustChangePassword),
                                    status: .unauthorized, error: req.tr("password_wrong"))
        }
    }
}

/// Setting up one's own second factor: a new secret with its URI and recovery codes, shown once,
/// then confirmed with a first code. The password is asked again first.
enum TwoFactorPages: ConsoleArea {
    struct TwoFactorPage: Encodable {
        var required: Bool
        var enabled: Bool
        var pending: Bool
        var secret: String?
        var uri: String?
        var recoveryCodes: [String] = []
    }

    static func page(_ req: Request, enrolment: TwoFactor.Enrolment? = nil, status: HTTPResponseStatus = .ok, notice: String? = nil, error: String? = nil) async throws -> Response {
        let caller = try req.auth.require(Caller.self)
        let state = try await TwoFactor.isEnabled(userId: caller.userId, on: req.application.sql)
        return try await render(req, "common/two_factor", title: "two_factor_title",
                                page: TwoFactorPage(required: caller.mustEnrolTwoFactor, enabled: state == true, pending: state == false,
                                                    secret: enrolment?.secret, uri: enrolment?.uri, recoveryCodes: enrolment?.recoveryCodes ?? []),
                                status: status, notice: notice, error: error)
    }

    @Sendable static func show(req: Request) async throws -> Response { try await page(req) }

    @Sendable static func enrol(req: Request) async throws -> Response {
        let caller = try req.auth.require(Caller.self)
        do {
            try await SignInService.checkPassword(caller, password: form(req)["password"] ?? "", address: req.remoteAddress?.ipAddress, app: req.application)
        } catch let problem as Problem where problem.status == 401 {
            return try await page(req, status: .unauthorized, error: req.tr("password_wrong"))
        }
        let enrolment = try await TwoFactor.enrol(caller, address: req.remoteAddress?.ipAddress, app: req.application)
        return try await page(req, enrolment: enrolment)
    }

    @Sendable static func confirm(req: Request) async throws -> Response {
        let caller = try req.auth.require(Caller.self)
        guard try await TwoFactor.confirm(caller, code: form(req)["code"] ?? "", address: req.remoteAddress?.ipAddress, app: req.application) else {
            return try await page(req, status: .unprocessableEntity, error: req.tr("code_wrong"))
        }
        return redirect("/dashboard", notice: "two_factor_confirmed")
    }
}

/// Giving one's password (and code) again before changing people: a session that signed in a
/// while ago is sent here first, and back to where it was.
enum ReauthPages: ConsoleArea {
    struct ReauthPage: Encodable {
        var back: String
        var needsCode: Bool
    }

    static func ask(back: String) -> Response {
        redirect("/reauth?back=\(back.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "/")")
    }

    static func page(_ req: Request, back: String, status: HTTPResponseStatus = .ok, error: String? = nil) async throws -> Response {
        let caller = try req.auth.require(Caller.self)
        let needsCode = try await TwoFactor.isEnabled(userId: caller.userId, on: req.application.sql) == true
        return try await render(req, "common/reauth", title: "reauth_title", page: ReauthPage(back: SignInPages.localPath(back), needsCode: needsCode),
                                status: status, error: error)
    }

    @Sendable static func show(req: Request) async throws -> Response {
        try await page(req, back: req.query[String.self, at: "back"] ?? "/dashboard")
    }

    @Sendable static func confirm(req: Request) async throws -> Response {
        let caller = try req.auth.require(Caller.self)
        let values = form(req)
        let back = SignInPages.localPath(values["back"])
        guard let session = req.storage[SessionTokenKey.self] else { return redirect("/login") }
        do {
            try await SignInService.confirmIdentity(caller, password: values["password"] ?? "", otp: values["code"], session: session,
                                                    address: req.remoteAddress?.ipAddress, app: req.application)
        } catch let problem as Problem where problem.status == 401 || problem.status == 429 {
            return try await page(req, back: back, status: HTTPResponseStatus(statusCode: Int(problem.status)), error: req.tr(problem.status == 429 ? "error_rate_limited" : "reauth_wrong"))
        }
        return redirect(back)
    }
}
