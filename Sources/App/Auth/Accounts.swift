import Crypto
import FluentKit
import Foundation
import Ledger
import NIOConcurrencyHelpers
import SQLKit
import Vapor

/// Who is calling: a user of an org, through a login token or an API key.
struct Caller: Authenticatable, Sendable {
    var userId: String
    var orgId: OrgID
    var email: String
    var name: String
    var userRole: UserRole
    var viaAPIKey: Bool
    /// Signed in with a temporary password an admin set: only changing it is allowed.
    var mustChangePassword = false
    /// Signed in with a password alone by a user who must have a second factor and has none
    /// yet: only enrolling one is allowed.
    var mustEnrolTwoFactor = false
    /// When the person last gave their password in this session (nil for an API key).
    var authenticatedMs: Int64?

    var isAdmin: Bool { userRole == .admin }

    /// Viewers read and checkers approve; only makers and admins prepare an operation.
    func requirePreparer() throws {
        guard userRole.prepares else {
            throw Problem(.forbidden, userRole == .checker
                ? "a checker approves what others prepared; a maker or an admin of the organisation prepares it"
                : "a viewer reads only; a maker or an admin of the organisation does this")
        }
    }

    /// People and keys change only soon after the person gave their password: a session left open
    /// on a desk does not let someone else add a user or mint a key. An API key is a machine
    /// credential with no password to give again; it passes.
    func requireRecentSignIn(nowMs: Int64, policy: SessionPolicy = .configured) throws {
        guard let at = authenticatedMs, nowMs - at > policy.reauthMs else { return }
        throw ReauthenticationRequired(minutes: policy.reauthMs / 60_000)
    }
}

/// What a person may do inside their org. Viewers read; makers prepare operations (and perform
/// those that need no checker); checkers approve or reject what a maker prepared; admins manage
/// the org's people, keys and rules, and prepare like a maker. Nobody approves their own work.
enum UserRole: String, CaseIterable, Sendable {
    case viewer, maker, checker, admin

    var prepares: Bool { self == .maker || self == .admin }

    /// A stored role; `member`, the role before there were four, is a maker.
    init(stored: String) {
        self = UserRole(rawValue: stored) ?? (stored == "member" ? .maker : .viewer)
    }
}

/// A sensitive change asked for too long after the person last gave their password.
struct ReauthenticationRequired: Error, CustomStringConvertible {
    var minutes: Int64
    var description: String {
        "give your password again first (POST /api/v1/auth/reauthenticate): people and keys change only within \(minutes) minutes of it"
    }
}

/// How long a session lasts: it ends after `idleMs` without use, and `lifetimeMs` after sign-in
/// however much it is used. `CASCADE_SESSION_IDLE_MINUTES` (default 30) and
/// `CASCADE_SESSION_HOURS` (default 12).
struct SessionPolicy: Sendable {
    var idleMs: Int64 = 30 * 60_000
    var lifetimeMs: Int64 = 12 * 3_600_000
    /// How long after giving their password a person may change people, keys and second factors
    /// (`CASCADE_REAUTH_MINUTES`, default 15).
    var reauthMs: Int64 = 15 * 60_000

    static let configured: SessionPolicy = {
        let env = ProcessInfo.processInfo.environment
        var p = SessionPolicy()
        if let m = env["CASCADE_SESSION_IDLE_MINUTES"].flatMap(Int64.init), m > 0 { p.idleMs = m * 60_000 }
        if let h = env["CASCADE_SESSION_HOURS"].flatMap(Int64.init), h > 0 { p.lifetimeMs = h * 3_600_000 }
        if let m = env["CASCADE_REAUTH_MINUTES"].flatMap(Int64.init), m > 0 { p.reauthMs = m * 60_000 }
        return p
    }()

    /// A session's last use is written at most this often (not on every request).
    static let touchEveryMs: Int64 = 60_000
}

/// Users, login tokens and API keys in SQL. Secrets are random, shown once, stored hashed.
struct Accounts: Sendable {
    let sql: any SQLDatabase
    var policy = SessionPolicy.configured

    /// The role of an org as the chain registered it (nil for an org the chain does not know).
    static func role(of org: OrgID, on sql: any SQLDatabase) async throws -> OrgRole? {
        try await sql.raw("SELECT role FROM orgs WHERE id = \(bind: org.description)").first()
            .flatMap { OrgRole(rawValue: try $0.decode(column: "role", as: String.self)) }
    }

