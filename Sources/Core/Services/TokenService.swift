import Foundation
import Ledger
import class Vapor.Application
import protocol Vapor.StorageKey

/// A holder's work on its tokens — answering an offer, paying a supplier, splitting — for the
/// JSON API and the console alike.
package enum TokenService {
    package static func accept(_ tokenId: TokenID, by caller: Caller, app: Application) async throws -> Outcome {
        try await LedgerService.submit(.accept(tokenId: tokenId), by: caller, app: app)
    }

    package static func reject(_ tokenId: TokenID, by caller: Caller, app: Application) async throws -> Outcome {
        try await LedgerService.submit(.reject(tokenId: tokenId), by: caller, app: app)
    }

    /// Pays `amountFen` of the token to another supplier; the rest stays with the holder as change.
    package static func transfer(_ tokenId: TokenID, to toOrgId: OrgID, amountFen: Int64, memo: String?, by caller: Caller, app: Application) async throws -> Outcome {
        try await LedgerService.submit(.transfer(tokenId: tokenId, toOrgId: toOrgId, amountFen: amountFen, memo: memo), by: caller, app: app)
    }

    package static func split(_ tokenId: TokenID, into amountsFen: [Int64], by caller: Caller, app: Application) async throws -> Outcome {
        try await LedgerService.submit(.split(tokenId: tokenId, amountsFen: amountsFen), by: caller, app: app)
    }
}
