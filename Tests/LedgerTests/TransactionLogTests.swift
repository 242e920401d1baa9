import Foundation
import Ledger
import PropertyBased
import Testing

/// The transaction log's tree and proofs against RFC 6962's test tree and transparency-dev's
/// proof vectors (`Vectors/tlog`, from github.com/transparency-dev/merkle's testdata), and against
/// a brute-force tree; the signed note against vectors of Go's `golang.org/x/mod/sumdb/note`.
@Suite struct TransactionLogTests {
    /// The eight leaves of RFC 6962's test tree (certificate-transparency's, as transparency-dev keeps them).
    static let leaves: [[UInt8]] = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"].map { Hex.decode($0)! }
    static let roots = [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125", "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7", "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef", "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ]

    /// A store of every complete subtree, as the frontier made them.
    struct Nodes {
        var frontier: LogFrontier
        var nodes: [LogTree.Node: LogTree.Hash] = [:]
        var roots: [LogTree.Hash]

        init(leafHashes: [LogTree.Hash], profile: CryptoProfile = .standard) {
            frontier = LogFrontier(profile: profile)
            roots = [frontier.root]
            for leaf in leafHashes {
                for (node, hash) in frontier.append(leafHash: leaf) {
                    #expect(nodes[node] == nil, "node \(node) made twice")
                    nodes[node] = hash
                }
                roots.append(frontier.root)
            }
        }

        func node(_ n: LogTree.Node) throws -> LogTree.Hash {
            guard let hash = nodes[n] else { throw LogTree.Refused(description: "no node \(n)") }
            return hash
        }
    }

    @Test func theFrontierGivesRFC6962sRootsAndNodes() throws {
        let tree = Nodes(leafHashes: Self.leaves.map { Merkle.leafHash($0) })
        #expect(tree.roots.map { Hex.encode($0) } == Self.roots)
        for size in 0...8 {
            #expect(Hex.encode(try LogTree.root(size: Int64(size), profile: .standard, node: tree.node)) == Self.roots[size])
            // A frontier read back from the store is the one that was kept.
            let again = try LogFrontier(size: Int64(size), profile: .standard, node: tree.node)
            #expect(Hex.encode(again.root) == Self.roots[size])
        }
        #expect(Hex.encode(try tree.node(LogTree.Node(level: 1, index: 3))) == "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0")
        #expect(Hex.encode(try tree.node(LogTree.Node(level: 2, index: 1))) == "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4")
    }

    static let vectors = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Vectors/tlog")

