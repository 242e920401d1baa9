import Core
import Crypto
import Foundation
import Ledger
import Leaf
import SQLKit
import Vapor

/// The session: a session in an HttpOnly, SameSite=Lax cookie; the CSRF token is derived
/// from it, so a page from another site can neither read nor forge it.
package enum ConsoleSession {
    package static let cookie = "cascade_session"
    package static let preCookie = "cascade_pre"

    package static func csrf(for sessionToken: String) -> String { Hashing.sha256Hex(Array("csrf|\(sessionToken)".utf8)) }

    package static func setCookie(_ name: String, _ value: String, on response: Response, req: Request, maxAge: Int? = nil) {
        response.cookies[name] = HTTPCookies.Value(string: value, maxAge: maxAge, path: "/", isSecure: req.isSecure, isHTTPOnly: true, sameSite: .lax)
    }
}

/// Signs the caller in from the session cookie, if it holds a live session.
package struct ConsoleAuthenticator: AsyncMiddleware {
    package func respond(to req: Request, chainingTo next: any AsyncResponder) async throws -> Response {
        if let token = req.cookies[ConsoleSession.cookie]?.string, token.hasPrefix("cas_l_") {
            do {
                if let caller = try await Accounts(sql: req.application.sql).caller(bearer: token, nowMs: req.application.wallClock.nowMs()) {
                    req.auth.login(caller)
                    req.storage[SessionSecretKey.self] = token
                }
            } catch let stopped as LedgerError where stopped.code.httpStatus == 403 {
                // A suspended org or a disabled person: signed out here, the sign-in page says why.
            }
        }
        // A session opened with a temporary password changes it before anything else.
        if let caller = req.auth.get(Caller.self), caller.mustChangePassword, !["/password", "/logout"].contains(req.url.path), !req.url.path.hasPrefix("/lang/") {
            return Response(status: .seeOther, headers: ["Location": "/password"])
        }
        // One who must have a second factor and has none sets it up before anything else.
        if let caller = req.auth.get(Caller.self), caller.mustEnrolTwoFactor, !["/two-factor", "/two-factor/confirm", "/logout"].contains(req.url.path),
           !req.url.path.hasPrefix("/lang/") {
            return Response(status: .seeOther, headers: ["Location": "/two-factor"])
        }
        return try await next.respond(to: req)
    }
}

package struct SessionSecretKey: StorageKey { package typealias Value = String }

/// Every form post carries `_csrf`; without the right one it is refused with 403 and does
/// nothing. Signed in, the token is derived from the session; before sign-in (the login form)
/// it must match the pre-session cookie.
package struct CSRFMiddleware: AsyncMiddleware {
    package func respond(to req: Request, chainingTo next: any AsyncResponder) async throws -> Response {
        guard req.method == .POST else { return try await next.respond(to: req) }
        // The body is read here, bounded, so the token can be found in it; only the issue form
        // carries a document.
        let limit = req.url.path == "/receivables" ? DocumentController.maxBytes + 64 * 1024 : TransactionController.maxBodyBytes
        _ = try await req.body.collect(max: limit).get()
        let sent = (try? req.content.get(String.self, at: "_csrf")) ?? ""
        let expected: String?
        if let session = req.storage[SessionSecretKey.self] {
            expected = ConsoleSession.csrf(for: session)
        } else {
            expected = req.cookies[ConsoleSession.preCookie]?.string
        }
        guard let expected, !sent.isEmpty, sent == expected else {
            return try await ConsolePages.error(req, status: .forbidden, code: .csrfFailed)
        }
        return try await next.respond(to: req)
    }
}
