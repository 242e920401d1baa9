import Core
import Foundation
import Ledger
import Leaf
import SQLKit
import Vapor

/// Signing in and out, and the language switch.
package enum SignInPages: ConsoleArea {
    package struct LoginPage: Encodable {
        package var email: String
    }

    @Sendable package static func home(req: Request) async throws -> Response {
        Response(status: .seeOther, headers: ["Location": req.auth.has(Caller.self) ? "/dashboard" : "/login"])
    }

    @Sendable package static func loginForm(req: Request) async throws -> Response {
        if req.auth.has(Caller.self) { return redirect("/dashboard") }
        return try await loginPage(req, email: "", error: nil, status: .ok)
    }

    package static func loginPage(_ req: Request, email: String, error: String?, status: HTTPResponseStatus) async throws -> Response {
        try await withPreSession(req) {
            try await render(req, "common/login", title: "login_title", page: LoginPage(email: email), status: status, error: error)
        }
    }

    /// A page with a form for visitors not signed in: its CSRF token is a random value kept in a
    /// cookie too (double submit), made on the first visit.
    @Sendable package static func login(req: Request) async throws -> Response {
        let form = form(req)
        let email = String((form["email"] ?? "").prefix(254)), password = String((form["password"] ?? "").prefix(200))
        let outcome: SignInService.Outcome
        do {
            outcome = try await SignInService.attempt(email: email, password: password, address: req.remoteAddress?.ipAddress, via: "console", app: req.application)
        } catch let stopped as LedgerError where stopped.code.httpStatus == 403 {
            // The right password, for a suspended org or a disabled person.
            return try await loginPage(req, email: email, error: stopped.message, status: .forbidden)
        }
        switch outcome {
        case .throttled: return try await loginPage(req, email: email, error: req.tr("error_rate_limited"), status: .tooManyRequests)
        case .wrong: return try await loginPage(req, email: email, error: req.tr("login_failed"), status: .unauthorized)
        case .otpRequired(let userId):
            let challenge = try TwoFactor.challenge(userId: userId, nowMs: req.application.wallClock.nowMs(), app: req.application)
            return try await codePage(req, challenge: challenge, error: nil, status: .ok)
        case .signedIn(let token, _, _): return signedIn(req, token: token)
        }
    }

    package struct CodePage: Encodable {
        package var challenge: String
    }

    /// The second step: the code, for the user whose password was right a moment ago.
    package static func codePage(_ req: Request, challenge: String, error: String?, status: HTTPResponseStatus) async throws -> Response {
        try await withPreSession(req) {
            try await render(req, "common/code", title: "code_title", page: CodePage(challenge: challenge), status: status, error: error)
        }
    }

    @Sendable package static func code(req: Request) async throws -> Response {
        let form = form(req)
        let challenge = String((form["challenge"] ?? "").prefix(200)), code = String((form["code"] ?? "").prefix(32))
        let outcome: SignInService.Outcome
        do {
            outcome = try await SignInService.secondStep(challenge: challenge, code: code, address: req.remoteAddress?.ipAddress, via: "console", app: req.application)
        } catch let stopped as LedgerError where stopped.code.httpStatus == 403 {
            return try await loginPage(req, email: "", error: stopped.message, status: .forbidden)
        }
        switch outcome {
        case .throttled: return try await codePage(req, challenge: challenge, error: req.tr("error_rate_limited"), status: .tooManyRequests)
        case .wrong, .otpRequired:
            guard try TwoFactor.user(ofChallenge: challenge, nowMs: req.application.wallClock.nowMs(), app: req.application) != nil else {
                return try await loginPage(req, email: "", error: req.tr("code_expired"), status: .unauthorized)
            }
            return try await codePage(req, challenge: challenge, error: req.tr("code_wrong"), status: .unauthorized)
        case .signedIn(let token, _, _): return signedIn(req, token: token)
        }
    }

    package static func signedIn(_ req: Request, token: String) -> Response {
        let response = redirect("/dashboard")
        ConsoleSession.setCookie(ConsoleSession.cookie, token, on: response, req: req, maxAge: Int(SessionPolicy.configured.lifetimeMs / 1000))
        return response
    }

    @Sendable package static func logout(req: Request) async throws -> Response {
        if let token = req.storage[SessionSecretKey.self] { try await Accounts(sql: req.application.sql).logout(token: token) }
        let response = redirect("/login")
        response.cookies[ConsoleSession.cookie] = HTTPCookies.Value(string: "", expires: Date(timeIntervalSince1970: 0), maxAge: 0, path: "/",
                                                                    isSecure: req.isSecure, isHTTPOnly: true, sameSite: .lax)
        return response
    }

    /// `back` when it is a path on this site, "/" otherwise. Browsers read `\` as `/`, so `/\evil`
    /// is `//evil`, another site: a path here starts with one `/` and holds no backslash, no
    /// control character and no space.
    package static func localPath(_ back: String?) -> String {
        guard let back, back.hasPrefix("/"), !back.hasPrefix("//"),
              !back.unicodeScalars.contains(where: { $0 == "\\" || $0.value <= 0x20 || $0.value == 0x7F || (0x80...0x9F).contains($0.value) })
        else { return "/" }
        return back
    }

    @Sendable package static func language(req: Request) async throws -> Response {
        let lang = req.parameters.get("lang") ?? "zh"
        guard Translations.languages.contains(lang) else { throw Problem(.notFound, "no such language") }
        let response = redirect(localPath(req.query[String.self, at: "back"]))
        response.cookies["lang"] = HTTPCookies.Value(string: lang, maxAge: 365 * 86_400, path: "/", isSecure: req.isSecure, isHTTPOnly: true, sameSite: .lax)
        return response
    }
}
