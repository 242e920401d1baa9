import Core
import Fluent
import Ledger
import SQLKit
import Vapor

/// Pages behind sign-in send a visitor without a session to the login page.
package struct ConsoleSignInRedirect: AsyncMiddleware {
    package func respond(to req: Request, chainingTo next: any AsyncResponder) async throws -> Response {
        guard req.auth.has(Caller.self) else {
            if req.method == .GET { return Response(status: .seeOther, headers: ["Location": "/login"]) }
            throw Problem(.unauthorized, "sign in first")
        }
        return try await next.respond(to: req)
    }
}
