import Core
import Crypto
import Foundation
import Ledger
import SQLKit
import Vapor

/// Receivables: issue, lists and detail by visibility, the token tree, the clearing list and
/// settlement at maturity.
package enum ReceivableController {
    package static let maxListedSettleTokens = 1_000

    @Sendable package static func list(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        let page = try Page(req, keyCount: 2)
        var filter = ReceivableQueries.Filter(statuses: try req.queryEnum("status", ReceivableStatus.self).map { [$0] },
                                              issuerId: try req.queryId("issuerId", OrgID.init, "an org id (a lowercase UUID)"))
        if let due = try req.queryText("dueBefore", maxLength: 10) {
            guard let day = BusinessDate(due) else { throw LedgerError.invalid("dueBefore", "must be a date YYYY-MM-DD") }
            filter.dueBefore = day
        }
        return try await ReceivableQueries.list(filter, visibleTo: viewer, page: page, on: req.application.sql).json(DTO.receivable).response()
    }

    package static func find(_ req: Request, _ viewer: Viewer) async throws -> Receivable {
        guard let r = try await ReceivableQueries.find(try req.txIdParameter(), visibleTo: viewer, on: req.application.sql) else {
            throw Problem(.notFound, "no such receivable")
        }
        return r
    }

    @Sendable package static func show(req: Request) async throws -> Response {
        DTO.receivable(try await find(req, try await req.viewer())).response()
    }

    package static func tokens(of r: TxID, holder: OrgID? = nil, statuses: [TokenStatus]? = nil, on sql: any SQLDatabase) async throws -> [Token] {
        try await ReceivableQueries.tokens(of: r, holder: holder, statuses: statuses, on: sql)
    }

    /// `GET /receivables/{id}/tree?limit=&cursor=`: a page of every token descended from the
    /// receivable, spent ones included, with the holders' names: `{receivable, items: [token +
    /// holderName], nextCursor}`, in tier, creation and id order.
    @Sendable package static func tree(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        let r = try await find(req, viewer)
        let rows = try await TokenQueries.tree(of: r, visibleTo: viewer, page: try Page(req, keyCount: 3), on: req.application.sql)
        let early = try await EarlyPaymentQueries.paidEarly(rows.items.map(\.token), on: req.application.sql)
        let listed = try rows.json { item in
            guard case .object(var fields) = DTO.token(item.token, paidEarlyBy: early[item.token.id]) else { throw StoreDamage("token") }
            fields["holderName"] = .string(item.holderName)
            return .object(fields)
        }
        guard case .object(var answer) = listed else { throw StoreDamage("page") }
        answer["receivable"] = DTO.receivable(r)
        return JSON.object(answer).response()
    }


    /// `GET /receivables/{id}/clearing?limit=&cursor=`: who is to be paid how much at maturity —
    /// a page of the pieces that are live (pending, active, locked) or already settled (a piece
    /// paid early names its `earlyPaymentId`). A holder sees its own rows.
    @Sendable package static func clearing(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        let r = try await find(req, viewer)
        let rows = try await TokenQueries.clearing(of: r, visibleTo: viewer, page: try Page(req, keyCount: 3), on: req.application.sql)
        let early = try await EarlyPaymentQueries.paidEarly(rows.items, on: req.application.sql)
        let listed = rows.json { t in
            var item: [JSONKey: JSON] = ["tokenId": .string(t.id.description), "holderId": .string(t.holderId.description), "amountFen": .int(t.amountFen),
                                         "tier": .int(t.tier), "status": .string(t.status.rawValue)]
            if let e = early[t.id] { item["earlyPaymentId"] = .string(e.id.description) }
            return .object(item)
        }
        guard case .object(var answer) = listed else { throw StoreDamage("page") }
        for (k, v) in ["receivableId": JSON.string(r.id.description), "dueDate": .string(r.dueDate.description), "faceFen": .int(r.faceFen), "paidFen": .int(r.paidFen)] {
            answer[k] = v
        }
        return JSON.object(answer).response()
    }

    /// `POST /receivables {supplierId, creditLineId, faceFen, dueDate, documents?, memo?}`:
    /// the issue date is the business date of the transaction.
    @Sendable package static func create(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        var body = try StrictBody(req, allowed: ["supplierId", "creditLineId", "faceFen", "dueDate", "documents", "memo"])
        if body.fields["documents"] == nil { body.fields["documents"] = .array([]) }
        if body.fields["memo"] == .null { body.fields["memo"] = nil }
        // The ledger's own reader decodes the fields (with a stand-in issue date the service replaces).
        guard case .issue(let p) = try body.payload(.issue, adding: ["issueDate": .string(BusinessDate(epochMs: 0).description)]) else {
            throw StoreDamage("issue payload")
        }
        let issue = ReceivableService.Issue(supplierId: p.supplierId, creditLineId: p.creditLineId, faceFen: p.faceFen, dueDate: p.dueDate,
                                            documents: p.documents, memo: p.memo)
        return try await ReceivableService.issue(issue, by: viewer.caller, app: req.application).response(status: .created)
    }

    /// `POST /receivables/{id}/settle {tokenIds?, reference}`: by default every piece that is
    /// active or locked, in as many transactions as that takes (`transactionIds` lists them all).
    @Sendable package static func settle(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        let id = try req.txIdParameter()
        let body = try StrictBody(req, allowed: ["tokenIds", "reference"])
        var tokenIds: [TokenID]?
        if let listed = body.fields["tokenIds"], listed != .null {
            // Read with the ledger's own bounds (1 to 10,000 ids, no repeats).
            guard case .settle(_, let ids, _) = try StrictBody(fields: ["tokenIds": listed, "reference": "-"], path: "", allowed: ["tokenIds", "reference"])
                .payload(.settle, adding: ["receivableId": .string(id.description)]) else { throw StoreDamage("settle payload") }
            // A request names at most 1,000 pieces (a body stays small); without a list every
            // payable piece is paid, in as many transactions as that takes.
            guard ids.count <= Self.maxListedSettleTokens else {
                throw LedgerError.invalid("tokenIds", "must have 1 to \(Self.maxListedSettleTokens) items; leave it out to pay every piece")
            }
            tokenIds = ids
        }
        let reference = try body.string("reference", maxLength: Limits.maxReferenceLength)!
        switch try await ReceivableService.settle(id, tokenIds: tokenIds, reference: reference, by: viewer, app: req.application) {
        case .pending(let approval): return ApprovalController.held(approval)
        case .done(let settlement) where !settlement.payments.isEmpty:
            // Instructed on the core's rail: each piece is settled on the ledger as its payment arrives.
            return JSON.object(["payments": .array(settlement.payments.map { $0.json() })]).response(status: .accepted)
        case .done(let settlement): return settlementAnswer(settlement.outcomes).response()
        }
    }

    /// The last transaction's outcome (the receivable as it then stood), with every token and
    /// transaction of the settlement.
    package static func settlementAnswer(_ outcomes: [Outcome]) -> JSON {
        guard let last = outcomes.last, case .object(var answer) = DTO.outcome(last) else { return .null }
        answer["tokens"] = .array(outcomes.flatMap(\.tokens).map(DTO.token))
        answer["transactionIds"] = .array(outcomes.map { .string($0.effects.transactionId.description) })
        return .object(answer)
    }
}

/// Tokens: holdings lists.
extension TokenController {
    /// `GET /tokens?status=&receivableId=`: a holder's own tokens (live ones unless a status is
    /// asked for); the regulator and the operator see every token, spent ones included.
    @Sendable package static func list(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        let page = try Page(req, keyCount: 2)
        let status = try req.queryEnum("status", TokenStatus.self)
        let receivable = try req.queryId("receivableId", TxID.init, "a receivable id (64 lowercase hex characters)")
        return try await TokenQueries.list(status: status, receivableId: receivable, visibleTo: viewer, page: page, on: req.application.sql)
            .json(DTO.token).response()
    }
}
