import Ledger

let unknownOrg = OrgID("11111111-1111-4111-8111-111111111111")!
let unknownToken = TokenID(String(repeating: "0", count: 32))!
func unknownTx(_ c: Character = "9") -> TxID { TxID(String(repeating: c, count: 64))! }

/// A small consortium on a fresh ledger, with a clock: an operator, two core enterprises, three
/// suppliers, two banks and a regulator, every org with its own key.
struct Fixture {
    var state = LedgerState()
    var signers: [OrgID: Ed25519Signer] = [:]
    var ids: [String: OrgID] = [:]
    var today = BusinessDate("2026-09-01")!
    var nonce = 0
    var applied: [Transaction] = []
    /// The last transaction submitted, applied or not.
    var lastSubmitted: Transaction?

    static let names = ["op", "core", "core2", "s1", "s2", "s3", "bank", "bank2", "reg"]
    static let roles: [String: OrgRole] = [
        "op": .operator, "core": .core, "core2": .core, "s1": .supplier, "s2": .supplier, "s3": .supplier,
        "bank": .bank, "bank2": .bank, "reg": .regulator,
    ]

    init() {
        for (i, name) in Self.names.enumerated() {
            let seed = [UInt8](repeating: UInt8(i + 1), count: 32)
            let signer = try! Ed25519Signer(seed: seed)
            let id = OrgID("00000000-0000-4000-8000-" + String(repeating: "0", count: 11) + String(i))!
            ids[name] = id
            signers[id] = signer
        }
        for name in Self.names {
            let id = ids[name]!
            let code = CreditCode.complete("9131000000000000" + String(Self.names.firstIndex(of: name)!))!
            ok("op", .registerOrg(RegisterOrgPayload(orgId: id, name: name, role: Self.roles[name]!, creditCode: code,
                                                     publicKey: signers[id]!.publicKey)))
        }
    }

    /// A fixture org's id by name, or any org id written out.
    func id(_ name: String) -> OrgID { ids[name] ?? OrgID(name)! }

    /// Signs and applies one transaction by `org` (a fixture name or an org id) on `today`.
    @discardableResult
    mutating func submit(_ org: String, _ payload: Payload, keyId: String? = nil) -> Result<TxEffects, LedgerError> {
        submit(id(org), payload, keyId: keyId)
    }

    /// Signs with the org's own key, or with the operator's for an org the fixture does not know.
    @discardableResult
    mutating func submit(_ orgId: OrgID, _ payload: Payload, keyId: String? = nil) -> Result<TxEffects, LedgerError> {
        nonce += 1
        let signer = signers[orgId] ?? signers[ids["op"]!]!
        let body = TransactionBody(orgId: orgId, keyId: keyId ?? signer.keyId, time: today.startEpochMs + 36_000_000 + Int64(nonce),
                                   nonce: "n\(nonce)", payload: payload)
        let tx = try! Transaction.sign(body, with: signer)
        lastSubmitted = tx
        let result = state.apply(tx)
        if case .success = result { applied.append(tx) }
        return result
    }

    /// Applies a transaction that must succeed, and returns what it did.
    @discardableResult
    mutating func ok(_ org: String, _ payload: Payload, sourceLocation: SourceLocation = #_sourceLocation) -> TxEffects {
        switch submit(org, payload) {
        case .success(let e): return e
        case .failure(let e):
            Issue.record("\(payload.type.rawValue) by \(org) refused: \(e)", sourceLocation: sourceLocation)
            return TxEffects(transactionId: TxID(digest: [UInt8](repeating: 0, count: 32)))
        }
    }

    mutating func grant(_ bank: String = "bank", core: String = "core", limitFen: Int64 = 1_000_000_00, rateBps: Int64 = 365,
                        expiresOn: String = "2028-12-31") -> TxID {
        ok(bank, .grantCredit(coreId: id(core), limitFen: limitFen, rateBps: rateBps, expiresOn: BusinessDate(expiresOn)!)).creditLineId!
    }

    func issuePayload(line: TxID, to supplier: String = "s1", faceFen: Int64 = 1_000_000, dueIn days: Int64 = 90,
                      invoice: String? = nil) -> Payload {
        let docs = invoice.map { [Document(kind: .invoice, sha256: String(repeating: "a", count: 64), number: $0)] } ?? []
        return .issue(IssuePayload(supplierId: id(supplier), creditLineId: line, faceFen: faceFen, issueDate: today,
                                   dueDate: today.adding(days: days), documents: docs, memo: "货款"))
    }

    /// Issues a receivable to `supplier` and has it accepted; returns (receivable id, token id).
    mutating func activeReceivable(line: TxID, to supplier: String = "s1", faceFen: Int64 = 1_000_000, dueIn days: Int64 = 90) -> (TxID, TokenID) {
        let e = ok("core", issuePayload(line: line, to: supplier, faceFen: faceFen, dueIn: days))
        ok(supplier, .accept(tokenId: e.createdTokens[0]))
        return (e.receivableId!, e.createdTokens[0])
    }

    /// Transfers from `from` to `to` and has it accepted; returns (received token, change token?).
    mutating func pay(_ token: TokenID, from: String, to: String, amountFen: Int64) -> (TokenID, TokenID?) {
        let e = ok(from, .transfer(tokenId: token, toOrgId: id(to), amountFen: amountFen, memo: nil))
        ok(to, .accept(tokenId: e.createdTokens[0]))
        return (e.createdTokens[0], e.createdTokens.count > 1 ? e.createdTokens[1] : nil)
    }

    /// The value invariant of SPEC §3, for every receivable that is not rejected.
    func conservationProblems() -> [String] {
        var problems: [String] = []
        for r in state.receivables.values where r.status != .rejected {
            let pieces = state.tokens.values.filter { $0.receivableId == r.id }
            let open = pieces.filter { [.pending, .active, .locked].contains($0.status) }.reduce(0) { $0 + $1.amountFen }
            let settled = pieces.filter { $0.status == .settled }.reduce(0) { $0 + $1.amountFen }
            if open != r.faceFen - r.paidFen { problems.append("\(r.number): open \(open) != face − paid \(r.faceFen - r.paidFen)") }
            if settled != r.paidFen { problems.append("\(r.number): settled \(settled) != paid \(r.paidFen)") }
        }
        return problems
    }
}

import Testing
