import Core
import Crypto
import FluentKit
import Foundation
import Ledger
import NIOConcurrencyHelpers
import SQLKit
import Vapor

extension Caller: Authenticatable {}

/// `Authorization: Bearer <session or API key>`.
package struct BearerAuthenticator: AsyncBearerAuthenticator {
    package func authenticate(bearer: BearerAuthorization, for request: Request) async throws {
        if let caller = try await Accounts(sql: request.application.sql).caller(bearer: bearer.token, nowMs: request.application.wallClock.nowMs()) {
            request.auth.login(caller)
        }
    }
}

package enum AuthController {
    package struct Login {
        package var email: String
        package var password: String
        package var otp: String?

        package init(_ body: StrictBody) throws {
            email = try body.string("email", maxLength: Limits.maxEmailLength)!
            password = try body.string("password", maxLength: 200)!
            otp = try body.string("otp", maxLength: 32, optional: true)
        }
    }

    /// `POST /auth/login {email, password, otp?}`. A user who needs a second factor and sends no
    /// `otp` hears `401 otp_required`; a wrong code is `401 unauthorized`, and counts as a failure.
    @Sendable package static func login(req: Request) async throws -> Response {
        let body = try Login(StrictBody(req, allowed: ["email", "password", "otp"]))
        let outcome = try await SignInService.attempt(email: body.email, password: body.password, otp: body.otp, address: req.remoteAddress?.ipAddress, via: "api", app: req.application)
        let session: (token: String, expiresMs: Int64, caller: Caller)
        switch outcome {
        case .throttled(let wait): throw LedgerError(.rateLimited, "too many failed sign-ins; try again in \(wait) seconds")
        case .wrong: throw LedgerError(.unauthorized, body.otp == nil ? "the email or the password is wrong" : "the email, the password or the code is wrong")
        case .otpRequired: throw LedgerError(.otpRequired, "this user signs in with a second factor: send the code from the authenticator app (or a recovery code) as otp")
        case .signedIn(let token, let expiresMs, let caller): session = (token, expiresMs, caller)
        }
        guard case .object(var fields) = try await me(session.caller, sql: req.application.sql) else { return Response(status: .ok) }
        fields["token"] = .string(session.token)
        fields["expiresAt"] = .string(Time.rfc3339(session.expiresMs))  // RFC 3339 with milliseconds, as every time the API writes
        return JSON.object(fields).response()
    }

    @Sendable package static func logout(req: Request) async throws -> Response {
        let caller = try req.auth.require(Caller.self)
        if !caller.viaAPIKey, let bearer = req.headers.bearerAuthorization {
            try await Accounts(sql: req.application.sql).logout(token: bearer.token)
        }
        return Response(status: .noContent)
    }

    /// `POST /auth/password {currentPassword, newPassword}`: 204; the person's other sessions end.
    @Sendable package static func changePassword(req: Request) async throws -> Response {
        let caller = try req.auth.require(Caller.self)
        let body = try StrictBody(req, allowed: ["currentPassword", "newPassword"])
        let current = try body.string("currentPassword", maxLength: 200)!, new = try body.string("newPassword", maxLength: 200)!
        try await PeopleService.changePassword(of: caller, current: current, new: new, keeping: req.headers.bearerAuthorization?.token,
                                               app: req.application, address: req.remoteAddress?.ipAddress)
        return Response(status: .noContent)
    }

    /// `POST /auth/two-factor {password}`: a new secret, its `otpauth://` URI and ten recovery
    /// codes, shown this once; sign-in asks for a code once the enrolment is confirmed. The password
    /// is asked again: a second factor is not changed by whoever finds a session open.
    @Sendable package static func enrolTwoFactor(req: Request) async throws -> Response {
        let caller = try req.auth.require(Caller.self)
        guard !caller.viaAPIKey else { throw LedgerError(.forbidden, "a person enrols a second factor, in their own session; API keys do not sign in") }
        let body = try StrictBody(req, allowed: ["password"])
        try await SignInService.checkPassword(caller, password: try body.string("password", maxLength: 200)!, address: req.remoteAddress?.ipAddress, app: req.application)
        let enrolment = try await TwoFactor.enrol(caller, address: req.remoteAddress?.ipAddress, app: req.application)
        return JSON.object(["secret": .string(enrolment.secret), "uri": .string(enrolment.uri),
                            "recoveryCodes": .array(enrolment.recoveryCodes.map(JSON.string))]).response(status: .created)
    }

    /// `POST /auth/reauthenticate {password, otp?}`: 204, and this session may change people and
    /// keys again for a while. A person who signs in with a second factor gives a code too.
    @Sendable package static func reauthenticate(req: Request) async throws -> Response {
        let caller = try req.auth.require(Caller.self)
        guard !caller.viaAPIKey, let bearer = req.headers.bearerAuthorization?.token else { throw LedgerError(.forbidden, "a person gives their password again, in their own session") }
        let body = try StrictBody(req, allowed: ["password", "otp"])
        try await SignInService.confirmIdentity(caller, password: try body.string("password", maxLength: 200)!, otp: try body.string("otp", maxLength: 32, optional: true),
                                                session: bearer, address: req.remoteAddress?.ipAddress, app: req.application)
        return Response(status: .noContent)
    }

    /// `POST /auth/two-factor/confirm {otp}`: 204 once a first code from the app is right.
    @Sendable package static func confirmTwoFactor(req: Request) async throws -> Response {
        let caller = try req.auth.require(Caller.self)
        guard !caller.viaAPIKey else { throw LedgerError(.forbidden, "a person confirms a second factor, in their own session") }
        let body = try StrictBody(req, allowed: ["otp"])
        let code = try body.string("otp", maxLength: 32)!
        guard try await TwoFactor.confirm(caller, code: code, address: req.remoteAddress?.ipAddress, app: req.application) else {
            throw Problem(.validationFailed, "the code is wrong, or there is no enrolment waiting to be confirmed", errors: [FieldError(field: "otp", message: "is not the current code of the new secret")])
        }
        return Response(status: .noContent)
    }

    @Sendable package static func me(req: Request) async throws -> Response {
        try await me(try req.auth.require(Caller.self), sql: req.application.sql).response()
    }

    /// `{user, org}`: the org as the chain registered it.
    package static func me(_ c: Caller, sql: any SQLDatabase) async throws -> JSON {
        var org: JSON = ["id": .string(c.orgId.description)]
        if let o = try await OrgQueries.summary(of: c.orgId, on: sql) {
            org = ["id": .string(c.orgId.description), "name": .string(o.name), "role": .string(o.role), "status": .string(o.status)]
        }
        return ["user": ["id": .string(c.userId), "email": .string(c.email), "name": .string(c.name), "role": .string(c.userRole.rawValue),
                         "mustChangePassword": .bool(c.mustChangePassword), "mustEnrolTwoFactor": .bool(c.mustEnrolTwoFactor)],
                "org": org]
    }
}

