import Foundation
import Ledger
import SQLKit

/// What a block means to the people involved, written in the block's own database transaction:
/// one event per org concerned for each transaction, and the payments the chain records.
enum Feed {
    struct Event: Equatable {
        var orgId: OrgID
        var type: TxType
        var transactionId: TxID
        var summary: String
    }

    /// The orgs a transaction concerns: its parties (the signer, every org its payload names,
    /// the holders of its outputs) and the other side of what it changed — the holder whose
    /// offer was accepted or refused, the issuer whose paper moved, the bank and supplier of
    /// a financing.
    static func concerned(_ tx: Transaction, _ effects: TxEffects, in state: LedgerState) -> [OrgID] {
        var orgs = ChainController.parties(of: tx.body)
        for id in effects.tokens {
            guard let token = state.tokens[id] else { continue }
            orgs.insert(token.holderId)
            if let parent = token.parentId.flatMap({ state.tokens[$0] }) { orgs.insert(parent.holderId) }
            if let r = state.receivables[token.receivableId] { orgs.insert(r.issuerId) }
        }
        for id in effects.financingIds {
            guard let f = state.financings[id] else { continue }
            orgs.insert(f.supplierId)
            orgs.insert(f.bankId)
        }
        if let line = effects.creditLineId.flatMap({ state.creditLines[$0] }) {
            orgs.insert(line.bankId)
            orgs.insert(line.coreId)
        }
        return orgs.sorted()
    }

    static func events(_ tx: Transaction, _ effects: TxEffects, in state: LedgerState) -> [Event] {
        let summary = summary(tx, effects, in: state)
        return concerned(tx, effects, in: state).map { Event(orgId: $0, type: tx.body.type, transactionId: tx.id, summary: summary) }
    }

    /// One line a clerk understands, in the platform's language of record.
    static func summary(_ tx: Transaction, _ effects: TxEffects, in state: LedgerState) -> String {
        func name(_ id: OrgID) -> String { state.orgs[id]?.name ?? id.description }
        func amount(_ id: TokenID) -> String { state.tokens[id].map { Money.format($0.amountFen) } ?? "?" }
        let signer = name(tx.body.orgId)
        switch tx.body.payload {
        case .registerOrg(let p): return "\(p.name) registered as \(p.role.rawValue)"
        case .rotateKey(let o, _): return "signing key of \(name(o)) replaced"
        case .setOrgStatus(let o, let status): return "\(name(o)) is now \(status.rawValue)"
        case .setPolicy: return "policy changed"
        case .grantCredit(let core, let limit, let rate, let expires):
            return "\(signer) granted \(name(core)) a credit line of \(Money.format(limit)) at \(rate) bps until \(expires)"
        case .updateCredit: return "\(signer) changed a credit line"
        case .issue(let p):
            let number = effects.receivableId.flatMap { state.receivables[$0]?.number } ?? ""
            return "\(signer) issued receivable \(number) of \(Money.format(p.faceFen)) to \(name(p.supplierId)), due \(p.dueDate)"
        case .accept(let t): return "\(signer) accepted \(amount(t))"
        case .reject(let t): return "\(signer) refused \(amount(t))"
        case .transfer(_, let to, let amountFen, _): return "\(signer) paid \(Money.format(amountFen)) to \(name(to))"
        case .split(let t, let amounts): return "\(signer) split \(amount(t)) into \(amounts.count) pieces"
        case .requestFinancing(let t, let bank): return "\(signer) asked \(name(bank)) to finance \(amount(t))"
        case .approveFinancing(let f): return "\(signer) approved financing of \(state.financings[f].map { Money.format($0.amountFen) } ?? "?")"
        case .rejectFinancing(let f): return "\(signer) declined financing of \(state.financings[f].map { Money.format($0.amountFen) } ?? "?")"
        case .cancelFinancing(let f): return "\(signer) withdrew its financing request of \(state.financings[f].map { Money.format($0.amountFen) } ?? "?")"
        case .confirmPayout(let f, let reference):
            return "\(signer) paid out \(state.financings[f].map { Money.format($0.payoutFen) } ?? "?") (reference \(reference))"
        case .settle(let r, let tokens, let reference):
            let paid = Money.sum(tokens.compactMap { state.tokens[$0]?.amountFen }) ?? 0
            return "\(signer) paid \(Money.format(paid)) on receivable \(state.receivables[r]?.number ?? "?") (reference \(reference))"
        case .expireOffer(let t): return "offer of \(amount(t)) expired"
        case .markOverdue(let r): return "receivable \(state.receivables[r]?.number ?? "?") is overdue"
        }
    }

