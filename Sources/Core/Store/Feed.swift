import Foundation
import Ledger
import SQLKit

/// What a block means to the people involved, written in the block's own database transaction:
/// one event per org concerned for each transaction, and the payments the chain records.
package enum Feed {
    package struct Event: Equatable {
        package var orgId: OrgID
        package var type: TxType
        package var transactionId: TxID
        package var summary: String
        package var summaryZh: String
    }

    /// The orgs a transaction concerns: its parties (the signer, every org its payload names,
    /// the holders of its outputs) and the other side of what it changed — the sender whose
    /// offer was accepted, refused or expired, the issuer whose paper moved, the bank and
    /// supplier of a financing. Not whoever held a piece before: a supplier's feed shows its
    /// own business, not what its buyers do with what it paid them (SPEC §5).
    package static func concerned(_ tx: Transaction, _ effects: TxEffects, in state: LedgerState) -> [OrgID] {
        var orgs = tx.body.parties
        let answersAnOffer: Bool
        switch tx.body.payload {
        case .accept, .reject, .expireOffer: answersAnOffer = true
        default: answersAnOffer = false
        }
        for id in effects.tokens {
            guard let token = state.tokens[id] else { continue }
            orgs.insert(token.holderId)
            if answersAnOffer, let parent = token.parentId.flatMap({ state.tokens[$0] }) { orgs.insert(parent.holderId) }
            if let r = state.receivables[token.receivableId] { orgs.insert(r.issuerId) }
        }
        for id in effects.financingIds {
            guard let f = state.financings[id] else { continue }
            orgs.insert(f.supplierId)
            orgs.insert(f.bankId)
        }
        for id in effects.earlyPaymentIds {
            guard let e = state.earlyPayments[id] else { continue }
            orgs.insert(e.supplierId)
            orgs.insert(e.issuerId)
        }
        if let line = effects.creditLineId.flatMap({ state.creditLines[$0] }) {
            orgs.insert(line.bankId)
            orgs.insert(line.coreId)
        }
        return orgs.sorted()
    }

    package static func events(_ tx: Transaction, _ effects: TxEffects, in state: LedgerState) -> [Event] {
        let summary = summary(tx, effects, in: state)
        let summaryZh = Self.summary(tx, effects, in: state, zh: true)
        return concerned(tx, effects, in: state).map { Event(orgId: $0, type: tx.body.type, transactionId: tx.id, summary: summary, summaryZh: summaryZh) }
    }

    /// One line a clerk understands, in English (`zh` false) or Chinese.
    package static func summary(_ tx: Transaction, _ effects: TxEffects, in state: LedgerState, zh: Bool = false) -> String {
        func name(_ id: OrgID) -> String { state.orgs[id]?.name ?? id.description }
        func amount(_ id: TokenID) -> String { state.tokens[id].map { Money.format($0.amountFen) } ?? "?" }
        func financed(_ id: TxID, payout: Bool = false) -> String { state.financings[id].map { Money.format(payout ? $0.payoutFen : $0.amountFen) } ?? "?" }
        func early(_ id: TxID, payout: Bool = false) -> String { state.earlyPayments[id].map { Money.format(payout ? $0.payoutFen : $0.amountFen) } ?? "?" }
        func number(_ id: TxID?) -> String { id.flatMap { state.receivables[$0]?.number } ?? "?" }
        let signer = name(tx.body.orgId)
        switch tx.body.payload {
        case .registerOrg(let p): return zh ? "\(p.name) 注册为\(p.role.rawValue)" : "\(p.name) registered as \(p.role.rawValue)"
        case .rotateKey(let o, _): return zh ? "\(name(o)) 更换了签名密钥" : "signing key of \(name(o)) replaced"
        case .setOrgStatus(let o, let status):
            return zh ? "\(name(o)) \(status == .suspended ? "已暂停" : "已恢复")" : "\(name(o)) is now \(status.rawValue)"
        case .setPolicy: return zh ? "平台规则已调整" : "policy changed"
        case .grantCredit(let core, let limit, let rate, let expires):
            return zh ? "\(signer) 向 \(name(core)) 授信 \(Money.format(limit))，年化 \(rate) bp，至 \(expires)"
                : "\(signer) granted \(name(core)) a credit line of \(Money.format(limit)) at \(rate) bps until \(expires)"
        case .updateCredit: return zh ? "\(signer) 调整了授信额度" : "\(signer) changed a credit line"
        case .issue(let p):
            return zh ? "\(signer) 向 \(name(p.supplierId)) 开立凭证 \(number(effects.receivableId))，金额 \(Money.format(p.faceFen))，\(p.dueDate) 到期"
                : "\(signer) issued receivable \(number(effects.receivableId)) of \(Money.format(p.faceFen)) to \(name(p.supplierId)), due \(p.dueDate)"
        case .accept(let t): return zh ? "\(signer) 签收 \(amount(t))" : "\(signer) accepted \(amount(t))"
        case .reject(let t): return zh ? "\(signer) 拒收 \(amount(t))" : "\(signer) refused \(amount(t))"
        case .transfer(_, let to, let amountFen, _):
            return zh ? "\(signer) 向 \(name(to)) 转让支付 \(Money.format(amountFen))" : "\(signer) paid \(Money.format(amountFen)) to \(name(to))"
        case .split(let t, let amounts):
            return zh ? "\(signer) 将 \(amount(t)) 拆分为 \(amounts.count) 份" : "\(signer) split \(amount(t)) into \(amounts.count) pieces"
        case .requestFinancing(let t, let bank, let recourse):
            let withRecourse = recourse == true
            return zh ? "\(signer) 向 \(name(bank)) 申请\(withRecourse ? "有追索权" : "")融资 \(amount(t))"
                : "\(signer) asked \(name(bank)) to finance \(amount(t))\(withRecourse ? " with recourse" : "")"
        case .approveFinancing(let f, let filing, _):
            let filed = filing.map { (zh ? "，中登网登记 " : ", 中登网 filing ") + $0.number } ?? ""
            return zh ? "\(signer) 批准融资 \(financed(f))\(filed)" : "\(signer) approved financing of \(financed(f))\(filed)"
        case .rejectFinancing(let f): return zh ? "\(signer) 拒绝融资 \(financed(f))" : "\(signer) declined financing of \(financed(f))"
        case .cancelFinancing(let f): return zh ? "\(signer) 撤回融资申请 \(financed(f))" : "\(signer) withdrew its financing request of \(financed(f))"
        case .confirmPayout(let f, let reference):
            return zh ? "\(signer) 已放款 \(financed(f, payout: true))（流水号 \(reference)）" : "\(signer) paid out \(financed(f, payout: true)) (reference \(reference))"
        case .settle(let r, let tokens, let reference):
            let paid = Money.format(Money.sum(tokens.compactMap { state.tokens[$0]?.amountFen }) ?? 0)
            return zh ? "\(signer) 兑付凭证 \(number(r)) \(paid)（流水号 \(reference)）" : "\(signer) paid \(paid) on receivable \(number(r)) (reference \(reference))"
        case .expireOffer(let t): return zh ? "\(amount(t)) 的待签收凭证已过期退回" : "offer of \(amount(t)) expired"
        case .markOverdue(let r): return zh ? "凭证 \(number(r)) 已逾期" : "receivable \(number(r)) is overdue"
        case .recordDefault(let o, let inDefault, let reason):
            return zh ? "\(name(o)) \(inDefault ? "被记录为违约" : "违约记录已解除")：\(reason)"
                : "\(name(o)) \(inDefault ? "recorded in default" : "no longer recorded in default"): \(reason)"
        case .requestEarlyPayment(let t, let rate):
            return zh ? "\(signer) 以年化 \(rate) bp 申请提前付款 \(amount(t))" : "\(signer) offered \(amount(t)) for early payment at \(rate) bps"
        case .approveEarlyPayment(let e): return zh ? "\(signer) 同意提前付款 \(early(e))" : "\(signer) took the early payment of \(early(e))"
        case .rejectEarlyPayment(let e): return zh ? "\(signer) 拒绝提前付款 \(early(e))" : "\(signer) declined the early payment of \(early(e))"
        case .cancelEarlyPayment(let e): return zh ? "\(signer) 撤回提前付款申请 \(early(e))" : "\(signer) withdrew its early payment offer of \(early(e))"
        case .confirmEarlyPayment(let e, let reference):
            return zh ? "\(signer) 已提前付款 \(early(e, payout: true))（流水号 \(reference)）" : "\(signer) paid \(early(e, payout: true)) early (reference \(reference))"
        }
    }

    /// Money the chain records as paid: a financing's payout to its supplier, each token a core
    /// enterprise settled at maturity, to its holder, and each piece it paid early, to its supplier.
    package static func payments(_ tx: Transaction, time: Int64, in state: LedgerState) -> [[Cell]] {
        switch tx.body.payload {
        case .confirmPayout(let id, let reference):
            guard let f = state.financings[id] else { return [] }
            return [[.text(id.description), .text("payout"), .text(tx.id.description), .text(f.bankId.description), .text(f.supplierId.description),
                     .int(f.payoutFen), .text(reference), .text(f.receivableId.description), .int(time)]]
        case .confirmEarlyPayment(let id, let reference):
            guard let e = state.earlyPayments[id] else { return [] }
            return [[.text(id.description), .text("early_payment"), .text(tx.id.description), .text(e.issuerId.description), .text(e.supplierId.description),
                     .int(e.payoutFen), .text(reference), .text(e.receivableId.description), .int(time)]]
        case .settle(let r, let tokens, let reference):
            guard let receivable = state.receivables[r] else { return [] }
            return tokens.compactMap { state.tokens[$0] }.map { t in
                [.text(t.id.description), .text("settlement"), .text(tx.id.description), .text(receivable.issuerId.description), .text(t.holderId.description),
                 .int(t.amountFen), .text(reference), .text(r.description), .int(time)]
            }
        default: return []
        }
    }

    package static let paymentColumns = ["id", "kind", "transaction_id", "payer_id", "payee_id", "amount_fen", "reference", "receivable_id", "time_ms"]

    package static let eventColumns = ["seq", "org_id", "time_ms", "type", "transaction_id", "summary", "summary_zh"]

    /// A block's event rows (`seq` numbering them within the block, from 1) and payment rows.
    package static func rows(_ block: Block, effects: [TxEffects], state: LedgerState) -> (events: [[Cell]], payments: [[Cell]]) {
        var eventRows: [[Cell]] = [], paymentRows: [[Cell]] = []
        for (tx, e) in zip(block.transactions, effects) {
            for event in events(tx, e, in: state) {
                eventRows.append([.int(Int64(eventRows.count + 1)), .text(event.orgId.description), .int(block.header.time), .text(event.type.rawValue),
                                  .text(event.transactionId.description), .text(event.summary), .text(event.summaryZh)])
            }
            paymentRows += payments(tx, time: block.header.time, in: state)
        }
        return (eventRows, paymentRows)
    }
}

/// The highest `seq` of the event feed, 0 while it is empty; only the writer adds to it.
package func lastSeq(of table: String, on db: any SQLDatabase) async throws -> Int64 {
    let last = try await db.raw("SELECT MAX(seq) AS seq FROM \(ident: table)").first()
    return try last.flatMap { try $0.decodeNil(column: "seq") ? nil : try $0.decode(column: "seq", as: Int64.self) } ?? 0
}