    static func secretHash(_ secret: String) -> String { Hashing.sha256Hex(Array(secret.utf8)) }

    static func newSecret(prefix: String) -> String {
        var bytes = [UInt8](repeating: 0, count: 32)
        var rng = SystemRandomNumberGenerator()
        for i in bytes.indices { bytes[i] = UInt8.random(in: 0...255, using: &rng) }
        return prefix + Hex.encode(bytes)
    }

    /// Adds a user; the password is stored as a bcrypt hash.
    @discardableResult
    func createUser(org: OrgID, email: String, name: String, role: UserRole, password: String, nowMs: Int64) async throws -> String {
        let id = UUID().uuidString.lowercased()
        let hash = try await Passwords.hash(password)
        do {
            try await sql.insert(into: "users").columns("id", "org_id", "email", "name", "role", "password_hash", "created_ms")
                .values(SQLBind(id), SQLBind(org.description), SQLBind(email.lowercased()), SQLBind(name), SQLBind(role.rawValue),
                        SQLBind(hash), SQLBind(nowMs))
                .run()
        } catch let error as any DatabaseError where error.isConstraintFailure {
            // Two requests for one email at once: the database's unique index decides.
            throw LedgerError.invalid("email", "is already in use")
        }
        return id
    }

    /// The user the email and password name, and whether a second factor must follow; nil for a
    /// wrong pair (which of the two is not said). A suspended org's people and a disabled user are
    /// refused here, with the right password only.
    func credentials(email: String, password: String) async throws -> (caller: Caller, needsCode: Bool)? {
        guard let row = try await sql.raw("""
            SELECT u.id, u.org_id, u.email, u.name, u.role, u.password_hash, u.disabled_ms, u.must_change_password, u.totp_enabled_ms,
                   o.status, o.role AS org_role
            FROM users u LEFT JOIN orgs o ON o.id = u.org_id
            WHERE u.email = \(bind: email.lowercased())
            """).first()
        else {
            _ = try? await Passwords.verify(password, created: Self.dummyHash)  // same work whether or not the email exists
            return nil
        }
        guard try await Passwords.verify(password, created: try row.decode(column: "password_hash", as: String.self)) else { return nil }
        let caller = try Self.caller(row, viaAPIKey: false)
        try Self.refuseStopped(row, caller)
        let orgRole = try row.decode(column: "org_role", as: String?.self), enabled = try row.decode(column: "totp_enabled_ms", as: Int64?.self)
        let needsCode = TwoFactor.required(orgRole: orgRole, isAdmin: caller.isAdmin) && enabled != nil
        return (caller, needsCode)
    }

    /// The user `id` as a caller, for the console's second step (nil when there is none).
    func caller(userId: String) async throws -> Caller? {
        guard let row = try await sql.raw("""
            SELECT u.id, u.org_id, u.email, u.name, u.role, u.disabled_ms, u.must_change_password, o.status
            FROM users u LEFT JOIN orgs o ON o.id = u.org_id WHERE u.id = \(bind: userId)
            """).first() else { return nil }
        let caller = try Self.caller(row, viaAPIKey: false)
        try Self.refuseStopped(row, caller)
        return caller
    }

    /// A new login token for `caller`.
    func openSession(for caller: Caller, nowMs: Int64) async throws -> (token: String, expiresMs: Int64, caller: Caller) {
        let token = Self.newSecret(prefix: "cas_l_")
        let expires = nowMs + policy.lifetimeMs
        try await sql.insert(into: "login_tokens").columns("token_hash", "user_id", "expires_ms", "created_ms", "last_used_ms", "authenticated_ms")
            .values(SQLBind(Self.secretHash(token)), SQLBind(caller.userId), SQLBind(expires), SQLBind(nowMs), SQLBind(nowMs), SQLBind(nowMs)).run()
        return (token, expires, caller)
    }

    /// A login token for the right email and password of a user who needs no second factor; nil
    /// otherwise (tests, and tools that sign in such users).
    func login(email: String, password: String, nowMs: Int64) async throws -> (token: String, expiresMs: Int64, caller: Caller)? {
        guard let found = try await credentials(email: email, password: password), !found.needsCode else { return nil }
        return try await openSession(for: found.caller, nowMs: nowMs)
    }

    static let dummyHash = (try? Bcrypt.hash("cascade-timing-equaliser", cost: Passwords.cost)) ?? ""

