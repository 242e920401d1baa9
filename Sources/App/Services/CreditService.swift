import Foundation
import Ledger
import Vapor

/// The banks' credit lines to core enterprises: granting one, changing its limit, rate, expiry or status.
enum CreditService {
    static func grant(to coreId: OrgID, limitFen: Int64, rateBps: Int64, expiresOn: BusinessDate, by caller: Caller, app: Application) async throws -> Outcome {
        try await LedgerService.submit(.grantCredit(coreId: coreId, limitFen: limitFen, rateBps: rateBps, expiresOn: expiresOn), by: caller, app: app)
    }

    static func update(_ change: UpdateCreditPayload, by caller: Caller, app: Application) async throws -> Outcome {
        try await LedgerService.submit(.updateCredit(change), by: caller, app: app)
    }
}
