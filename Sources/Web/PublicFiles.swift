import Core
import Leaf
import LeafKit
import NIOConcurrencyHelpers
import Vapor

/// The console's static files (`Public/`). The API serves no files, so its requests go straight
/// to their routes without a look at the disk.
package struct PublicFiles: AsyncMiddleware {
    package let files: FileMiddleware

    package init(files: FileMiddleware) {
        self.files = files
    }

    package func respond(to request: Request, chainingTo next: any AsyncResponder) async throws -> Response {
        if request.url.path.hasPrefix("/api/") { return try await next.respond(to: request) }
        return try await files.respond(to: request, chainingTo: next)
    }
}
