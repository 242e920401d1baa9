import Core
import Crypto
import Foundation
import Ledger
import Leaf
import SQLKit
import Vapor

/// On every console page and asset: a Content-Security-Policy without inline script, no
/// framing, no sniffing, no referrer leaks. Behind TLS, Strict-Transport-Security. Answers of the
/// API and signed-in pages are never stored by a browser or a proxy (`Cache-Control: no-store`):
/// they carry balances, secrets and other orgs' names.
package struct SecurityHeaders: AsyncMiddleware {

    package init() {
    }
    package func respond(to req: Request, chainingTo next: any AsyncResponder) async throws -> Response {
        let response = try await next.respond(to: req)
        if req.isSecure {
            response.headers.replaceOrAdd(name: "Strict-Transport-Security", value: "max-age=31536000; includeSubDomains")
        }
        let asset = req.url.path.hasPrefix("/css/") || req.url.path.hasPrefix("/js/") || req.url.path.hasPrefix("/img/") || req.url.path == "/favicon.ico"
        if !asset { response.headers.replaceOrAdd(name: .cacheControl, value: "no-store") }
        response.headers.replaceOrAdd(name: "Content-Security-Policy",
                                      value: "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
        response.headers.replaceOrAdd(name: "X-Content-Type-Options", value: "nosniff")
        response.headers.replaceOrAdd(name: "X-Frame-Options", value: "DENY")
        response.headers.replaceOrAdd(name: "Referrer-Policy", value: "same-origin")
        return response
    }
}
