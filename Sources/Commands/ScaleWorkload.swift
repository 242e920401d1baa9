import Core
import Web
import Foundation
import Ledger

/// The history of a busy platform, made transaction by transaction on a live state: rounds of
/// receivables issued and accepted, moved down the tiers by transfers (each accepted) and
/// splits, some financed (requested, approved, paid out), and settled at maturity to every
/// holder. A round starts every 15 days and falls due 60 days later, so most of the history is
/// closed and the last four rounds are still open, as on a platform that has run for years.
struct ScaleWorkload {
    typealias Party = LedgerWorkload.Party

    /// Transactions are made, applied to a live state and kept (with their effects) by this.
    var base: LedgerWorkload
    var op: Party
    var cores: [Party] = [], suppliers: [Party] = [], banks: [Party] = []
    var regulator: Party?
    var lineOfCore: [OrgID: TxID] = [:]
    /// Receivables of rounds not yet settled, with their due date.
    var open: [(due: BusinessDate, receivables: [TxID])] = []
    static let termDays: Int64 = 60
    static let roundDays: Int64 = 15
    static let receivablesPerRound = 2_000
    /// About how many transactions a round makes (the receivables, their moves, financings and
    /// settlement), for planning how many rounds a ledger of a given size takes.
    static let transactionsPerRound = 25_000

    init(operatorSigner: any TransactionSigner, operatorId: OrgID, startMs: Int64) {
        base = LedgerWorkload(seed: 77, startMs: startMs)
        base.keepsEffects = true
        base.state.goLive()
        base.signers[operatorId] = operatorSigner
        op = Party(id: operatorId, signer: operatorSigner)
    }

    var state: LedgerState {
        get { base.state }
        _modify { yield &base.state }
    }
    var today: BusinessDate { BusinessDate(epochMs: base.time) }

    @discardableResult
    mutating func submit(_ org: OrgID, _ payload: Payload) -> TxEffects { base.submit(org, payload) }

    /// The operator's genesis is already applied by the caller; the consortium registers.
    mutating func register(cores coreCount: Int = 20, suppliers supplierCount: Int = 3_000, banks bankCount: Int = 6) {
        var code = 100
        func register(_ role: OrgRole, _ name: String) -> Party {
            let p = base.newParty()
            code += 1
            submit(op.id, .registerOrg(RegisterOrgPayload(orgId: p.id, name: name, role: role, creditCode: LedgerWorkload.creditCode(code), publicKey: p.signer.publicKey)))
            return p
        }
        cores = (0..<coreCount).map { register(.core, "规模核心企业 \($0)") }
        suppliers = (0..<supplierCount).map { register(.supplier, "规模供应商 \($0)") }
        banks = (0..<bankCount).map { register(.bank, "规模银行 \($0)") }
        regulator = register(.regulator, "规模监管")
        // Format 2, as a new genesis sets it: approvals name their 中登网 filing.
        submit(op.id, .setPolicy(.format2))
        for core in cores {
            let bank = banks.randomElement(using: &base.rng)!
            let e = submit(bank.id, .grantCredit(coreId: core.id, limitFen: Limits.maxAmountFen, rateBps: 365, expiresOn: today.adding(days: 36_000)))
            lineOfCore[core.id] = e.creditLineId
        }
    }

    /// One round: the rounds due by today settled to every holder; receivables issued and
    /// accepted, moved down the tiers, some financed; then the clock moves on 15 days.
    mutating func round() {
        while let oldest = open.first, oldest.due <= today { settleOldest() }
        let due = today.adding(days: Self.termDays)
        var pool: [TokenID] = []
        var issued: [TxID] = []
        for _ in 0..<Self.receivablesPerRound {
            let core = cores.randomElement(using: &base.rng)!, supplier = suppliers.randomElement(using: &base.rng)!
            let doc = Document(kind: .invoice, sha256: Hashing.sha256Hex(Array("scale-\(base.nonce)".utf8)), number: "INV-\(base.nonce)")
            let e = submit(core.id, .issue(IssuePayload(supplierId: supplier.id, creditLineId: lineOfCore[core.id]!, faceFen: Int64.random(in: 1_000_000...500_000_000, using: &base.rng),
                                                        issueDate: today, dueDate: due, documents: [doc], memo: nil)))
            submit(supplier.id, .accept(tokenId: e.createdTokens[0]))
            pool.append(e.createdTokens[0])
            issued.append(e.receivableId!)
        }
        // Moves: about six per receivable, each a transfer (accepted) or a split.
        for _ in 0..<(Self.receivablesPerRound * 6) {
            guard !pool.isEmpty else { break }
            let slot = Int.random(in: 0..<pool.count, using: &base.rng)
            let token = state.tokens[pool[slot]]!
            pool.swapAt(slot, pool.count - 1)
            pool.removeLast()
            if token.tier < state.policy.maxTier, token.amountFen >= 200_000, Bool.random(using: &base.rng) {
                var to = suppliers.randomElement(using: &base.rng)!
                while to.id == token.holderId { to = suppliers.randomElement(using: &base.rng)! }
                let e = submit(token.holderId, .transfer(tokenId: token.id, toOrgId: to.id, amountFen: token.amountFen / 2, memo: nil))
                submit(to.id, .accept(tokenId: e.createdTokens[0]))
                pool += e.createdTokens
            } else if token.amountFen >= 300_000 {
                let third = token.amountFen / 3
                let e = submit(token.holderId, .split(tokenId: token.id, amountsFen: [third, third, token.amountFen - 2 * third]))
                pool += e.createdTokens
            } else {
                pool.insert(token.id, at: 0)
            }
        }
        // One receivable in four has a piece discounted at its core's bank.
        for _ in 0..<(Self.receivablesPerRound / 4) {
            guard let slot = pool.indices.randomElement(using: &base.rng) else { break }
            let token = state.tokens[pool[slot]]!
            let core = state.receivables[token.receivableId]!.issuerId
            let bank = state.creditLines[lineOfCore[core]!]!.bankId
            let request = submit(token.holderId, .requestFinancing(tokenId: token.id, bankId: bank, recourse: Bool.random(using: &base.rng)))
            let financing = request.financingIds[0]
            let approved = submit(bank, .approveFinancing(financingId: financing, filing: Filing(number: "SCALE-\(base.nonce)", filedOn: today)))
            _ = approved
            submit(bank, .confirmPayout(financingId: financing, reference: "PAY-\(base.nonce)"))
            pool.remove(at: slot)
        }
        open.append((due, issued))
        base.time += Self.roundDays * 86_400_000
    }

    /// The oldest open round falls due: each receivable is paid to whoever holds its pieces.
    mutating func settleOldest() {
        let receivables = open.removeFirst().receivables
        var live: [TxID: [TokenID]] = [:]
        for token in state.tokens.values where token.status == .active || token.status == .locked { live[token.receivableId, default: []].append(token.id) }
        for r in receivables {
            guard let pieces = live[r], let core = state.receivables[r]?.issuerId else { continue }
            for chunk in pieces.chunked(Limits.maxSettleTokens) {
                submit(core, .settle(receivableId: r, tokenIds: Array(chunk), reference: "CLR-\(base.nonce)"))
            }
        }
    }

    /// The transactions made since the last call, signed on every core, with their effects.
    mutating func take(parallelism: Int) -> [(Transaction, TxEffects)] {
        let made = zip(base.signed(parallelism: parallelism), base.effects).map { ($0, $1) }
        base.transactions = []
        base.effects = []
        return made
    }
}
