import Core
import Web
import Foundation
import Ledger

/// A deterministic pseudo-random generator (SplitMix64), so a workload can be rebuilt exactly.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A random but valid consortium workload: orgs, credit lines, receivables, then transfers
/// (each accepted by its recipient) and splits, every transaction valid where it stands.
/// Bodies and ids are built here; signatures are added afterwards, in parallel, since they do
/// not change the ids.
struct LedgerWorkload {
    struct Party {
        let id: OrgID
        let signer: any TransactionSigner
    }

    var rng: SplitMix64
    let profile: CryptoProfile
    var state: LedgerState
    var transactions: [Transaction] = []
    var signers: [OrgID: any TransactionSigner] = [:]
    var time: Int64
    var nonce: UInt64 = 0
    var movesDone = 0
    /// When set, each transaction's effects are kept beside it, in `effects`.
    var keepsEffects = false
    var effects: [TxEffects] = []

    init(seed: UInt64, startMs: Int64 = 1_790_000_000_000, profile: CryptoProfile = .standard) {
        rng = SplitMix64(seed: seed)
        time = startMs
        self.profile = profile
        state = LedgerState(profile: profile)
    }

    mutating func newParty() -> Party {
        var bytes: [UInt8] = (0..<16).map { _ in UInt8.random(in: 0...255, using: &rng) }
        bytes[6] = bytes[6] & 0x0F | 0x40
        bytes[8] = bytes[8] & 0x3F | 0x80
        let id = OrgID(hi: bytes[0..<8].reduce(0) { $0 << 8 | UInt64($1) }, lo: bytes[8..<16].reduce(0) { $0 << 8 | UInt64($1) })
        let seed = (0..<32).map { _ in UInt8.random(in: 0...255, using: &rng) }
        // Any 32 bytes are an Ed25519 seed; an SM2 scalar of 32 random bytes lies in [1, n − 2]
        // but for a chance of about 2^-32.
        let signer = try! profile.signer(secret: seed)
        signers[id] = signer
        return Party(id: id, signer: signer)
    }

    /// Builds, applies and records one transaction; the workload only produces valid ones.
    @discardableResult
    mutating func submit(_ orgId: OrgID, _ payload: Payload) -> TxEffects {
        nonce += 1
        time += 1
        let body = TransactionBody(orgId: orgId, keyId: signers[orgId]!.keyId, time: time, nonce: String(nonce, radix: 16), payload: payload)
        let tx = Transaction.unsigned(body, profile: profile)
        switch state.apply(tx) {
        case .success(let made):
            transactions.append(tx)
            if keepsEffects { effects.append(made) }
            return made
        case .failure(let error):
            preconditionFailure("the workload built an invalid \(body.type.rawValue): \(error)")
        }
    }

    static func creditCode(_ n: Int) -> String {
        let digits = String(n)
        return CreditCode.complete("91310000" + String(repeating: "0", count: 9 - digits.count) + digits)!
    }

