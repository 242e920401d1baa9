import Foundation
import Ledger
import Leaf
import SQLKit
import Vapor

/// Signing in and out, and the language switch.
enum SignInPages: ConsoleArea {
    struct LoginPage: Encodable {
        var email: String
    }

    @Sendable static func home(req: Request) async throws -> Response {
        Response(status: .seeOther, headers: ["Location": req.auth.has(Caller.self) ? "/dashboard" : "/login"])
    }

    @Sendable static func loginForm(req: Request) async throws -> Response {
        if req.auth.has(Caller.self) { return redirect("/dashboard") }
        return try await loginPage(req, email: "", error: nil, status: .ok)
    }

    static func loginPage(_ req: Request, email: String, error: String?, status: HTTPResponseStatus) async throws -> Response {
        try await withPreSession(req) {
            try await render(req, "common/login", title: "login_title", page: LoginPage(email: email), status: status, error: error)
        }
    }

    /// A page with a form for visitors not signed in: its CSRF token is a random value kept in a
    /// cookie too (double submit), made on the first visit.
    @Sendable static func login(req: Request) async throws -> Response {
        let form = form(req)
        let email = String((form["email"] ?? "").prefix(254)), password = String((form["password"] ?? "").prefix(200))
        let app = req.application, now = app.wallClock.nowMs(), address = req.remoteAddress?.ipAddress
        let keys = LoginThrottle.keys(email: email, address: address)
        if await app.loginThrottle.retryAfter(keys, nowMs: now) != nil {
            try await AuditLog.record(AuditLog.Entry(action: "login.throttled", email: email.lowercased(), address: address, detail: "console"), nowMs: now, on: app.sql)
            return try await loginPage(req, email: email, error: req.tr("error_rate_limited"), status: .tooManyRequests)
        }
        guard let session = try await Accounts(sql: app.sql).login(email: email, password: password, nowMs: now) else {
            await app.loginThrottle.failed(keys, nowMs: now)
            try await AuditLog.record(AuditLog.Entry(action: "login.failed", email: email.lowercased(), address: address, detail: "console"), nowMs: now, on: app.sql)
            return try await loginPage(req, email: email, error: req.tr("login_failed"), status: .unauthorized)
        }
        await app.loginThrottle.succeeded(keys)
        try await AuditLog.record(AuditLog.Entry(action: "login", orgId: session.caller.orgId, userId: session.caller.userId, email: session.caller.email,
                                                 address: address, detail: "console"), nowMs: now, on: app.sql)
        let response = redirect("/dashboard")
        ConsoleSession.setCookie(ConsoleSession.cookie, session.token, on: response, req: req, maxAge: Int(Accounts.loginTokenLifetimeMs / 1000))
        return response
    }

    @Sendable static func logout(req: Request) async throws -> Response {
        if let token = req.storage[SessionTokenKey.self] { try await Accounts(sql: req.application.sql).logout(token: token) }
        let response = redirect("/login")
        response.cookies[ConsoleSession.cookie] = HTTPCookies.Value(string: "", expires: Date(timeIntervalSince1970: 0), maxAge: 0, path: "/",
                                                                    isSecure: req.isSecure, isHTTPOnly: true, sameSite: .lax)
        return response
    }

    @Sendable static func language(req: Request) async throws -> Response {
        let lang = req.parameters.get("lang") ?? "zh"
        guard Translations.languages.contains(lang) else { throw Problem(.notFound, "no such language") }
        var back = req.query[String.self, at: "back"] ?? "/"
        if !back.hasPrefix("/") || back.hasPrefix("//") { back = "/" }
        let response = redirect(back)
        response.cookies["lang"] = HTTPCookies.Value(string: lang, maxAge: 365 * 86_400, path: "/", isSecure: req.isSecure, isHTTPOnly: true, sameSite: .lax)
        return response
    }
}
