import Ledger

/// A column value as the projection tables hold it.
package enum Cell: Equatable, Sendable, CustomStringConvertible {
    case text(String)
    case int(Int64)
    case null

    package var description: String {
        switch self {
        case .text(let s): "'\(s)'"
        case .int(let n): String(n)
        case .null: "NULL"
        }
    }
}

/// The one mapping from ledger objects to projection rows: the block writer writes with it, and
/// `cascade verify` compares the tables with the replayed state through it.
package enum Projection {
    package struct Table: Sendable {
        package let name: String
        package let columns: [String]  // the first is the primary key
        package let isInteger: Set<String>
    }

    package static let orgs = Table(name: "orgs", columns: ["id", "name", "role", "credit_code", "public_key", "key_id", "status", "registered_tx",
                                                                  "in_default", "default_reason"], isInteger: ["in_default"])
    package static let creditLines = Table(name: "credit_lines", columns: ["id", "bank_id", "core_id", "limit_fen", "used_fen", "rate_bps", "expires_on", "status", "created_tx"],
                                   isInteger: ["limit_fen", "used_fen", "rate_bps"])
    package static let receivables = Table(name: "receivables", columns: ["id", "number", "issuer_id", "first_holder_id", "credit_line_id", "face_fen", "paid_fen", "issue_date",
                                                                  "due_date", "documents", "memo", "status", "first_token_id", "term_review", "overdue_on"],
                                   isInteger: ["face_fen", "paid_fen", "term_review"])
    package static let tokens = Table(name: "tokens", columns: ["id", "receivable_id", "parent_id", "holder_id", "amount_fen", "tier", "status", "created_tx", "spent_tx", "created_on"],
                              isInteger: ["amount_fen", "tier"])
    package static let financings = Table(name: "financings", columns: ["id", "token_id", "receivable_id", "supplier_id", "bank_id", "credit_line_id", "amount_fen", "rate_bps", "days",
                                                                "interest_fen", "payout_fen", "status", "requested_on", "bank_token_id", "payout_reference",
                                                                "recourse", "filing_number", "filed_on", "term_review_reason"],
                                  isInteger: ["amount_fen", "rate_bps", "days", "interest_fen", "payout_fen", "recourse"])
    package static let earlyPayments = Table(name: "early_payments", columns: ["id", "token_id", "receivable_id", "supplier_id", "issuer_id", "amount_fen", "rate_bps",
                                                                       "days", "discount_fen", "payout_fen", "status", "requested_on", "reference"],
                                             isInteger: ["amount_fen", "rate_bps", "days", "discount_fen", "payout_fen"])
    package static let policy = Table(name: "policy", columns: ["id", "body"], isInteger: ["id"])

    package static let all = [orgs, creditLines, receivables, tokens, financings, earlyPayments, policy]

    package static func id(_ v: some CustomStringConvertible) -> Cell { .text(v.description) }
    package static func id(_ v: (some CustomStringConvertible)?) -> Cell { v.map { .text($0.description) } ?? .null }
    package static func flag(_ b: Bool) -> Cell { .int(b ? 1 : 0) }

    package static func row(_ o: Org) -> [Cell] {
        [id(o.id), .text(o.name), .text(o.role.rawValue), .text(o.creditCode), .text(Base64.encode(o.publicKey)), .text(o.keyId),
         .text(o.status.rawValue), id(o.registeredTx), flag(o.inDefault), id(o.defaultReason)]
    }

    package static func row(_ l: CreditLine) -> [Cell] {
        [id(l.id), id(l.bankId), id(l.coreId), .int(l.limitFen), .int(l.usedFen), .int(l.rateBps), id(l.expiresOn), .text(l.status.rawValue), id(l.createdTx)]
    }

    package static func row(_ r: Receivable) -> [Cell] {
        let documents = JSON.array(r.documents.map(\.json))
        return [id(r.id), .text(r.number), id(r.issuerId), id(r.firstHolderId), id(r.creditLineId), .int(r.faceFen), .int(r.paidFen),
                id(r.issueDate), id(r.dueDate), .text(documents.canonicalString), r.memo.map(Cell.text) ?? .null, .text(r.status.rawValue),
                id(r.firstTokenId), flag(r.termReview), id(r.overdueOn)]
    }

    package static func row(_ t: Token) -> [Cell] {
        [id(t.id), id(t.receivableId), id(t.parentId), id(t.holderId), .int(t.amountFen), .int(t.tier), .text(t.status.rawValue),
         id(t.createdTx), id(t.spentTx), id(t.createdOn)]
    }

    package static func row(_ f: Financing) -> [Cell] {
        [id(f.id), id(f.tokenId), id(f.receivableId), id(f.supplierId), id(f.bankId), id(f.creditLineId), .int(f.amountFen), .int(f.rateBps),
         .int(f.days), .int(f.interestFen), .int(f.payoutFen), .text(f.status.rawValue), id(f.requestedOn), id(f.bankTokenId),
         id(f.payoutReference), flag(f.recourse), id(f.filing?.number), id(f.filing?.filedOn), id(f.termReview)]
    }

    package static func row(_ e: EarlyPayment) -> [Cell] {
        [id(e.id), id(e.tokenId), id(e.receivableId), id(e.supplierId), id(e.issuerId), .int(e.amountFen), .int(e.rateBps), .int(e.days),
         .int(e.discountFen), .int(e.payoutFen), .text(e.status.rawValue), id(e.requestedOn), id(e.reference)]
    }

    package static func row(_ p: Policy) -> [Cell] { [.int(1), .text(p.json.canonicalString)] }

    /// Every row the state implies, table by table, keyed by primary key.
    package static func rows(of state: LedgerState) -> [String: [String: [Cell]]] {
        func keyed(_ rows: [[Cell]]) -> [String: [Cell]] {
            Dictionary(uniqueKeysWithValues: rows.map { (key(of: $0), $0) })
        }
        return [
            orgs.name: keyed(state.orgs.values.map(row)),
            creditLines.name: keyed(state.creditLines.values.map(row)),
            receivables.name: keyed(state.receivables.values.map(row)),
            tokens.name: keyed(state.tokens.values.map(row)),
            financings.name: keyed(state.financings.values.map(row)),
            earlyPayments.name: keyed(state.earlyPayments.values.map(row)),
            policy.name: keyed([row(state.policy)]),
        ]
    }

    package static func key(of row: [Cell]) -> String {
        switch row[0] {
        case .text(let s): s
        case .int(let n): String(n)
        case .null: ""
        }
    }

    /// The rows a block's transactions touched, from the state after the block.
    package static func touchedRows(_ effects: [TxEffects], in state: LedgerState) -> [(Table, [[Cell]])] {
        var tokenIds: [TokenID] = [], seenTokens = Set<TokenID>()
        var receivableIds = Set<TxID>(), financingIds = Set<TxID>(), earlyPaymentIds = Set<TxID>(), lineIds = Set<TxID>(), orgIds = Set<OrgID>()
        var policyChanged = false
        for e in effects {
            for t in e.tokens where seenTokens.insert(t).inserted { tokenIds.append(t) }
            if let r = e.receivableId, e.receivableChanged { receivableIds.insert(r) }
            financingIds.formUnion(e.financingIds)
            earlyPaymentIds.formUnion(e.earlyPaymentIds)
            if let l = e.creditLineId { lineIds.insert(l) }
            if let o = e.orgId { orgIds.insert(o) }
            policyChanged = policyChanged || e.policyChanged
        }
        return [
            (orgs, orgIds.sorted().compactMap { state.orgs[$0] }.map(row)),
            (creditLines, lineIds.sorted().compactMap { state.creditLines[$0] }.map(row)),
            (receivables, receivableIds.sorted().compactMap { state.receivables[$0] }.map(row)),
            (tokens, tokenIds.compactMap { state.tokens[$0] }.map(row)),
            (financings, financingIds.sorted().compactMap { state.financings[$0] }.map(row)),
            (earlyPayments, earlyPaymentIds.sorted().compactMap { state.earlyPayments[$0] }.map(row)),
            (policy, policyChanged ? [row(state.policy)] : []),
        ].filter { !$0.1.isEmpty }
    }
}
