/// The writer's gate: every transaction, whatever its origin (the custodial API, the console,
/// `POST /transactions`, the jobs, the demo seed), is read back here exactly as a replay of the
/// chain will read it, before the sequencer sees it. A transaction that passes the gate and the
/// rules is one `cascade verify` accepts, so the writer can never commit a block that replay
/// refuses.
///
/// The checks, in order: the canonical bytes are JCS of the body; those bytes parse (integers
/// within ±(2^53 − 1), no lone surrogates); the strict payload reader accepts them with the
/// whole text rule (every list length, string length, allowed character and format of `Limits`)
/// and reads back the same body; the id is their hash and the signature has its form in the
/// chain's profile; the signature verifies with the key the body names.
public enum Gate {
    public static func check(_ tx: Transaction, keys: SigningKeys) -> LedgerError? {
        if let problem = checkEncoding(tx, profile: keys.profile) { return problem }
        let key: [UInt8]
        switch keys.key(for: tx.body) {
        case .failure(let error): return error
        case .success(let k): key = k
        }
        guard keys.profile.isValidSignature(tx.signature, for: tx.canonicalBody, publicKey: key) else {
            return LedgerError(.unauthorized, "the signature does not verify with the current key of org \(tx.body.orgId)")
        }
        return nil
    }

    /// Everything of the gate but the signature. (The state machine's pair assertion is the
    /// narrower `Payload.readsBack`: the bounds of what reaches the rules.)
    static func checkEncoding(_ tx: Transaction, profile: CryptoProfile) -> LedgerError? {
        guard tx.canonicalBody == tx.body.json.canonicalBytes else {
            return LedgerError.invalid("body", "is not the canonical (RFC 8785) form of its fields")
        }
        let json: JSON
        do {
            json = try JSON.parse(tx.canonicalBody)
        } catch {
            return error.refusal(under: "body")
        }
        let reread: TransactionBody
        do {
            reread = try TransactionBody(json: json, text: .new)
        } catch {
            return error
        }
        guard reread == tx.body else { return LedgerError.invalid("body", "does not read back as it was written") }
        guard tx.id == profile.transactionId(of: tx.canonicalBody) else {
            return LedgerError.invalid("id", "id is not \(profile.hashName)(JCS(body))")
        }
        if let problem = profile.signatureProblem(tx.signature) { return LedgerError.invalid("signature", problem) }
        return nil
    }
}
