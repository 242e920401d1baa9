import Core
import Foundation
import Ledger
import Leaf
import LeafKit
import SQLKit
import Vapor

/// The web console: server-rendered pages over the same projections the API reads, and forms
/// that call the same workflow services as the API (`Services/`) — no rule is written twice.
/// Each area's pages are a type of their own (`HoldingsPages`, `ReceivablePages`, …), each page
/// with its view model beside it; what they share — rendering, the caller, forms and their
/// errors — is here, for every `ConsoleArea`.
package protocol ConsoleArea {}

/// An org a form may name, by name.
package struct OrgOption: Encodable {
    package var id: String
    package var name: String
}

/// The console's shared pages (the error page) for code outside any area.
package enum ConsolePages: ConsoleArea {
    /// Pages rendered by Leaf from `templates` (cached in release builds), in the words of
    /// `templates/i18n`.
    package static func useTemplates(_ templates: String, on app: Application) throws {
        app.views.use(.leaf)
        app.leaf.configuration = LeafConfiguration(rootDirectory: templates)
        app.leaf.cache.isEnabled = app.environment.isRelease
        app.translations = try Translations.load(from: templates)
    }
}

extension ConsoleArea {
    // MARK: - Rendering

    package static func render<P: Encodable>(_ req: Request, _ template: String, title: String, page: P, status: HTTPResponseStatus = .ok,
                                      notice: String? = nil, error: String? = nil, refresh: Bool = false) async throws -> Response {
        let view = pageView(try await frame(req), title: title, page: page, notice: notice, error: error, refresh: refresh)
        let response = try await req.view.render(template, view).encodeResponse(for: req)
        response.status = status
        response.headers.replaceOrAdd(name: .cacheControl, value: "no-store")
        return response
    }

    /// What every page shows around its own content, read from the request once: the language,
    /// the person signed in and their org, the path and the form token.
    package static func frame(_ req: Request) async throws -> PageFrame {
        var frame = PageFrame(lang: req.language, table: req.application.translations.table(req.language), path: req.url.path,
                              csrf: req.storage[SessionSecretKey.self].map(ConsoleSession.csrf(for:)) ?? req.cookies[ConsoleSession.preCookie]?.string ?? "")
        if let caller = req.auth.get(Caller.self) {
            // The caller's own org, one row: its role for the navigation, its name for the header.
            let org = try await OrgQueries.summary(of: caller.orgId, on: req.application.sql)
            frame.signedIn(caller, orgName: org?.name ?? "", role: org.flatMap { OrgRole(rawValue: $0.role) })
        }
        return frame
    }

    /// The whole page's view model, from its frame and its own content: no request, no database.
    package static func pageView<P: Encodable>(_ frame: PageFrame, title: String, page: P, notice: String? = nil, error: String? = nil,
                                               refresh: Bool = false) -> PageView<P> {
        PageView(t: frame.table, lang: frame.lang, otherLang: frame.lang == "zh" ? "en" : "zh", title: frame.tr(title), user: frame.user,
                 nav: nav(frame), csrf: frame.csrf, notice: notice.map(frame.tr), error: error, refresh: refresh, page: page)
    }

    /// The navigation of the signed-in person's role, the current page marked.
    package static func nav(_ frame: PageFrame) -> [NavItem] {
        guard let role = frame.role else { return [] }
        var items: [(String, String)] = [("/dashboard", "nav_dashboard")]
        switch role {
        case .supplier: items += [("/inbox", "nav_inbox"), ("/holdings", "nav_holdings"), ("/financings", "nav_financings"), ("/early-payments", "nav_early_payments")]
        case .core: items += [("/receivables/new", "nav_issue"), ("/receivables/imports", "nav_imports"), ("/receivables", "nav_receivables"), ("/credit-lines", "nav_credit_lines"), ("/early-payments", "nav_early_payments")]
        case .bank: items += [("/financings", "nav_financing_queue"), ("/credit-lines", "nav_credit_lines"), ("/holdings", "nav_portfolio")]
        case .regulator: items += [("/overview", "nav_overview"), ("/monitoring", "nav_monitoring"), ("/orgs", "nav_orgs"), ("/receivables", "nav_receivables"), ("/early-payments", "nav_early_payments"), ("/chain", "nav_chain"), ("/audit", "nav_audit")]
        case .operator: items += [("/orgs", "nav_orgs"), ("/policy", "nav_policy"), ("/monitoring", "nav_monitoring"), ("/receivables", "nav_receivables"), ("/chain", "nav_chain"), ("/audit", "nav_audit")]
        }
        if [.bank, .core, .regulator].contains(role) { items.append(("/approvals", "nav_approvals")) }
        if role != .operator { items.append(("/reconciliation", "nav_reconciliation")) }
        if frame.isAdmin, let org = frame.orgId, role != .operator {
            items.append(("/orgs/\(org)/users", "nav_people"))
            if [.core, .supplier, .bank].contains(role) { items.append(("/payment-settings", "nav_payment_settings")) }
            items.append(("/webhooks", "nav_webhooks"))
            // An admin reads its own org's audit log (the regulator's link above reads all of it).
            if role != .regulator { items.append(("/audit", "nav_audit")) }
        }
        items.append(("/events", "nav_events"))
        return items.map { NavItem(href: $0.0, label: frame.tr($0.1), current: frame.path == $0.0) }
    }

