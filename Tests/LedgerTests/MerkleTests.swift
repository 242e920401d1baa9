import Crypto
import Ledger
import Testing

@Suite struct MerkleTests {
    /// RFC 6962 §2.1 written out literally, as an independent check of the bottom-up builder.
    func reference(_ leaves: ArraySlice<[UInt8]>) -> [UInt8] {
        if leaves.isEmpty { return Array(SHA256.hash(data: [UInt8]())) }
        if leaves.count == 1 { return Array(SHA256.hash(data: [0] + leaves.first!)) }
        var k = 1
        while k * 2 < leaves.count { k *= 2 }
        let start = leaves.startIndex
        return Array(SHA256.hash(data: [1] + reference(leaves[start..<start + k]) + reference(leaves[(start + k)...])))
    }

    func leaves(_ n: Int) -> [[UInt8]] { (0..<n).map { Array(SHA256.hash(data: [UInt8(truncatingIfNeeded: $0), UInt8($0 >> 8)])) } }

    @Test func rootMatchesTheRFCDefinition() {
        for n in 0...70 {
            #expect(Merkle.root(leaves: leaves(n)) == reference(leaves(n)[...]), "n = \(n)")
        }
        #expect(Hex.encode(Merkle.root(leaves: [])) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    @Test func everyAuditPathVerifiesAndNoOtherDoes() {
        for n in 1...40 {
            let l = leaves(n)
            let root = Merkle.root(leaves: l)
            for i in 0..<n {
                let path = Merkle.auditPath(index: i, leaves: l)
                #expect(Merkle.verifyInclusion(leaf: l[i], index: i, treeSize: n, path: path, root: root), "n \(n) i \(i)")
                // The wrong leaf, the wrong index, a flipped byte in the path, a shorter path: all refused.
                #expect(!Merkle.verifyInclusion(leaf: l[(i + 1) % n], index: i, treeSize: n, path: path, root: root) || n == 1)
                if n > 1 {
                    #expect(!Merkle.verifyInclusion(leaf: l[i], index: (i + 1) % n, treeSize: n, path: path, root: root))
                    var bent = path
                    bent[0][0] ^= 1
                    #expect(!Merkle.verifyInclusion(leaf: l[i], index: i, treeSize: n, path: bent, root: root))
                    #expect(!Merkle.verifyInclusion(leaf: l[i], index: i, treeSize: n, path: Array(path.dropLast()), root: root))
                }
            }
        }
    }

    @Test func blockProofChecksAgainstTheSignedHeader() throws {
        let sealer = try Ed25519Signer(seed: [UInt8](repeating: 3, count: 32))
        let txs = (0..<7).map { i in
            Transaction.unsigned(TransactionBody(orgId: OrgID("00000000-0000-4000-8000-000000000001")!, keyId: sealer.keyId, time: Int64(i), nonce: "\(i)",
                                                 payload: .accept(tokenId: TokenID(String(repeating: "a", count: 32))!)), profile: .standard)
        }
        let block = try Block.seal(txs, height: 3, prevHash: String(repeating: "1", count: 64), time: 10, sealer: sealer)
        let proof = try #require(block.inclusionProof(transactionId: txs[5].id, profile: .standard))
        #expect(proof.problem(sealerPublicKey: sealer.publicKey) == nil)
        #expect(try InclusionProof(json: proof.json) == proof)
        var forged = proof
        forged.transactionId = txs[4].id.description
        #expect(forged.problem(sealerPublicKey: sealer.publicKey) != nil)
        let other = try Ed25519Signer(seed: [UInt8](repeating: 4, count: 32))
        #expect(proof.problem(sealerPublicKey: other.publicKey) != nil)
    }
}
