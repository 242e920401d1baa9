import Foundation
import Ledger
import Testing

@Suite struct SigningVectorTests {
    struct Key {
        let seed: [UInt8]
        let signer: Ed25519Signer
    }

    func keys() throws -> [String: Ed25519Signer] {
        guard case .object(let orgs) = try JSON.parse(Paths.vector("keys.json")) else { throw LedgerError(.validationFailed, "keys.json") }
        var byKeyId: [String: Ed25519Signer] = [:]
        for org in orgs.values {
            for field in ["ed25519Seed", "ed25519SeedBeforeRotation"] {
                guard let hex = org[field]?.stringValue else { continue }
                let signer = try Ed25519Signer(seed: try #require(Hex.decode(hex)))
                byKeyId[signer.keyId] = signer
            }
        }
        return byKeyId
    }

    /// Signing each body of the valid chain with the seeds of keys.json reproduces its id and
    /// signature byte for byte, and each block's header signature too.
    @Test func reproducesEveryIdAndSignature() throws {
        let signers = try keys()
        let lines = String(decoding: try Paths.vector("chain-valid.jsonl"), as: UTF8.self).split(separator: "\n")
        var count = 0
        for line in lines {
            let block = try JSON.parse(String(line))
            for item in try #require({ if case .array(let a)? = block["transactions"] { a } else { nil } }()) {
                let body = try TransactionBody(json: try #require(item["body"]))
                let signer = try #require(signers[body.keyId], "no seed for key \(body.keyId)")
                let tx = try Transaction.sign(body, with: signer)
                #expect(tx.id.description == item["id"]?.stringValue)
                #expect(Base64.encode(tx.signature) == item["signature"]?.stringValue)
                count += 1
            }
            let header = try BlockHeader(json: block["header"])
            // Some operator key of keys.json reproduces each block's signature.
            #expect(signers.values.contains { Base64.encode(try! $0.sign(header.canonicalBytes)) == block["signature"]?.stringValue })
            #expect(header.hash(in: .standard) == block["hash"]?.stringValue)
        }
        #expect(count == 108)
    }
}