    func logout(token: String) async throws {
        try await sql.delete(from: "login_tokens").where("token_hash", .equal, SQLBind(Self.secretHash(token))).run()
    }

    /// The caller a bearer secret stands for: a live login token, or an API key not revoked.
    func caller(bearer: String, nowMs: Int64) async throws -> Caller? {
        let hash = Self.secretHash(bearer)
        if bearer.hasPrefix("cas_l_") {
            // Alive: within its lifetime, and used within the idle timeout.
            guard let row = try await sql.raw("""
                SELECT u.id, u.org_id, u.email, u.name, u.role, u.disabled_ms, u.must_change_password, u.totp_enabled_ms, o.status, o.role AS org_role,
                       COALESCE(t.last_used_ms, t.created_ms) AS last_used_ms, COALESCE(t.authenticated_ms, t.created_ms) AS authenticated_ms
                FROM login_tokens t JOIN users u ON u.id = t.user_id LEFT JOIN orgs o ON o.id = u.org_id
                WHERE t.token_hash = \(bind: hash) AND t.expires_ms > \(bind: nowMs) AND COALESCE(t.last_used_ms, t.created_ms) > \(bind: nowMs - policy.idleMs)
                """).first() else { return nil }
            if try row.decode(column: "last_used_ms", as: Int64.self) <= nowMs - SessionPolicy.touchEveryMs {
                try await sql.raw("UPDATE login_tokens SET last_used_ms = \(bind: nowMs) WHERE token_hash = \(bind: hash)").run()
            }
            var caller = try Self.caller(row, viaAPIKey: false)
            try Self.refuseStopped(row, caller)
            let orgRole = try row.decode(column: "org_role", as: String?.self), enabled = try row.decode(column: "totp_enabled_ms", as: Int64?.self)
            caller.mustEnrolTwoFactor = TwoFactor.required(orgRole: orgRole, isAdmin: caller.isAdmin) && enabled == nil
            caller.authenticatedMs = try row.decode(column: "authenticated_ms", as: Int64.self)
            return caller
        }
        guard let row = try await sql.raw("""
            SELECT u.id, u.org_id, u.email, u.name, u.role, u.disabled_ms, o.status
            FROM api_keys k JOIN users u ON u.id = k.user_id LEFT JOIN orgs o ON o.id = u.org_id
            WHERE k.key_hash = \(bind: hash) AND k.revoked_ms IS NULL
            """).first() else { return nil }
        let caller = try Self.caller(row, viaAPIKey: true)
        try Self.refuseStopped(row, caller)
        return caller
    }

    /// A suspended org's people, and a user its admin disabled, can neither sign in nor use their
    /// sessions and keys: it stops them at once, whatever they were about to read or change.
    static func refuseStopped(_ row: any SQLRow, _ caller: Caller) throws {
        if try row.decode(column: "status", as: String?.self) == OrgStatus.suspended.rawValue {
            throw Problem(.forbidden, "organisation \(caller.orgId) is suspended: its people cannot sign in or use their keys until it is reactivated")
        }
        if try row.decode(column: "disabled_ms", as: Int64?.self) != nil {
            throw Problem(.forbidden, "this user was disabled by an admin of the organisation")
        }
    }

    /// Creates an API key for a user; the secret is returned once and stored only as a hash.
    func createAPIKey(for caller: Caller, name: String, nowMs: Int64) async throws -> (id: String, secret: String) {
        let id = UUID().uuidString.lowercased()
        let secret = Self.newSecret(prefix: "cas_k_")
        try await sql.insert(into: "api_keys").columns("id", "org_id", "user_id", "name", "key_hash", "prefix", "created_ms")
            .values(SQLBind(id), SQLBind(caller.orgId.description), SQLBind(caller.userId), SQLBind(name), SQLBind(Self.secretHash(secret)),
                    SQLBind(String(secret.prefix(12))), SQLBind(nowMs)).run()
        return (id, secret)
    }

    static func caller(_ row: any SQLRow, viaAPIKey: Bool) throws -> Caller {
        guard let org = OrgID(try row.decode(column: "org_id", as: String.self)) else { throw Problem(.unauthorized, "the user's org id is malformed") }
        return Caller(userId: try row.decode(column: "id", as: String.self), orgId: org, email: try row.decode(column: "email", as: String.self),
                      name: try row.decode(column: "name", as: String.self), userRole: UserRole(stored: try row.decode(column: "role", as: String.self)),
                      viaAPIKey: viaAPIKey, mustChangePassword: !viaAPIKey && ((try? row.decode(column: "must_change_password", as: Int.self)) ?? 0) != 0)
    }
}