    static func files(_ kind: String) throws -> [URL] {
        let dir = vectors.appendingPathComponent(kind)
        return try FileManager.default.subpathsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".json") }.sorted().map { dir.appendingPathComponent($0) }
    }

    static func hashes(_ value: Any?) -> [[UInt8]] {
        ((value as? [String]) ?? []).map { Array(Data(base64Encoded: $0) ?? Data([0])) }
    }

    static func bytes(_ value: Any?) -> [UInt8] { (value as? String).flatMap { Data(base64Encoded: $0) }.map(Array.init) ?? [] }

    @Test func inclusionVectorsVerifyExactlyWhenTheyShould() throws {
        let files = try Self.files("inclusion")
        #expect(files.count >= 80)
        let tree = Nodes(leafHashes: Self.leaves.map { Merkle.leafHash($0) })
        for file in files {
            let v = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: file)) as? [String: Any])
            let index = (v["leafIdx"] as? NSNumber)?.int64Value ?? 0, size = (v["treeSize"] as? NSNumber)?.int64Value ?? 0
            let proof = Self.hashes(v["proof"])
            let holds = LogTree.verifyInclusion(leafHash: Self.bytes(v["leafHash"]), index: index, size: size, proof: proof, root: Self.bytes(v["root"]), profile: .standard)
            #expect(holds == !(v["wantErr"] as? Bool ?? false), "\(file.path)")
            // Our own proof for a happy path of the test tree is the vector's.
            if file.lastPathComponent == "happy-path.json", size <= 8, index < size, file.deletingLastPathComponent().lastPathComponent.count == 1 {
                #expect(try LogTree.inclusionProof(index: index, size: size, profile: .standard, node: tree.node) == proof, "\(file.path)")
            }
        }
    }

    @Test func consistencyVectorsVerifyExactlyWhenTheyShould() throws {
        let files = try Self.files("consistency")
        #expect(files.count >= 80)
        let tree = Nodes(leafHashes: Self.leaves.map { Merkle.leafHash($0) })
        for file in files {
            let v = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: file)) as? [String: Any])
            let old = (v["size1"] as? NSNumber)?.int64Value ?? 0, new = (v["size2"] as? NSNumber)?.int64Value ?? 0
            let proof = Self.hashes(v["proof"])
            let holds = LogTree.verifyConsistency(from: old, to: new, oldRoot: Self.bytes(v["root1"]), newRoot: Self.bytes(v["root2"]), proof: proof, profile: .standard)
            #expect(holds == !(v["wantErr"] as? Bool ?? false), "\(file.path)")
            if file.lastPathComponent == "happy-path.json", new <= 8, old <= new {
                #expect(try LogTree.consistencyProof(from: old, to: new, profile: .standard, node: tree.node) == proof, "\(file.path)")
            }
        }
    }

    /// Against a tree hashed from scratch at every size: every inclusion and consistency proof
    /// the store's nodes give verifies, and a proof with one bit changed, another index or
    /// another size does not; in both profiles.
    @Test func proofsFromTheStoreMatchABruteForceTree() async {
        await propertyCheck(count: 60, input: Gen.int(in: 1...300).array(of: 3)) { numbers in
            let profile: CryptoProfile = numbers[0] % 2 == 0 ? .standard : .sm2Sm3
            let n = Int64(numbers[0])
            let leaves = (0..<numbers[0]).map { i in Array("leaf \(i) of \(numbers[0])".utf8) }
            let tree = Nodes(leafHashes: leaves.map { Merkle.leafHash($0, profile: profile) }, profile: profile)
            let m = Int64(numbers[1]) % n + 1, index = Int64(numbers[2]) % n
            let bruteNew = Merkle.root(leaves: leaves, profile: profile), bruteOld = Merkle.root(leaves: Array(leaves.prefix(Int(m))), profile: profile)
            #expect(tree.roots[Int(n)] == bruteNew && tree.roots[Int(m)] == bruteOld)
            let path = try! LogTree.inclusionProof(index: index, size: n, profile: profile, node: tree.node)
            #expect(path == Merkle.auditPath(index: Int(index), leaves: leaves, profile: profile))
            let leafHash = Merkle.leafHash(leaves[Int(index)], profile: profile)
            #expect(LogTree.verifyInclusion(leafHash: leafHash, index: index, size: n, proof: path, root: bruteNew, profile: profile))
            #expect(!LogTree.verifyInclusion(leafHash: leafHash, index: index ^ 1, size: n, proof: path, root: bruteNew, profile: profile) || n == 1)
            let proof = try! LogTree.consistencyProof(from: m, to: n, profile: profile, node: tree.node)
            #expect(LogTree.verifyConsistency(from: m, to: n, oldRoot: bruteOld, newRoot: bruteNew, proof: proof, profile: profile))
            if var bent = proof.first {
                bent[0] ^= 1
                #expect(!LogTree.verifyConsistency(from: m, to: n, oldRoot: bruteOld, newRoot: bruteNew, proof: [bent] + proof.dropFirst(), profile: profile))
            }
            if m < n {
                #expect(!LogTree.verifyConsistency(from: m, to: n, oldRoot: bruteNew, newRoot: bruteNew, proof: proof, profile: profile))
                #expect(!LogTree.verifyConsistency(from: m, to: n, oldRoot: bruteOld, newRoot: bruteNew, proof: Array(proof.dropLast()), profile: profile))
            }
        }
    }

    @Test func proofsOutsideTheLogAreRefused() throws {
        let tree = Nodes(leafHashes: Self.leaves.map { Merkle.leafHash($0) })
        #expect(throws: LogTree.Refused.self) { try LogTree.inclusionProof(index: 8, size: 8, profile: .standard, node: tree.node) }
        #expect(throws: LogTree.Refused.self) { try LogTree.consistencyProof(from: 5, to: 4, profile: .standard, node: tree.node) }
        // Beyond what the store holds: the store says so.
        #expect(throws: LogTree.Refused.self) { try LogTree.inclusionProof(index: 1, size: 9, profile: .standard, node: tree.node) }
        #expect(try LogTree.consistencyProof(from: 0, to: 8, profile: .standard, node: tree.node).isEmpty)
        #expect(try LogTree.consistencyProof(from: 8, to: 8, profile: .standard, node: tree.node).isEmpty)
    }
}

