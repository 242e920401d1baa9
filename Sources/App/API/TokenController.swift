import Foundation
import Ledger
import SQLKit
import Vapor

/// Token reads from the projections: `GET /tokens/{id}` and `GET /tokens/{id}/ancestry`.
/// Visible to the holder, the issuer of its receivable, the regulator and the operator; to
/// anyone else it does not exist (404). The holder of a token also sees its ancestry.
enum TokenController {
    static let columns = "t.id, t.receivable_id, t.parent_id, t.holder_id, t.amount_fen, t.tier, t.status, t.created_tx, t.spent_tx, t.created_on, r.issuer_id"

    /// A token as its projection row holds it, and the core enterprise that issued it.
    static func fetch(_ id: TokenID, on sql: any SQLDatabase) async throws -> (token: Token, issuerId: OrgID)? {
        guard let row = try await sql.raw("""
            SELECT \(unsafeRaw: columns) FROM tokens t JOIN receivables r ON r.id = t.receivable_id WHERE t.id = \(bind: id.description)
            """).first() else { return nil }
        let reader = RowReader(row, "tokens")
        return (try reader.token, try reader.parsed("issuer_id", OrgID.init))
    }

    /// The token named in the path, if the caller may see it; otherwise it does not exist.
    static func visibleToken(_ req: Request) async throws -> Token {
        let caller = try req.auth.require(Caller.self)
        let sql = req.application.sql
        guard let (token, issuer) = try await fetch(try req.tokenIdParameter(), on: sql) else { throw Problem(.notFound, "no such token") }
        let role = try await Accounts.role(of: caller.orgId, on: sql)
        guard role == .regulator || role == .operator || token.holderId == caller.orgId || issuer == caller.orgId else {
            throw Problem(.notFound, "no such token")
        }
        return token
    }

    @Sendable static func show(req: Request) async throws -> Response {
        DTO.token(try await visibleToken(req)).response()
    }

    /// `?limit=&cursor=` → `{items: [the token, its parent, …, the first token], nextCursor}`, a
    /// page at a time: a chain of splits has no bound on its length.
    @Sendable static func ancestry(req: Request) async throws -> Response {
        let token = try await visibleToken(req)
        let page = try Page(req, keyCount: 1)
        // The cursor holds how many steps up the next page starts; the walk always starts at the
        // token the caller may see, so no cursor can reach a token off its path.
        let depth = page.after?.first?.intValue ?? 0
        guard depth >= 0 else { throw LedgerError.invalid("cursor", "is not a cursor this list gave out") }
        let (path, more) = try await TokenQueries.ancestry(of: token.id, from: depth, limit: page.limit, on: req.application.sql)
        return JSON.object(["items": .array(path.map(DTO.token)),
                            "nextCursor": more ? .string(Page.cursor([.int(depth + Int64(path.count))])) : .null]).response()
    }
}

extension Request {
    /// The `:id` path parameter as a token id, or 422 naming the field.
    func tokenIdParameter() throws -> TokenID {
        guard let text = parameters.get("id"), let id = TokenID(text) else {
            throw LedgerError.invalid("id", "must be a token id (32 lowercase hex characters)")
        }
        return id
    }
}