/// bcrypt, on the thread pool: a hash takes a quarter of a second of CPU, which on an event loop
/// would hold up every request sharing that loop.
enum Passwords {
    /// bcrypt's work factor: 2^12 rounds, as OWASP's password storage guidance asks at least.
    static let productionCost = 12
    private static let chosenCost = NIOLockedValueBox(productionCost)

    /// The cost new hashes are made with. A hash keeps its own cost: checking it costs what it did.
    static var cost: Int { chosenCost.withLockedValue { $0 } }

    /// For the test harness only, which makes thousands of accounts: bcrypt's lowest cost (4).
    /// Nothing in the product calls it.
    static func useLowestCostForTests() { chosenCost.withLockedValue { $0 = 4 } }

    static func hash(_ password: String) async throws -> String {
        let cost = cost
        return try await NIOThreadPool.singleton.runIfActive { try Bcrypt.hash(password, cost: cost) }
    }

    static func verify(_ password: String, created hash: String) async throws -> Bool {
        try await NIOThreadPool.singleton.runIfActive { try Bcrypt.verify(password, created: hash) }
    }
}

/// `Authorization: Bearer <login token or API key>`.
struct BearerAuthenticator: AsyncBearerAuthenticator {
    func authenticate(bearer: BearerAuthorization, for request: Request) async throws {
        if let caller = try await Accounts(sql: request.application.sql).caller(bearer: bearer.token, nowMs: request.application.wallClock.nowMs()) {
            request.auth.login(caller)
        }
    }
}

enum AuthController {
    struct Login {
        var email: String
        var password: String
        var otp: String?

        init(_ body: StrictBody) throws {
            email = try body.string("email", maxLength: Limits.maxEmailLength)!
            password = try body.string("password", maxLength: 200)!
            otp = try body.string("otp", maxLength: 32, optional: true)
        }
    }

