import Foundation
import Ledger
import Vapor

/// Financing, from the supplier's request to the bank's payout, and the banks' credit lines.
enum FinancingService {
    static func request(_ tokenId: TokenID, from bankId: OrgID, by caller: Caller, app: Application) async throws -> Outcome {
        try await LedgerService.submit(.requestFinancing(tokenId: tokenId, bankId: bankId), by: caller, app: app)
    }

    static func approve(_ financingId: TxID, by caller: Caller, app: Application) async throws -> Outcome {
        try await LedgerService.submit(.approveFinancing(financingId: financingId), by: caller, app: app)
    }

    static func reject(_ financingId: TxID, by caller: Caller, app: Application) async throws -> Outcome {
        try await LedgerService.submit(.rejectFinancing(financingId: financingId), by: caller, app: app)
    }

    static func cancel(_ financingId: TxID, by caller: Caller, app: Application) async throws -> Outcome {
        try await LedgerService.submit(.cancelFinancing(financingId: financingId), by: caller, app: app)
    }

    static func confirmPayout(_ financingId: TxID, reference: String, by caller: Caller, app: Application) async throws -> Outcome {
        try await LedgerService.submit(.confirmPayout(financingId: financingId, reference: reference), by: caller, app: app)
    }
}

enum CreditService {
    static func grant(to coreId: OrgID, limitFen: Int64, rateBps: Int64, expiresOn: BusinessDate, by caller: Caller, app: Application) async throws -> Outcome {
        try await LedgerService.submit(.grantCredit(coreId: coreId, limitFen: limitFen, rateBps: rateBps, expiresOn: expiresOn), by: caller, app: app)
    }

    static func update(_ change: UpdateCreditPayload, by caller: Caller, app: Application) async throws -> Outcome {
        try await LedgerService.submit(.updateCredit(change), by: caller, app: app)
    }
}
