import Core
import Foundation
import Ledger
import Vapor

/// JSON shapes of the ledger objects, as every `GET` returns them.
package enum DTO {
    package static func token(_ t: Token) -> JSON {
        ["id": .string(t.id.description), "receivableId": .string(t.receivableId.description),
         "parentId": t.parentId.map { .string($0.description) } ?? .null, "holderId": .string(t.holderId.description),
         "amountFen": .int(t.amountFen), "tier": .int(t.tier), "status": .string(t.status.rawValue),
         "createdTx": .string(t.createdTx.description), "spentTx": t.spentTx.map { .string($0.description) } ?? .null]
    }

    /// A token with, when it was paid early, its `earlyPaymentId`.
    package static func token(_ t: Token, paidEarlyBy e: EarlyPayment?) -> JSON {
        guard let e, case .object(var fields) = token(t) else { return token(t) }
        fields["earlyPaymentId"] = .string(e.id.description)
        return .object(fields)
    }

    package static func receivable(_ r: Receivable) -> JSON {
        ["id": .string(r.id.description), "number": .string(r.number), "issuerId": .string(r.issuerId.description),
         "firstHolderId": .string(r.firstHolderId.description), "creditLineId": .string(r.creditLineId.description),
         "faceFen": .int(r.faceFen), "paidFen": .int(r.paidFen), "issueDate": .string(r.issueDate.description),
         "dueDate": .string(r.dueDate.description), "status": .string(r.status.rawValue), "memo": r.memo.map(JSON.string) ?? .null,
         "documents": .array(r.documents.map(\.json)), "termReview": .bool(r.termReview)]
    }

    package static func financing(_ f: Financing) -> JSON {
        ["id": .string(f.id.description), "tokenId": .string(f.tokenId.description), "supplierId": .string(f.supplierId.description),
         "bankId": .string(f.bankId.description), "amountFen": .int(f.amountFen), "rateBps": .int(f.rateBps), "days": .int(f.days),
         "interestFen": .int(f.interestFen), "payoutFen": .int(f.payoutFen), "status": .string(f.status.rawValue),
         "recourse": .bool(f.recourse), "filing": f.filing?.json ?? .null,
         "termReview": f.termReview.map { JSON.object(["reason": .string($0)]) } ?? .null]
    }

    package static func earlyPayment(_ e: EarlyPayment) -> JSON {
        ["id": .string(e.id.description), "tokenId": .string(e.tokenId.description), "receivableId": .string(e.receivableId.description),
         "supplierId": .string(e.supplierId.description), "issuerId": .string(e.issuerId.description), "amountFen": .int(e.amountFen),
         "rateBps": .int(e.rateBps), "days": .int(e.days), "discountFen": .int(e.discountFen), "payoutFen": .int(e.payoutFen),
         "status": .string(e.status.rawValue), "requestedOn": .string(e.requestedOn.description), "reference": e.reference.map(JSON.string) ?? .null]
    }

    package static func creditLine(_ l: CreditLine) -> JSON {
        ["id": .string(l.id.description), "bankId": .string(l.bankId.description), "coreId": .string(l.coreId.description),
         "limitFen": .int(l.limitFen), "usedFen": .int(l.usedFen), "rateBps": .int(l.rateBps),
         "expiresOn": .string(l.expiresOn.description), "status": .string(l.status.rawValue), "createdTx": .string(l.createdTx.description)]
    }

    /// `{transactionId, blockHeight, tokens, receivable?, financing?, creditLine?, earlyPayment?}` (SPEC §5).
    package static func outcome(_ o: Outcome) -> JSON {
        var fields: [JSONKey: JSON] = ["transactionId": .string(o.effects.transactionId.description), "blockHeight": .int(o.blockHeight),
                                      "tokens": .array(o.tokens.map(token))]
        if let r = o.receivable { fields["receivable"] = receivable(r) }
        if let f = o.financings.first { fields["financing"] = financing(f) }
        if let l = o.creditLine { fields["creditLine"] = creditLine(l) }
        if let e = o.earlyPayments.first { fields["earlyPayment"] = earlyPayment(e) }
        return .object(fields)
    }
}
