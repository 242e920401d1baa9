import Core
import Foundation
import Ledger
import SQLKit
import Vapor

/// On an observer node nothing is written: every POST, PUT, PATCH and DELETE but signing in and
/// out is refused with 403. On a read-only replica (a node serving from a PostgreSQL standby),
/// signing in too: sessions and keys are made on the writer, and reach the replica with the rest.
package struct ReadOnlyNode: AsyncMiddleware {

    package init() {
    }
    package static let allowed: Set<String> = ["/api/v1/auth/login", "/api/v1/auth/logout", "/login", "/logout"]

    package func respond(to req: Request, chainingTo next: any AsyncResponder) async throws -> Response {
        let writes = [.POST, .PUT, .PATCH, .DELETE].contains(req.method)
        if writes, req.application.follower != nil, !Self.allowed.contains(req.url.path) {
            throw LedgerError(.forbidden, "this is a read-only observer node; send writes to the writer it follows")
        }
        if writes, req.application.readOnlyReplica {
            // A replica's database takes no writes at all, sign-ins included.
            throw LedgerError(.forbidden, "this is a read-only replica of the writer's database; sign in and send writes to the writer")
        }
        return try await next.respond(to: req)
    }
}