    /// Money the chain records as paid: a financing's payout to its supplier, and each token a
    /// core enterprise settled at maturity, to its holder.
    static func payments(_ tx: Transaction, time: Int64, in state: LedgerState) -> [[Cell]] {
        switch tx.body.payload {
        case .confirmPayout(let id, let reference):
            guard let f = state.financings[id] else { return [] }
            return [[.text(id.description), .text("payout"), .text(tx.id.description), .text(f.bankId.description), .text(f.supplierId.description),
                     .int(f.payoutFen), .text(reference), .text(f.receivableId.description), .int(time)]]
        case .settle(let r, let tokens, let reference):
            guard let receivable = state.receivables[r] else { return [] }
            return tokens.compactMap { state.tokens[$0] }.map { t in
                [.text(t.id.description), .text("settlement"), .text(tx.id.description), .text(receivable.issuerId.description), .text(t.holderId.description),
                 .int(t.amountFen), .text(reference), .text(r.description), .int(time)]
            }
        default: return []
        }
    }

    static let paymentColumns = ["id", "kind", "transaction_id", "payer_id", "payee_id", "amount_fen", "reference", "receivable_id", "time_ms"]

    /// Writes a block's events and payments inside the block's database transaction.
    static func write(_ block: Block, effects: [TxEffects], state: LedgerState, on db: any SQLDatabase) async throws {
        let last = try await db.raw("SELECT MAX(seq) AS seq FROM events").first()
        var seq = try last.flatMap { try $0.decodeNil(column: "seq") ? nil : try $0.decode(column: "seq", as: Int64.self) } ?? 0
        var eventRows: [[Cell]] = [], paymentRows: [[Cell]] = []
        for (tx, e) in zip(block.transactions, effects) {
            for event in events(tx, e, in: state) {
                seq += 1
                eventRows.append([.int(seq), .text(event.orgId.description), .int(block.header.time), .text(event.type.rawValue),
                                  .text(event.transactionId.description), .text(event.summary)])
            }
            paymentRows += payments(tx, time: block.header.time, in: state)
        }
        for chunk in eventRows.chunked(200) {
            let insert = db.insert(into: "events").columns("seq", "org_id", "time_ms", "type", "transaction_id", "summary")
            for row in chunk { insert.values(row.map(\.expression)) }
            try await insert.run()
        }
        for chunk in paymentRows.chunked(200) {
            let insert = db.insert(into: "payments").columns(paymentColumns)
            for row in chunk { insert.values(row.map(\.expression)) }
            try await insert.run()
        }
    }
}

/// Who did what outside the chain: sign-ins (and failed ones, with the address), API keys made
/// and revoked, users added; and, from the chain, policy changes and suspensions.
enum AuditLog {
    struct Entry {
        var action: String
        var orgId: OrgID? = nil
        var userId: String? = nil
        var email: String? = nil
        var address: String? = nil
        var detail: String
    }

    static func record(_ e: Entry, nowMs: Int64, on db: any SQLDatabase) async throws {
        // Concurrent writers (sign-ins happen outside the sequencer) retry on a taken sequence number.
        for attempt in 0..<8 {
            let last = try await db.raw("SELECT MAX(seq) AS seq FROM audit_log").first()
            let seq = (try last.flatMap { try $0.decodeNil(column: "seq") ? nil : try $0.decode(column: "seq", as: Int64.self) } ?? 0) + 1
            do {
                try await db.insert(into: "audit_log").columns("seq", "time_ms", "action", "org_id", "user_id", "email", "address", "detail")
                    .values(SQLBind(seq), SQLBind(nowMs), SQLBind(e.action), e.orgId.map { SQLBind($0.description) } ?? SQLBind(String?.none),
                            SQLBind(e.userId), SQLBind(e.email), SQLBind(e.address), SQLBind(e.detail))
                    .run()
                return
            } catch where attempt < 7 {
                continue
            }
        }
    }
}
