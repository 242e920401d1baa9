import Foundation
import Ledger
import Leaf
import SQLKit
import Vapor

/// The web console: server-rendered pages over the same projections the API reads, and forms
/// that call the same workflow services as the API (`Services/`) — no rule is written twice.
enum ConsolePages {
    // MARK: - Rendering

    static func render<P: Encodable>(_ req: Request, _ template: String, title: String, page: P, status: HTTPResponseStatus = .ok,
                                      notice: String? = nil, error: String? = nil, refresh: Bool = false) async throws -> Response {
        let lang = req.language
        var user: UserView?
        var role: OrgRole?
        if let caller = req.auth.get(Caller.self) {
            // The caller's own org, one row: its role for the navigation, its name for the header.
            let org = try await req.application.sql.raw("SELECT name, role FROM orgs WHERE id = \(bind: caller.orgId.description)").first()
            role = try org.flatMap { OrgRole(rawValue: try $0.decode(column: "role", as: String.self)) }
            user = UserView(name: caller.name, email: caller.email, orgName: try org?.decode(column: "name", as: String.self) ?? "", role: role?.rawValue ?? "",
                            roleLabel: req.tr("role_\(role?.rawValue ?? "")"))
        }
        let csrf = req.storage[SessionTokenKey.self].map(ConsoleSession.csrf(for:)) ?? req.cookies[ConsoleSession.preCookie]?.string ?? ""
        let view = PageView(t: req.application.translations.table(lang), lang: lang, otherLang: lang == "zh" ? "en" : "zh", title: req.tr(title),
                            user: user, nav: nav(req, role), csrf: csrf, notice: notice.map(req.tr), error: error, refresh: refresh, page: page)
        let response = try await req.view.render(template, view).encodeResponse(for: req)
        response.status = status
        response.headers.replaceOrAdd(name: .cacheControl, value: "no-store")
        return response
    }

    static func nav(_ req: Request, _ role: OrgRole?) -> [NavItem] {
        guard let role else { return [] }
        var items: [(String, String)] = [("/dashboard", "nav_dashboard")]
        switch role {
        case .supplier: items += [("/inbox", "nav_inbox"), ("/holdings", "nav_holdings"), ("/financings", "nav_financings")]
        case .core: items += [("/receivables/new", "nav_issue"), ("/receivables", "nav_receivables"), ("/credit-lines", "nav_credit_lines")]
        case .bank: items += [("/financings", "nav_financing_queue"), ("/credit-lines", "nav_credit_lines"), ("/holdings", "nav_portfolio")]
        case .regulator: items += [("/overview", "nav_overview"), ("/orgs", "nav_orgs"), ("/receivables", "nav_receivables"), ("/chain", "nav_chain"), ("/audit", "nav_audit")]
        case .operator: items += [("/orgs", "nav_orgs"), ("/policy", "nav_policy"), ("/receivables", "nav_receivables"), ("/chain", "nav_chain"), ("/audit", "nav_audit")]
        }
        items.append(("/events", "nav_events"))
        let path = req.url.path
        return items.map { NavItem(href: $0.0, label: req.tr($0.1), current: path == $0.0) }
    }

    struct ErrorPage: Encodable {
        var status: Int
        var heading: String
        var detail: String
    }

    static func error(_ req: Request, status: HTTPResponseStatus, code: ErrorCode, detail: String = "") async throws -> Response {
        try await render(req, "common/error", title: "error_title", page: ErrorPage(status: Int(status.code), heading: req.tr("error_\(code.rawValue)"), detail: detail),
                         status: status)
    }

    /// Problems become pages: a 404 page, a 403 page, never a stack trace.
    struct ErrorPages: AsyncMiddleware {
        func respond(to req: Request, chainingTo next: any AsyncResponder) async throws -> Response {
            do {
                return try await next.respond(to: req)
            } catch {
                let (problem, unexpected) = Problem.from(error)
                if unexpected { req.logger.report(error: error) }
                let code = ErrorCode(rawValue: problem.code) ?? .validationFailed
                return try await ConsolePages.error(req, status: HTTPResponseStatus(statusCode: problem.status), code: code,
                                                    detail: unexpected ? "" : problem.detail)
            }
        }
    }

    static func viewer(_ req: Request) async throws -> Viewer { try await req.viewer() }

    static func redirect(_ to: String, notice: String? = nil) -> Response {
        let target = notice.map { to + (to.contains("?") ? "&" : "?") + "done=\($0)" } ?? to
        return Response(status: .seeOther, headers: ["Location": target])
    }

    static func notice(_ req: Request) -> String? {
        guard let done = req.query[String.self, at: "done"], done.count < 40, done.allSatisfy({ $0.isLetter || $0 == "_" }) else { return nil }
        return "done_\(done)"
    }

