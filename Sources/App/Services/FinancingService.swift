import Foundation
import Ledger
import Vapor

/// Financing, from the supplier's request to the bank's payout.
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
