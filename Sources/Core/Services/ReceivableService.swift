import Foundation
import Ledger
import class Vapor.Application
import protocol Vapor.StorageKey

/// The core enterprise's two workflows: issuing a receivable against a credit line, and paying
/// its pieces at maturity.
package enum ReceivableService {
    /// What the issuer fills in; the issue date is the business date of the transaction.
    package struct Issue: Sendable {
        package var supplierId: OrgID
        package var creditLineId: TxID
        package var faceFen: Int64
        package var dueDate: BusinessDate
        package var documents: [Document]
        package var memo: String?

        package init(supplierId: OrgID, creditLineId: TxID, faceFen: Int64, dueDate: BusinessDate, documents: [Document], memo: String?) {
            self.supplierId = supplierId
            self.creditLineId = creditLineId
            self.faceFen = faceFen
            self.dueDate = dueDate
            self.documents = documents
            self.memo = memo
        }
    }

    /// Waits for a checker when the core's rules say so (from the amount they set); approved
    /// on a later day, the receivable is issued on that day.
    package static func issue(_ issue: Issue, by caller: Caller, app: Application) async throws -> Prepared<Outcome> {
        let now = app.ledgerClock.nowMs()
        let payload = Payload.issue(IssuePayload(supplierId: issue.supplierId, creditLineId: issue.creditLineId, faceFen: issue.faceFen,
                                                 issueDate: BusinessDate(epochMs: now), dueDate: issue.dueDate, documents: issue.documents, memo: issue.memo))
        return try await LedgerService.submitOrHold(payload, by: caller, app: app, time: now)
    }

    /// What a settlement did: the transactions it took, in order (the last one's outcome shows the
    /// receivable as it then stood); or, for a core enterprise with a connected rail, the payments
    /// it instructed, one per holder, whose pieces are settled on the ledger as each one arrives.
    package struct Settlement: Sendable {
        package var outcomes: [Outcome]
        package var payments: [Payment] = []
    }

    /// Pays the listed pieces, or by default every active or locked piece of the receivable. A
    /// receivable split into more pieces than one transaction may list (`Limits.maxSettleTokens`)
    /// is paid in as many `settle` transactions as that takes, one after another, each under the
    /// same payment reference; it becomes `settled` when the last one lands. If one of them is
    /// refused, those before it stand and the error says so: settling again pays the rest.
    /// Waits for a checker when the core's rules say so.
    package static func settle(_ receivableId: TxID, tokenIds: [TokenID]?, reference: String, by viewer: Viewer, app: Application) async throws -> Prepared<Settlement> {
        try viewer.require(.core, to: "settle")
        guard try await ReceivableQueries.find(receivableId, visibleTo: viewer, on: app.sql) != nil else {
            throw LedgerError(.notFound, "no such receivable")
        }
        let operation: PreparedOperation = tokenIds.map { .ledger(.settle(receivableId: receivableId, tokenIds: $0, reference: reference)) }
            ?? .settleAll(receivableId: receivableId, reference: reference)
        if let approval = try await ApprovalService.hold(operation, by: viewer.caller, app: app) { return .pending(approval) }
        return .done(try await perform(receivableId, tokenIds: tokenIds, reference: reference, by: viewer, app: app))
    }

    /// The settlement itself, prepared or approved: through the core's rail when it has one.
    package static func perform(_ receivableId: TxID, tokenIds: [TokenID]?, reference: String, by viewer: Viewer, app: Application) async throws -> Settlement {
        if let route = try await PaymentService.settlementRoute(core: viewer.orgId, app: app) {
            return Settlement(outcomes: [], payments: try await PaymentService.instructSettlement(receivableId, tokenIds: tokenIds, reference: reference,
                                                                                                 by: viewer.caller, route: route, app: app))
        }
        if let tokenIds {
            return Settlement(outcomes: [try await LedgerService.submit(.settle(receivableId: receivableId, tokenIds: tokenIds, reference: reference), by: viewer.caller, app: app)])
        }
        return try await settleEveryPiece(receivableId, reference: reference, by: viewer, app: app)
    }

    /// Every active or locked piece, in as many transactions as that takes.
    package static func settleEveryPiece(_ receivableId: TxID, reference: String, by viewer: Viewer, app: Application) async throws -> Settlement {
        guard let receivable = try await ReceivableQueries.find(receivableId, visibleTo: viewer, on: app.sql) else {
            throw LedgerError(.notFound, "no such receivable")
        }
        var outcomes: [Outcome] = []
        var after: TokenID?
        while true {
            let chunk = try await ReceivableQueries.payableIds(of: receivableId, after: after, limit: Limits.maxSettleTokens, on: app.sql)
            guard let lastId = chunk.last else { break }
            do {
                outcomes.append(try await LedgerService.submit(.settle(receivableId: receivableId, tokenIds: chunk, reference: reference),
                                                               by: viewer.caller, app: app))
            } catch let error as LedgerError where !outcomes.isEmpty {
                throw LedgerError(error.code, "\(outcomes.count) of the settlement's transactions were committed before this one was refused: \(error.message); settle again to pay the rest",
                                  fields: error.fields)
            }
            after = lastId
        }
        guard !outcomes.isEmpty else { throw LedgerError(.tokenNotActive, "receivable \(receivable.number) has no active or locked piece to pay") }
        return Settlement(outcomes: outcomes)
    }
}