    /// The orgs of a role a form may name, by name.
    package static func orgOptions(_ role: OrgRole, activeOnly: Bool, on sql: any SQLDatabase) async throws -> [OrgOption] {
        try await OrgQueries.named(role: role, activeOnly: activeOnly, on: sql).map { OrgOption(id: $0.id, name: $0.name) }
    }

    /// Runs a form's workflow through its service; on success back to `next`, on refusal the page
    /// again with the error.
    package static func act(_ req: Request, action: String, next: String, done: String, fieldNames: [String: String] = [:], codeFields: [ErrorCode: String] = [:],
                    page: (FormState, String) async throws -> Response, _ run: (Viewer, [String: String]) async throws -> Void) async throws -> Response {
        try await actOrHold(req, action: action, next: next, done: done, fieldNames: fieldNames, codeFields: codeFields, page: page) { viewer, values in
            try await run(viewer, values)
            return nil
        }
    }

    /// `act` for an operation that may wait for a checker: held, the maker sees the approval.
    package static func actOrHold(_ req: Request, action: String, next: String, done: String, fieldNames: [String: String] = [:], codeFields: [ErrorCode: String] = [:],
                          page: (FormState, String) async throws -> Response, _ run: (Viewer, [String: String]) async throws -> Approval?) async throws -> Response {
        let viewer = try await viewer(req)
        let values = form(req)
        do {
            if let held = try await run(viewer, values) { return redirect("/approvals/\(held.id)", notice: "held") }
            return redirect(next, notice: done)
        } catch is ReauthenticationRequired {
            return ReauthPages.ask(back: next)
        } catch {
            let (message, state) = try formError(req, error, values: values, fieldNames: fieldNames, codeFields: codeFields)
            return try await page(state, message)
        }
    }

    package static func fen(_ values: [String: String], _ field: String) throws -> Int64 {
        guard let text = values[field], let fen = YuanInput.fen(text) else { throw LedgerError.invalid(field, "must be an amount in yuan, e.g. 12,345.67") }
        return fen
    }

    package static func withPreSession(_ req: Request, _ page: () async throws -> Response) async throws -> Response {
        guard req.storage[SessionSecretKey.self] == nil else { return try await page() }
        let pre = req.cookies[ConsoleSession.preCookie]?.string ?? Accounts.newSecret(prefix: "pre_")
        req.cookies[ConsoleSession.preCookie] = HTTPCookies.Value(string: pre)
        let response = try await page()
        ConsoleSession.setCookie(ConsoleSession.preCookie, pre, on: response, req: req)
        return response
    }

    package static func viewer(_ req: Request) async throws -> Viewer { try await req.viewer() }

    package static func redirect(_ to: String, notice: String? = nil) -> Response {
        let target = notice.map { to + (to.contains("?") ? "&" : "?") + "done=\($0)" } ?? to
        return Response(status: .seeOther, headers: ["Location": target])
    }

    package static func notice(_ req: Request) -> String? {
        guard let done = req.query[String.self, at: "done"], done.count < 40, done.allSatisfy({ $0.isLetter || $0 == "_" }) else { return nil }
        return "done_\(done)"
    }

    /// A refused form: the user's language for the code, each field's message by its field.
    package static func formError(_ req: Request, _ error: any Error, values: [String: String], fieldNames: [String: String] = [:],
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

    package static func form(_ req: Request) -> [String: String] {
        var values: [String: String] = [:]
        if let fields = try? req.content.decode([String: String].self) {
            for (k, v) in fields where k != "_csrf" { values[k] = String(v.prefix(2_000)) }
        }
        return values
    }
}

extension ConsolePages {
    package struct ErrorPage: Encodable {
        package var status: Int
        package var heading: String
        package var detail: String
    }

    package static func error(_ req: Request, status: HTTPResponseStatus, code: ErrorCode, detail: String = "") async throws -> Response {
        try await render(req, "common/error", title: "error_title", page: ErrorPage(status: Int(status.code), heading: req.tr("error_\(code.rawValue)"), detail: detail),
                         status: status)
    }

    /// Problems become pages: a 404 page, a 403 page, never a stack trace.
    package struct ErrorPages: AsyncMiddleware {
        package func respond(to req: Request, chainingTo next: any AsyncResponder) async throws -> Response {
            do {
                return try await next.respond(to: req)
            } catch {
                let (problem, unexpected) = Problem.from(error)
                if unexpected { req.logger.report(error: error) }
                let code = ErrorCode(rawValue: problem.code) ?? .validationFailed
                let status = HTTPResponseStatus(statusCode: problem.status)
                let page: Response
                do {
                    page = try await ConsolePages.error(req, status: status, code: code, detail: unexpected ? "" : problem.detail)
                } catch {
                    // The page itself needs the database (the header names the caller's org): when
                    // that is what failed, a plain page in the caller's language says so.
                    page = Response(status: status, headers: ["Content-Type": "text/html; charset=utf-8"],
                                    body: .init(string: "<!doctype html><title>Cascade</title><h1>\(req.tr("error_\(code.rawValue)"))</h1>"))
                }
                if problem.status == 503 { page.headers.replaceOrAdd(name: .retryAfter, value: String(Problem.retryAfterSeconds)) }
                return page
            }
        }
    }
}
