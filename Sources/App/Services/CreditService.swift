import Foundation
import Ledger
import Vapor

/// The banks' credit lines to core enterprises: granting one, changing its limit, rate, expiry or status.
enum CreditService {
    /// Each waits for a checker when the bank's rules say so.
    static func grant(to coreId: OrgID, limitFen: Int64, rateBps: Int64, expiresOn: BusinessDate, by caller: Caller, app: Application) async throws -> Prepared<Outcome> {
        try await LedgerService.submitOrHold(.grantCredit(coreId: coreId, limitFen: limitFen, rateBps: rateBps, expiresOn: expiresOn), by: caller, app: app)
    }

    static func update(_ change: UpdateCreditPayload, by caller: Caller, app: Application) async throws -> Prepared<Outcome> {
        try await LedgerService.submitOrHold(.updateCredit(change), by: caller, app: app)
    }
}