    /// `POST /auth/login {email, password, otp?}`. A user who needs a second factor and sends no
    /// `otp` hears `401 otp_required`; a wrong code is `401 unauthorized`, and counts as a failure.
    @Sendable static func login(req: Request) async throws -> Response {
        let body = try Login(StrictBody(req, allowed: ["email", "password", "otp"]))
        let outcome = try await SignInService.attempt(email: body.email, password: body.password, otp: body.otp, address: req.remoteAddress?.ipAddress, via: "api", app: req.application)
        let session: (token: String, expiresMs: Int64, caller: Caller)
        switch outcome {
        case .throttled(let wait): throw Problem(.rateLimited, "too many failed sign-ins; try again in \(wait) seconds")
        case .wrong: throw Problem(.unauthorized, body.otp == nil ? "the email or the password is wrong" : "the email, the password or the code is wrong")
        case .otpRequired: throw Problem(.otpRequired, "this user signs in with a second factor: send the code from the authenticator app (or a recovery code) as otp")
        case .signedIn(let token, let expiresMs, let caller): session = (token, expiresMs, caller)
        }
        guard case .object(var fields) = try await me(session.caller, sql: req.application.sql) else { return Response(status: .ok) }
        fields["token"] = .string(session.token)
        fields["expiresAt"] = .string(ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: Double(session.expiresMs) / 1000)))
        return JSON.object(fields).response()
    }

    @Sendable static func logout(req: Request) async throws -> Response {
        let caller = try req.auth.require(Caller.self)
        if !caller.viaAPIKey, let bearer = req.headers.bearerAuthorization {
            try await Accounts(sql: req.application.sql).logout(token: bearer.token)
        }
        return Response(status: .noContent)
    }

    /// `POST /auth/password {currentPassword, newPassword}`: 204; the person's other sessions end.
    @Sendable static func changePassword(req: Request) async throws -> Response {
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
    @Sendable static func enrolTwoFactor(req: Request) async throws -> Response {
        let caller = try req.auth.require(Caller.self)
        guard !caller.viaAPIKey else { throw Problem(.forbidden, "a person enrols a second factor, in their own session; API keys do not sign in") }
        let body = try StrictBody(req, allowed: ["password"])
        try await SignInService.checkPassword(caller, password: try body.string("password", maxLength: 200)!, address: req.remoteAddress?.ipAddress, app: req.application)
        let enrolment = try await TwoFactor.enrol(caller, address: req.remoteAddress?.ipAddress, app: req.application)
        return JSON.object(["secret": .string(enrolment.secret), "uri": .string(enrolment.uri),
                            "recoveryCodes": .array(enrolment.recoveryCodes.map(JSON.string))]).response(status: .created)
    }

    /// `POST /auth/reauthenticate {password, otp?}`: 204, and this session may change people and
    /// keys again for a while. A person who signs in with a second factor gives a code too.
    @Sendable static func reauthenticate(req: Request) async throws -> Response {
        let caller = try req.auth.require(Caller.self)
        guard !caller.viaAPIKey, let bearer = req.headers.bearerAuthorization?.token else { throw Problem(.forbidden, "a person gives their password again, in their own session") }
        let body = try StrictBody(req, allowed: ["password", "otp"])
        try await SignInService.confirmIdentity(caller, password: try body.string("password", maxLength: 200)!, otp: try body.string("otp", maxLength: 32, optional: true),
                                                session: bearer, address: req.remoteAddress?.ipAddress, app: req.application)
        return Response(status: .noContent)
    }

    /// `POST /auth/two-factor/confirm {otp}`: 204 once a first code from the app is right.
    @Sendable static func confirmTwoFactor(req: Request) async throws -> Response {
        let caller = try req.auth.require(Caller.self)
        guard !caller.viaAPIKey else { throw Problem(.forbidden, "a person confirms a second factor, in their own session") }
        let body = try StrictBody(req, allowed: ["otp"])
        let code = try body.string("otp", maxLength: 32)!
        guard try await TwoFactor.confirm(caller, code: code, address: req.remoteAddress?.ipAddress, app: req.application) else {
            throw Problem(.validationFailed, "the code is wrong, or there is no enrolment waiting to be confirmed", errors: [FieldError(field: "otp", message: "is not the current code of the new secret")])
        }
        return Response(status: .noContent)
    }

    @Sendable static func me(req: Request) async throws -> Response {
        try await me(try req.auth.require(Caller.self), sql: req.application.sql).response()
    }

    /// `{user, org}`: the org as the chain registered it.
    static func me(_ c: Caller, sql: any SQLDatabase) async throws -> JSON {
        var org: JSON = ["id": .string(c.orgId.description)]
        if let row = try await sql.raw("SELECT name, role, status FROM orgs WHERE id = \(bind: c.orgId.description)").first() {
            org = ["id": .string(c.orgId.description), "name": .string(try row.decode(column: "name", as: String.self)),
                   "role": .string(try row.decode(column: "role", as: String.self)), "status": .string(try row.decode(column: "status", as: String.self))]
        }
        return ["user": ["id": .string(c.userId), "email": .string(c.email), "name": .string(c.name), "role": .string(c.userRole.rawValue),
                         "mustChangePassword": .bool(c.mustChangePassword), "mustEnrolTwoFactor": .bool(c.mustEnrolTwoFactor)],
                "org": org]
    }
}

/// Requests without a valid bearer credential stop here with 401 problem+json. A session opened
/// with a temporary password may only change it (and read who it is, and sign out); one opened by
/// a user who must have a second factor and has none yet may only enrol one.
struct RequireCaller: AsyncMiddleware {
    static let whileTemporary: Set<String> = ["GET /api/v1/me", "POST /api/v1/auth/password", "POST /api/v1/auth/logout"]
    static let whileEnrolling: Set<String> = ["GET /api/v1/me", "POST /api/v1/auth/two-factor", "POST /api/v1/auth/two-factor/confirm", "POST /api/v1/auth/logout"]

    func respond(to request: Request, chainingTo next: any AsyncResponder) async throws -> Response {
        guard let caller = request.auth.get(Caller.self) else { throw Problem(.unauthorized, "sign in, or send an API key as Authorization: Bearer …") }
        let route = "\(request.method.rawValue) \(request.url.path)"
        if caller.mustChangePassword, !Self.whileTemporary.contains(route) {
            throw Problem(.forbidden, "this session was opened with a temporary password: change it first (POST /api/v1/auth/password)")
        }
        if caller.mustEnrolTwoFactor, !caller.mustChangePassword, !Self.whileEnrolling.contains(route) {
            throw Problem(.forbidden, "this user signs in with a second factor and has none yet: enrol one first (POST /api/v1/auth/two-factor)")
        }
        return try await next.respond(to: request)
    }
}
