import Core
import Foundation
import Ledger
import Leaf
import SQLKit
import Vapor

/// Changing one's own password; a session opened with a temporary one goes nowhere else first.
package enum PasswordPages: ConsoleArea {
    package struct PasswordPage: Encodable {
        package var temporary: Bool
    }

    @Sendable package static func form(req: Request) async throws -> Response {
        let caller = try req.auth.require(Caller.self)
        return try await render(req, "common/password", title: "password_title", page: PasswordPage(temporary: caller.mustChangePassword))
    }

    @Sendable package static func change(req: Request) async throws -> Response {
        let caller = try req.auth.require(Caller.self)
        let values = form(req)
        do {
            try await PeopleService.changePassword(of: caller, current: values["currentPassword"] ?? "", new: values["newPassword"] ?? "",
                                                   keeping: req.storage[SessionSecretKey.self], app: req.application, address: req.remoteAddress?.ipAddress)
            return redirect("/dashboard", notice: "password_changed")
        } catch let problem as LedgerError where problem.code.httpStatus == 401 {
            return try await render(req, "common/password", title: "password_title", page: PasswordPage(temporary: caller.mustChangePassword),
                                    status: .unauthorized, error: req.tr("password_wrong"))
        } catch let error as LedgerError {
            return try await render(req, "common/password", title: "password_title", page: PasswordPage(temporary: caller.mustChangePassword),
                                    status: .unprocessableEntity, error: error.fields.first.map { "\(req.tr("new_password")): \($0.message)" } ?? error.message)
        }
    }
}
