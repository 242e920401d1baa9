import Crypto
import Foundation
import Ledger
import Leaf
import SQLKit
import Vapor

/// The console's languages: one JSON file of translations per language in `Templates/i18n/`.
struct Translations: Sendable {
    static let languages = ["zh", "en"]
    let tables: [String: [String: String]]

    static func load(from directory: String) throws -> Translations {
        var tables: [String: [String: String]] = [:]
        for lang in languages {
            let path = directory + "i18n/\(lang).json"
            guard let data = FileManager.default.contents(atPath: path) else { throw ConfigurationError("missing translations \(path)") }
            tables[lang] = try JSONDecoder().decode([String: String].self, from: data)
        }
        return Translations(tables: tables)
    }

    func table(_ lang: String) -> [String: String] { tables[lang] ?? tables["en"] ?? [:] }
}

extension Application {
    private struct TranslationsKey: StorageKey { typealias Value = Translations }
    var translations: Translations {
        get { storage[TranslationsKey.self] ?? Translations(tables: [:]) }
        set { storage[TranslationsKey.self] = newValue }
    }
}

extension Request {
    /// The user's language: the `lang` cookie if set, else `Accept-Language` (Chinese when it
    /// prefers any zh variant), else Chinese.
    var language: String {
        if let c = cookies["lang"]?.string, Translations.languages.contains(c) { return c }
        let accept = headers.first(name: .acceptLanguage)?.lowercased() ?? ""
        let first = accept.split(separator: ",").first.map { String($0).trimmingCharacters(in: .whitespaces) } ?? ""
        if first.hasPrefix("en") { return "en" }
        return "zh"
    }

    func tr(_ key: String) -> String { application.translations.table(language)[key] ?? key }

    /// Behind TLS (directly or through a proxy that says so), cookies are marked Secure.
    var isSecure: Bool { url.scheme == "https" || headers.first(name: "X-Forwarded-Proto") == "https" }
}

/// The session: a login token in an HttpOnly, SameSite=Lax cookie; the CSRF token is derived
/// from it, so a page from another site can neither read nor forge it.
enum ConsoleSession {
    static let cookie = "cascade_session"
    static let preCookie = "cascade_pre"

    static func csrf(for sessionToken: String) -> String { Hashing.sha256Hex(Array("csrf|\(sessionToken)".utf8)) }

    static func setCookie(_ name: String, _ value: String, on response: Response, req: Request, maxAge: Int? = nil) {
        response.cookies[name] = HTTPCookies.Value(string: value, maxAge: maxAge, path: "/", isSecure: req.isSecure, isHTTPOnly: true, sameSite: .lax)
    }
}

/// Signs the caller in from the session cookie, if it holds a live login token.
struct ConsoleAuthenticator: AsyncMiddleware {
    func respond(to req: Request, chainingTo next: any AsyncResponder) async throws -> Response {
        if let token = req.cookies[ConsoleSession.cookie]?.string, token.hasPrefix("cas_l_"),
           let caller = try await Accounts(sql: req.application.sql).caller(bearer: token, nowMs: req.application.wallClock.nowMs()) {
            req.auth.login(caller)
            req.storage[SessionTokenKey.self] = token
        }
        return try await next.respond(to: req)
    }
}

struct SessionTokenKey: StorageKey { typealias Value = String }

/// Every form post carries `_csrf`; without the right one it is refused with 403 and does
/// nothing. Signed in, the token is derived from the session; before sign-in (the login form)
/// it must match the pre-session cookie.
struct CSRFMiddleware: AsyncMiddleware {
    func respond(to req: Request, chainingTo next: any AsyncResponder) async throws -> Response {
        guard req.method == .POST else { return try await next.respond(to: req) }
        // The body is read here, bounded, so the token can be found in it; only the issue form
        // carries a document.
        let limit = req.url.path == "/receivables" ? DocumentController.maxBytes + 64 * 1024 : TransactionController.maxBodyBytes
        _ = try await req.body.collect(max: limit).get()
        let sent = (try? req.content.get(String.self, at: "_csrf")) ?? ""
        let expected: String?
        if let session = req.storage[SessionTokenKey.self] {
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

/// On every console page and asset: a Content-Security-Policy without inline script, no
/// framing, no sniffing, no referrer leaks.
struct SecurityHeaders: AsyncMiddleware {
    func respond(to req: Request, chainingTo next: any AsyncResponder) async throws -> Response {
        let response = try await next.respond(to: req)
        response.headers.replaceOrAdd(name: "Content-Security-Policy",
                                      value: "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
        response.headers.replaceOrAdd(name: "X-Content-Type-Options", value: "nosniff")
        response.headers.replaceOrAdd(name: "X-Frame-Options", value: "DENY")
        response.headers.replaceOrAdd(name: "Referrer-Policy", value: "same-origin")
        return response
    }
}

/// Amounts typed by people: yuan with at most two decimals, thousands separators allowed.
enum YuanInput {
    static func fen(_ text: String) -> Int64? {
        let cleaned = text.replacingOccurrences(of: ",", with: "").replacingOccurrences(of: "¥", with: "").trimmingCharacters(in: .whitespacesAndNewlines)
        guard !cleaned.isEmpty, cleaned.count <= 20 else { return nil }
        let parts = cleaned.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2, let whole = Int64(parts[0]), whole >= 0, parts[0].allSatisfy(\.isNumber) else { return nil }
        var cents: Int64 = 0
        if parts.count == 2 {
            let frac = parts[1]
            guard (1...2).contains(frac.count), frac.allSatisfy(\.isNumber), let f = Int64(frac) else { return nil }
            cents = frac.count == 1 ? f * 10 : f
        }
        let (product, overflow) = whole.multipliedReportingOverflow(by: 100)
        guard !overflow else { return nil }
        return Money.add(product, cents)
    }

    /// `¥12,345.67` without the sign, for a form field.
    static func text(_ fen: Int64) -> String { String(Money.format(fen).drop { $0 == "¥" }) }
}