    /// `receivables` receivables spread over `suppliers` suppliers, then `moves` transfers and
    /// splits over their tokens.
    mutating func build(receivables: Int, moves: Int, cores: Int = 10, suppliers: Int = 500, banks: Int = 3) {
        let op = newParty()
        submit(op.id, .registerOrg(RegisterOrgPayload(orgId: op.id, name: "Cascade 平台运营", role: .operator,
                                                      creditCode: Self.creditCode(0), publicKey: op.signer.publicKey)))
        var codeNumber = 0
        func register(_ role: OrgRole, _ count: Int) -> [OrgID] {
            (0..<count).map { i in
                let p = newParty()
                codeNumber += 1
                submit(op.id, .registerOrg(RegisterOrgPayload(orgId: p.id, name: "\(role.rawValue) \(i)", role: role,
                                                              creditCode: Self.creditCode(codeNumber), publicKey: p.signer.publicKey)))
                return p.id
            }
        }
        let coreIds = register(.core, cores)
        let supplierIds = register(.supplier, suppliers)
        let bankIds = register(.bank, banks)
        let expires = BusinessDate(epochMs: time).adding(days: 720)
        var lineOfCore: [OrgID: TxID] = [:]
        for bank in bankIds {
            for core in coreIds {
                let e = submit(bank, .grantCredit(coreId: core, limitFen: Limits.maxAmountFen, rateBps: Int64.random(in: 200...600, using: &rng), expiresOn: expires))
                lineOfCore[core] = lineOfCore[core] ?? e.creditLineId
            }
        }

        var pool: [TokenID] = []  // active tokens held by suppliers
        let today = BusinessDate(epochMs: time)
        for _ in 0..<receivables {
            let core = coreIds.randomElement(using: &rng)!
            let supplier = supplierIds.randomElement(using: &rng)!
            let face = Int64.random(in: 1_000_000...1_000_000_000, using: &rng)
            let e = submit(core, .issue(IssuePayload(supplierId: supplier, creditLineId: lineOfCore[core]!, faceFen: face,
                                                      issueDate: today, dueDate: today.adding(days: 180), documents: [], memo: nil)))
            submit(supplier, .accept(tokenId: e.createdTokens[0]))
            pool.append(e.createdTokens[0])
        }

        let maxTier = state.policy.maxTier
        while movesDone < moves, !pool.isEmpty {
            let slot = Int.random(in: 0..<pool.count, using: &rng)
            let token = state.tokens[pool[slot]]!
            pool.swapAt(slot, pool.count - 1)
            pool.removeLast()
            let canTransfer = token.tier < maxTier
            if canTransfer && (token.amountFen < 4 || Bool.random(using: &rng)) {
                var to = supplierIds.randomElement(using: &rng)!
                while to == token.holderId { to = supplierIds.randomElement(using: &rng)! }
                let amount = token.amountFen < 2 ? token.amountFen : Int64.random(in: 1...token.amountFen, using: &rng)
                let e = submit(token.holderId, .transfer(tokenId: token.id, toOrgId: to, amountFen: amount, memo: nil))
                submit(to, .accept(tokenId: e.createdTokens[0]))
                pool.append(contentsOf: e.createdTokens)
                movesDone += 1
            } else if token.amountFen >= 4 {
                let pieces = Int.random(in: 2...min(4, Int(token.amountFen / 2)), using: &rng)
                var amounts: [Int64] = []
                var left = token.amountFen
                for k in 0..<pieces - 1 {
                    let most = left - Int64(pieces - 1 - k)
                    let a = Int64.random(in: 1...max(1, most / 2), using: &rng)
                    amounts.append(a)
                    left -= a
                }
                amounts.append(left)
                let e = submit(token.holderId, .split(tokenId: token.id, amountsFen: amounts))
                pool.append(contentsOf: e.createdTokens)
                movesDone += 1
            }
            // A token too small to split at the deepest tier stays where it is.
        }
    }

    /// Signs every transaction with its org's key, on every core.
    func signed(parallelism: Int) -> [Transaction] {
        let out = ParallelSlots(transactions)
        let signers = self.signers
        DispatchQueue.concurrentPerform(iterations: parallelism) { w in
            var i = w
            while i < out.count {
                var tx = out[i]
                tx.signature = try! signers[tx.body.orgId]!.sign(tx.canonicalBody)  // signing bytes with a valid key cannot fail
                out[i] = tx
                i += parallelism
            }
        }
        return out.values
    }

    /// Seals the transactions into blocks of `blockSize`, signed by the operator.
    static func seal(_ transactions: [Transaction], blockSize: Int, sealer: any TransactionSigner) -> [Block] {
        var blocks: [Block] = []
        var prev = BlockHeader.genesisPrevHash
        var start = 0
        while start < transactions.count {
            let chunk = Array(transactions[start..<min(start + blockSize, transactions.count)])
            let block = try! Block.seal(chunk, height: Int64(blocks.count), prevHash: prev, time: chunk.last!.body.time, sealer: sealer)
            blocks.append(block)
            prev = block.hash
            start += blockSize
        }
        return blocks
    }
}

