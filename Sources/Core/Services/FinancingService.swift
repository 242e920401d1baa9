import Foundation
import Ledger
import class Vapor.Application
import protocol Vapor.StorageKey

/// Financing, from the supplier's request to the bank's payout.
package enum FinancingService {
    package static func request(_ tokenId: TokenID, from bankId: OrgID, recourse: Bool? = nil, by caller: Caller, app: Application) async throws -> Outcome {
        try await LedgerService.submit(.requestFinancing(tokenId: tokenId, bankId: bankId, recourse: recourse), by: caller, app: app)
    }

    /// Waits for a checker when the bank's rules say so. Approved, the payout goes out on the
    /// bank's rail when it has one (checked first: an e-CNY wallet's balance, and from a threshold
    /// the approving person's second factor, `otp`). The 中登网 `filing` and the `termReview`
    /// reason travel with a prepared approval, and are checked when it is prepared.
    package static func approve(_ financingId: TxID, filing: Filing? = nil, termReview: String? = nil, by caller: Caller, otp: String? = nil,
                                app: Application) async throws -> Prepared<Outcome> {
        let payload = Payload.approveFinancing(financingId: financingId, filing: filing, termReview: termReview)
        if let approval = try await ApprovalService.hold(.ledger(payload), by: caller, app: app) { return .pending(approval) }
        return .done(try await performApproval(payload, by: caller, otp: otp, app: app))
    }

    /// The approval itself, prepared alone or approved by a checker.
    package static func performApproval(_ payload: Payload, by caller: Caller, otp: String?, app: Application) async throws -> Outcome {
        guard case .approveFinancing(let id, _, _) = payload else { throw StoreDamage("approveFinancing payload") }
        let reserved = try await PaymentService.checkPayout(of: id, by: caller, otp: otp, app: app)
        let outcome: Outcome
        do {
            outcome = try await LedgerService.submit(payload, by: caller, app: app)
        } catch let refused as LedgerError {
            // Refused: no payout follows from this request, and what its check reserved is free
            // at once, unless another request approved the financing meanwhile (the hold is then
            // that payout's). Of unknown fate, the reservation stays until the sweep knows.
            if let reserved, try await app.requireSequencer().read({ $0.financings[id]?.status }) != .approved {
                try? await BalanceHolds.release([reserved], on: app.sql)
            }
            throw refused
        }
        await PaymentService.approved(outcome, app: app)
        return outcome
    }

    package static func reject(_ financingId: TxID, by caller: Caller, app: Application) async throws -> Outcome {
        try await LedgerService.submit(.rejectFinancing(financingId: financingId), by: caller, app: app)
    }

    package static func cancel(_ financingId: TxID, by caller: Caller, app: Application) async throws -> Outcome {
        try await LedgerService.submit(.cancelFinancing(financingId: financingId), by: caller, app: app)
    }

    /// Waits for a checker when the bank's rules say so.
    package static func confirmPayout(_ financingId: TxID, reference: String, by caller: Caller, app: Application) async throws -> Prepared<Outcome> {
        try await LedgerService.submitOrHold(.confirmPayout(financingId: financingId, reference: reference), by: caller, app: app)
    }

    /// Every bank's offer for `token` today — from the lines it granted the token's issuer, the
    /// numbers a request would fix — with the bank's name. Banks that cannot finance it today are
    /// left out, and a token that is not active has no offers (only an active one can be financed).
    package static func quotes(for token: Token, app: Application) async throws -> [(FinancingQuote, String)] {
        guard token.status == .active else { return [] }
        let today = app.businessDate
        return try await app.requireSequencer().read { state in
            guard let issuer = state.receivables[token.receivableId]?.issuerId else { return [] }
            let banks = Set(state.creditLines.values.filter { $0.coreId == issuer }.map(\.bankId)).sorted()
            return banks.compactMap { bank in
                guard case .success(let q) = state.quote(tokenId: token.id, bank: bank, on: today) else { return nil }
                return (q, state.orgs[bank]?.name ?? "")
            }
        }
    }
}