/// C2SP signed notes and checkpoints, against `golang.org/x/mod/sumdb/note`'s own test vectors.
@Suite struct SignedNoteTests {
    static let peterKey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
    static let peterPrivate = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
    static let enochKey = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
    static let text = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
    static let peterSig = "\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
    static let enochSig = "\u{2014} EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n"

    @Test func signsAndVerifiesAsGoDoes() throws {
        let peter = try NoteVerifier(verifierKey: Self.peterKey)
        #expect(peter.name == "PeterNeumann" && peter.keyHash == 0xc74f20a3 && peter.verifierKey == Self.peterKey)
        let seed = Array(try #require(Base64.decode(String(Self.peterPrivate.split(separator: "+", maxSplits: 4)[4]))).dropFirst())
        let signer = try NoteSigner(name: "PeterNeumann", seed: seed)
        #expect(signer.verifier == peter)
        // Ed25519 is deterministic: the note is Go's, byte for byte.
        #expect(try signer.sign(Self.text) == Self.text + "\n" + Self.peterSig)
        let both = Self.text + "\n" + Self.peterSig + Self.enochSig
        #expect(peter.verifies(both))
        #expect(try NoteVerifier(verifierKey: Self.enochKey).verifies(both))
        let parsed = try SignedNote.parse(both)
        #expect(parsed.text == Self.text && parsed.signatures.map(\.name) == ["PeterNeumann", "EnochRoot"] && parsed.signatures[1].keyHash == 0xaf0cfe78)
        #expect(!peter.verifies(Self.text.replacingOccurrences(of: "answer", with: "answers") + "\n" + Self.peterSig))
        #expect(!peter.verifies(Self.text + "\n" + Self.enochSig))
    }

    @Test func mangledKeysAndNotesAreRefused() {
        // Every proper substring and every one-byte change of the verifier key is refused, as Go's test has it.
        let key = Array(Self.peterKey.utf8)
        for i in 0..<key.count {
            for j in (i + 1)...key.count where i != 0 || j != key.count {
                #expect(throws: SignedNote.Refused.self) { try NoteVerifier(verifierKey: String(decoding: key[i..<j], as: UTF8.self)) }
            }
        }
        for i in 0..<key.count {
            var changed = key
            changed[i] &+= 1
            #expect(throws: SignedNote.Refused.self) { try NoteVerifier(verifierKey: String(decoding: changed, as: UTF8.self)) }
        }
        for bad in [Self.text, Self.text + "\n", Self.text + "\n" + "\u{2014} Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n",
                    "a\u{0007}b\n\n" + Self.peterSig, Self.text + "\n" + Self.peterSig.dropLast()] {
            #expect(throws: SignedNote.Refused.self) { try SignedNote.parse(String(bad)) }
        }
    }

    @Test func aCheckpointIsOriginSizeAndRoot() throws {
        let root = [UInt8](repeating: 0xAB, count: 32)
        let checkpoint = Checkpoint(origin: "cascade.example/log", size: 42, root: root)
        #expect(checkpoint.text == "cascade.example/log\n42\n\(Base64.encode(root))\n")
        #expect(try Checkpoint(text: checkpoint.text) == checkpoint)
        for bad in ["cascade\n042\n\(Base64.encode(root))\n", "cascade\n-1\n\(Base64.encode(root))\n", "cascade\n1\nAAAA\n", "\n1\n\(Base64.encode(root))\n",
                    "cascade\n1\n\(Base64.encode(root))", "cascade\n1\n"] {
            #expect(throws: SignedNote.Refused.self) { try Checkpoint(text: bad) }
        }
    }
}