    /// A refused form: the user's language for the code, each field's message by its field.
    static func formError(_ req: Request, _ error: any Error, values: [String: String], fieldNames: [String: String] = [:],
                          codeFields: [ErrorCode: String] = [:]) throws -> (String, FormState) {
        let (problem, unexpected) = Problem.from(error)
        if unexpected { throw error }
        var state = FormState(values: values, status: UInt(problem.status))
        let words = req.application.translations.table(req.language)
        for f in problem.errors ?? [] {
            let name = fieldNames[f.field] ?? f.field
            state.errors[name] = words["invalid_\(name)"] ?? f.message
        }
        if let code = ErrorCode(rawValue: problem.code), let field = codeFields[code], state.errors[field] == nil {
            state.errors[field] = req.tr("error_\(problem.code)")
        }
        var message = req.tr("error_\(problem.code)")
        if problem.errors == nil || problem.errors!.isEmpty { message += " — " + problem.detail }
        return (message, state)
    }

    static func form(_ req: Request) -> [String: String] {
        var values: [String: String] = [:]
        if let fields = try? req.content.decode([String: String].self) {
            for (k, v) in fields where k != "_csrf" { values[k] = String(v.prefix(2_000)) }
        }
        return values
    }

    // MARK: - Sign-in

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
    static func withPreSession(_ req: Request, _ page: () async throws -> Response) async throws -> Response {
        guard req.storage[SessionTokenKey.self] == nil else { return try await page() }
        let pre = req.cookies[ConsoleSession.preCookie]?.string ?? Accounts.newSecret(prefix: "pre_")
        req.cookies[ConsoleSession.preCookie] = HTTPCookies.Value(string: pre)
        let response = try await page()
        ConsoleSession.setCookie(ConsoleSession.preCookie, pre, on: response, req: req)
        return response
    }

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

    // MARK: - Dashboard and events

    struct Stat: Encodable {
        var label: String
        var value: String
    }

    struct DashboardPage: Encodable {
        var stats: [Stat]
        var byTierChart: String
        var byMonthChart: String
        var events: [EventView]
        var upcoming: [ReceivableView]
    }

    struct EventView: Encodable {
        var time: String
        var type: String
        var summary: String
    }

    @Sendable static func dashboard(req: Request) async throws -> Response {
        let viewer = try await viewer(req)
        let sql = req.application.sql
        let stats = try await FeedController.totals(viewer, on: sql)
        var cards = [Stat(label: req.tr("stat_outstanding"), value: Money.format(stats.outstandingFen))]
        switch viewer.role {
        case .core, .regulator, .operator:
            cards += [Stat(label: req.tr("stat_issued"), value: Money.format(stats.issuedFen)), Stat(label: req.tr("stat_financed"), value: Money.format(stats.financedFen)),
                      Stat(label: req.tr("stat_settled"), value: Money.format(stats.settledFen)), Stat(label: req.tr("stat_overdue"), value: Money.format(stats.overdueFen))]
        case .supplier, .bank:
            cards += [Stat(label: req.tr("stat_financed"), value: Money.format(stats.financedFen)), Stat(label: req.tr("stat_settled"), value: Money.format(stats.settledFen))]
        }
        let tiers = Charts.bars(stats.byTier.map { (req.tr("tier") + " \($0.tier)", $0.outstandingFen) }, caption: req.tr("chart_by_tier"))
        let months = Charts.bars(stats.byMonth.map { ($0.month, $0.outstandingFen) }, caption: req.tr("chart_by_month"))
        let events = try await recentEvents(viewer, limit: 8, zh: req.language == "zh", on: sql)
        var receivableQuery: SQLQueryString = "SELECT \(unsafeRaw: ReceivableController.columns) FROM receivables r WHERE r.status IN ('pending', 'active', 'overdue') AND "
        receivableQuery += ReceivableController.visible(viewer)
        receivableQuery += " ORDER BY r.due_date, r.id LIMIT 6"
        let presenter = try await Presenter.make(req)
        let upcoming = try await sql.raw(receivableQuery).all().map { presenter.receivable(try RowReader($0, "receivables").receivable) }
        return try await render(req, "common/dashboard", title: "nav_dashboard",
                                page: DashboardPage(stats: cards, byTierChart: tiers, byMonthChart: months, events: events, upcoming: upcoming))
    }

    static func recentEvents(_ viewer: Viewer, limit: Int, offset: Int = 0, zh: Bool, on sql: any SQLDatabase) async throws -> [EventView] {
        try await sql.raw("SELECT seq, time_ms, type, summary, summary_zh FROM events WHERE org_id = \(bind: viewer.orgId.description) ORDER BY seq DESC LIMIT \(literal: limit) OFFSET \(literal: offset)")
            .all().map { row in
                let chinese = try row.decodeNil(column: "summary_zh") ? nil : try row.decode(column: "summary_zh", as: String.self)
                let english = try row.decode(column: "summary", as: String.self)
                return EventView(time: Time.local(try row.decode(column: "time_ms", as: Int64.self)), type: try row.decode(column: "type", as: String.self),
                                 summary: zh ? chinese ?? english : english)
            }
    }

    struct EventsPage: Encodable {
        var events: [EventView]
        var pager: Pager
    }

    @Sendable static func events(req: Request) async throws -> Response {
        let viewer = try await viewer(req)
        let number = Pager.number(req)
        let (events, pager) = Pager.make(req, number, rows: try await recentEvents(viewer, limit: Pager.size + 1, offset: (number - 1) * Pager.size,
                                                                                   zh: req.language == "zh", on: req.application.sql))
        return try await render(req, "common/events", title: "nav_events", page: EventsPage(events: events, pager: pager))
    }
}