/// Requests without a valid bearer credential stop here with 401 problem+json. A session opened
/// with a temporary password may only change it (and read who it is, and sign out); one opened by
/// a user who must have a second factor and has none yet may only enrol one.
package struct RequireCaller: AsyncMiddleware {
    package static let whileTemporary: Set<String> = ["GET /api/v1/me", "POST /api/v1/auth/password", "POST /api/v1/auth/logout"]
    package static let whileEnrolling: Set<String> = ["GET /api/v1/me", "POST /api/v1/auth/two-factor", "POST /api/v1/auth/two-factor/confirm", "POST /api/v1/auth/logout"]

    package func respond(to request: Request, chainingTo next: any AsyncResponder) async throws -> Response {
        guard let caller = request.auth.get(Caller.self) else { throw LedgerError(.unauthorized, "sign in, or send an API key as Authorization: Bearer …") }
        let route = "\(request.method.rawValue) \(request.url.path)"
        if caller.mustChangePassword, !Self.whileTemporary.contains(route) {
            throw LedgerError(.forbidden, "this session was opened with a temporary password: change it first (POST /api/v1/auth/password)")
        }
        if caller.mustEnrolTwoFactor, !caller.mustChangePassword, !Self.whileEnrolling.contains(route) {
            throw LedgerError(.forbidden, "this user signs in with a second factor and has none yet: enrol one first (POST /api/v1/auth/two-factor)")
        }
        return try await next.respond(to: request)
    }
}
