import Foundation
import Ledger
import class Vapor.Application
import protocol Vapor.StorageKey

/// The banks' credit lines to core enterprises: granting one, changing its limit, rate, expiry or status.
package enum CreditService {
    /// Each waits for a checker when the bank's rules say so.
    package static func grant(to coreId: OrgID, limitFen: Int64, rateBps: Int64, expiresOn: BusinessDate, by caller: Caller, app: Application) async throws -> Prepared<Outcome> {
        try await LedgerService.submitOrHold(.grantCredit(coreId: coreId, limitFen: limitFen, rateBps: rateBps, expiresOn: expiresOn), by: caller, app: app)
    }

    package static func update(_ change: UpdateCreditPayload, by caller: Caller, app: Application) async throws -> Prepared<Outcome> {
        try await LedgerService.submitOrHold(.updateCredit(change), by: caller, app: app)
    }
}
