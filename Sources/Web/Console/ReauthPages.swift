import Core
import Foundation
import Ledger
import Leaf
import SQLKit
import Vapor

/// Giving one's password (and code) again before changing people: a session that signed in a
/// while ago is sent here first, and back to where it was.
package enum ReauthPages: ConsoleArea {
    package struct ReauthPage: Encodable {
        package var back: String
        package var needsCode: Bool
    }

    package static func ask(back: String) -> Response {
        redirect("/reauth?back=\(back.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "/")")
    }

    package static func page(_ req: Request, back: String, status: HTTPResponseStatus = .ok, error: String? = nil) async throws -> Response {
        let caller = try req.auth.require(Caller.self)
        let needsCode = try await TwoFactor.isEnabled(userId: caller.userId, on: req.application.sql) == true
        return try await render(req, "common/reauth", title: "reauth_title", page: ReauthPage(back: SignInPages.localPath(back), needsCode: needsCode),
                                status: status, error: error)
    }

    @Sendable package static func show(req: Request) async throws -> Response {
        try await page(req, back: req.query[String.self, at: "back"] ?? "/dashboard")
    }

    @Sendable package static func confirm(req: Request) async throws -> Response {
        let caller = try req.auth.require(Caller.self)
        let values = form(req)
        let back = SignInPages.localPath(values["back"])
        guard let session = req.storage[SessionSecretKey.self] else { return redirect("/login") }
        do {
            try await SignInService.confirmIdentity(caller, password: values["password"] ?? "", otp: values["code"], session: session,
                                                    address: req.remoteAddress?.ipAddress, app: req.application)
        } catch let problem as LedgerError where problem.code.httpStatus == 401 || problem.code.httpStatus == 429 {
            return try await page(req, back: back, status: HTTPResponseStatus(statusCode: problem.code.httpStatus), error: req.tr(problem.code.httpStatus == 429 ? "error_rate_limited" : "reauth_wrong"))
        }
        return redirect(back)
    }
}
