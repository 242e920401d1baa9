import Core
import Foundation
import Ledger
import Leaf
import SQLKit
import Vapor

/// Setting up one's own second factor: a new secret with its URI and recovery codes, shown once,
/// then confirmed with a first code. The password is asked again first.
package enum TwoFactorPages: ConsoleArea {
    package struct TwoFactorPage: Encodable {
        package var required: Bool
        package var enabled: Bool
        package var pending: Bool
        package var secret: String?
        package var uri: String?
        package var recoveryCodes: [String] = []
    }

    package static func page(_ req: Request, enrolment: TwoFactor.Enrolment? = nil, status: HTTPResponseStatus = .ok, notice: String? = nil, error: String? = nil) async throws -> Response {
        let caller = try req.auth.require(Caller.self)
        let state = try await TwoFactor.isEnabled(userId: caller.userId, on: req.application.sql)
        return try await render(req, "common/two_factor", title: "two_factor_title",
                                page: TwoFactorPage(required: caller.mustEnrolTwoFactor, enabled: state == true, pending: state == false,
                                                    secret: enrolment?.secret, uri: enrolment?.uri, recoveryCodes: enrolment?.recoveryCodes ?? []),
                                status: status, notice: notice, error: error)
    }

    @Sendable package static func show(req: Request) async throws -> Response { try await page(req) }

    @Sendable package static func enrol(req: Request) async throws -> Response {
        let caller = try req.auth.require(Caller.self)
        do {
            try await SignInService.checkPassword(caller, password: form(req)["password"] ?? "", address: req.remoteAddress?.ipAddress, app: req.application)
        } catch let problem as LedgerError where problem.code.httpStatus == 401 {
            return try await page(req, status: .unauthorized, error: req.tr("password_wrong"))
        }
        let enrolment = try await TwoFactor.enrol(caller, address: req.remoteAddress?.ipAddress, app: req.application)
        return try await page(req, enrolment: enrolment)
    }

    @Sendable package static func confirm(req: Request) async throws -> Response {
        let caller = try req.auth.require(Caller.self)
        guard try await TwoFactor.confirm(caller, code: form(req)["code"] ?? "", address: req.remoteAddress?.ipAddress, app: req.application) else {
            return try await page(req, status: .unprocessableEntity, error: req.tr("code_wrong"))
        }
        return redirect("/dashboard", notice: "two_factor_confirmed")
    }
}
