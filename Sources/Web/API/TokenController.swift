import Core
import Foundation
import Ledger
import SQLKit
import Vapor

/// Token reads from the projections: `GET /tokens/{id}` and `GET /tokens/{id}/ancestry`.
/// Visible to the holder, the issuer of its receivable, the regulator and the operator; to
/// anyone else it does not exist (404). The holder of a token also sees its ancestry.
package enum TokenController {

    /// The token named in the path, if the caller may see it; otherwise it does not exist.
    package static func visibleToken(_ req: Request) async throws -> Token {
        guard let token = try await TokenQueries.find(try req.tokenIdParameter(), visibleTo: try await req.viewer(), on: req.application.sql) else {
            throw Problem(.notFound, "no such token")
        }
        return token
    }

    @Sendable package static func show(req: Request) async throws -> Response {
        let token = try await visibleToken(req)
        let early = try await EarlyPaymentQueries.paidEarly([token], on: req.application.sql)[token.id]
        return DTO.token(token, paidEarlyBy: early).response()
    }

    /// `?limit=&cursor=` → `{items: [the token, its parent, …, the first token], nextCursor}`, a
    /// page at a time: a chain of splits has no bound on its length.
    @Sendable package static func ancestry(req: Request) async throws -> Response {
        let token = try await visibleToken(req)
        let page = try Page(req, keyCount: 1)
        // The cursor holds how many steps up the next page starts; the walk always starts at the
        // token the caller may see, so no cursor can reach a token off its path.
        let depth = page.after?.first?.intValue ?? 0
        guard depth >= 0 else { throw LedgerError.invalid("cursor", "is not a cursor this list gave out") }
        let (path, more) = try await TokenQueries.ancestry(of: token.id, from: depth, limit: page.limit, on: req.application.sql)
        let early = try await EarlyPaymentQueries.paidEarly(path, on: req.application.sql)
        return JSON.object(["items": .array(path.map { DTO.token($0, paidEarlyBy: early[$0.id]) }),
                            "nextCursor": more ? .string(Page.cursor([.int(depth + Int64(path.count))])) : .null]).response()
    }
}

extension Request {
    /// The `:id` path parameter as a token id, or 422 naming the field.
    package func tokenIdParameter() throws -> TokenID {
        guard let text = parameters.get("id"), let id = TokenID(text) else {
            throw LedgerError.invalid("id", "must be a token id (32 lowercase hex characters)")
        }
        return id
    }
}
