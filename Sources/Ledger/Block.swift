/// `{"height", "prevHash", "txRoot", "txCount", "time"}` (SPEC §4), and in block 0 of a chain
/// created in another profile than `ed25519-sha256`, `"profile"`.
public struct BlockHeader: Sendable, Equatable {
    public var height: Int64
    public var prevHash: String
    public var txRoot: String
    public var txCount: Int64
    public var time: Int64
    /// The crypto profile the header names (block 0 only); nil when it names none.
    public var profile: CryptoProfile?

    public static let genesisPrevHash = String(repeating: "0", count: 64)

    public init(height: Int64, prevHash: String, txRoot: String, txCount: Int64, time: Int64, profile: CryptoProfile? = nil) {
        self.height = height
        self.prevHash = prevHash
        self.txRoot = txRoot
        self.txCount = txCount
        self.time = time
        self.profile = profile
    }

    public var json: JSON {
        var fields: [JSONKey: JSON] = ["height": .int(height), "prevHash": .string(prevHash), "txRoot": .string(txRoot),
                                       "txCount": .int(txCount), "time": .int(time)]
        if let profile { fields["profile"] = .string(profile.rawValue) }
        return .object(fields)
    }

    public init(json: JSON?) throws(LedgerError) {
        var r = try FieldReader(json, path: "header", text: .chain)
        height = try r.requiredInt("height")
        prevHash = try r.format("prevHash", { Hex.isLowercaseHex($0, length: 64) }, "64 lowercase hex characters")!
        txRoot = try r.format("txRoot", { Hex.isLowercaseHex($0, length: 64) }, "64 lowercase hex characters")!
        txCount = try r.requiredInt("txCount")
        time = try r.requiredInt("time")
        profile = try r.string("profile", maxLength: 32, optional: true).map { name throws(LedgerError) in try CryptoProfile(named: name, field: "header.profile") }
        try r.finish()
    }

    public var canonicalBytes: [UInt8] { json.canonicalBytes }

    /// H(JCS(header)) in the chain's profile.
    public func hash(in chain: CryptoProfile) -> String { chain.hashHex(canonicalBytes) }
}

/// `{"header", "hash", "signature", "transactions"}`: hash = H(JCS(header)), signature by the
/// operator key in force at the end of the previous block over JCS(header), in the chain's profile.
public struct Block: Sendable, Equatable {
    public var header: BlockHeader
    public var hash: String
    public var signature: [UInt8]
    public var transactions: [Transaction]

    public init(header: BlockHeader, hash: String, signature: [UInt8], transactions: [Transaction]) {
        self.header = header
        self.hash = hash
        self.signature = signature
        self.transactions = transactions
    }

    public static func txRoot(of transactions: [Transaction], profile: CryptoProfile) -> String {
        Hex.encode(Merkle.root(ids: transactions.map(\.id), profile: profile))
    }

    /// Seals transactions that were applied in this order into the block after `previous`, in
    /// the sealer's profile; block 0 of a chain in any profile but the standard one names it.
    public static func seal(_ transactions: [Transaction], height: Int64, prevHash: String, time: Int64,
                            sealer: any TransactionSigner) throws -> Block {
        let profile = sealer.profile
        let header = BlockHeader(height: height, prevHash: prevHash, txRoot: txRoot(of: transactions, profile: profile),
                                 txCount: Int64(transactions.count), time: time,
                                 profile: height == 0 && profile != .standard ? profile : nil)
        let bytes = header.canonicalBytes
        return Block(header: header, hash: profile.hashHex(bytes), signature: try sealer.sign(bytes), transactions: transactions)
    }

    public var json: JSON {
        .object(["header": header.json, "hash": .string(hash), "signature": .string(Base64.encode(signature)),
                 "transactions": .array(transactions.map(\.json))])
    }

    /// One line of a chain export: the block's canonical JSON.
    public var exportLine: [UInt8] { json.canonicalBytes }

    /// The RFC 6962 audit path of one of this block's transactions.
    public func inclusionProof(transactionId: TxID, profile: CryptoProfile) -> InclusionProof? {
        guard let index = transactions.firstIndex(where: { $0.id == transactionId }) else { return nil }
        let leaves = transactions.map(\.id.bytes)
        return InclusionProof(transactionId: transactionId.description, blockHeight: header.height, leafIndex: index,
                              auditPath: Merkle.auditPath(index: index, leaves: leaves, profile: profile).map { Hex.encode($0) },
                              header: header, hash: hash, signature: Base64.encode(signature), profile: profile)
    }
}

/// A receipt anyone can check with the block header and the sealer's public key alone.
public struct InclusionProof: Sendable, Equatable {
    public var transactionId: String
    public var blockHeight: Int64
    public var leafIndex: Int
    public var auditPath: [String]
    public var header: BlockHeader
    public var hash: String
    public var signature: String
    /// The chain's crypto profile: which hash and signature the proof is checked with.
    public var profile: CryptoProfile
    /// With the transaction log: the transaction's place in it and a head that contains it.
    public var log: LogReceipt?

    public init(transactionId: String, blockHeight: Int64, leafIndex: Int, auditPath: [String], header: BlockHeader, hash: String, signature: String,
                profile: CryptoProfile) {
        self.transactionId = transactionId
        self.blockHeight = blockHeight
        self.leafIndex = leafIndex
        self.auditPath = auditPath
        self.header = header
        self.hash = hash
        self.signature = signature
        self.profile = profile
    }

    /// Why the proof does not hold, or nil when it does: the path leads from the transaction id to
    /// the header's txRoot, the hash is the header's, and the sealer signed that header.
    public func problem(sealerPublicKey: [UInt8]) -> String? {
        guard let leaf = Hex.decode(transactionId), leaf.count == 32 else { return "transaction id is not 64 hex characters" }
        let path = auditPath.compactMap(Hex.decode)
        guard path.count == auditPath.count, let root = Hex.decode(header.txRoot) else { return "audit path is not hex" }
        guard header.height == blockHeight else { return "block height \(blockHeight) differs from the header's \(header.height)" }
        guard Merkle.verifyInclusion(leaf: leaf, index: leafIndex, treeSize: Int(clamping: header.txCount), path: path, root: root, profile: profile) else {
            return "the audit path does not lead to the block's txRoot"
        }
        guard header.hash(in: profile) == hash else { return "hash is not \(profile.hashName)(JCS(header))" }
        guard let sig = Base64.decode(signature),
            profile.isValidSignature(sig, for: header.canonicalBytes, publicKey: sealerPublicKey)
        else { return "the block header's signature does not verify with the sealer's key" }
        return nil
    }

    public var json: JSON {
        .object(["transactionId": .string(transactionId), "blockHeight": .int(blockHeight), "leafIndex": .int(Int64(leafIndex)),
                 "auditPath": .array(auditPath.map(JSON.string)), "header": header.json, "hash": .string(hash),
                 "signature": .string(signature), "profile": .string(profile.rawValue)].merging(logJSON) { a, _ in a })
    }

    var logJSON: [JSONKey: JSON] {
        guard let log else { return [:] }
        var fields: [JSONKey: JSON] = ["logIndex": .int(log.index), "logSize": .int(log.size), "logProof": .array(log.proof.map { .string(Hex.encode($0)) }),
                                       "witnessed": .bool(log.witnessed)]
        if let checkpoint = log.checkpoint { fields["checkpoint"] = .string(checkpoint) }
        return fields
    }

    public init(json: JSON) throws(LedgerError) {
        var r = try FieldReader(json, path: "", text: .chain)
        transactionId = try r.txRef("transactionId").description
        blockHeight = try r.requiredInt("blockHeight")
        leafIndex = Int(try r.requiredInt("leafIndex"))
        auditPath = []
        for (i, item) in try r.array("auditPath", count: 0...64).enumerated() {
            guard case .string(let s) = item, Hex.isLowercaseHex(s, length: 64) else {
                throw LedgerError.invalid("auditPath[\(i)]", "must be 64 lowercase hex characters")
            }
            auditPath.append(s)
        }
        header = try BlockHeader(json: r.value("header"))
        hash = try r.required("hash", maxLength: 64)
        signature = try r.required("signature", maxLength: 128)
        // A receipt saved before the field existed is of an ed25519-sha256 chain.
        profile = try r.string("profile", maxLength: 32, optional: true).map { name throws(LedgerError) in try CryptoProfile(named: name) } ?? .standard
        if let index = try r.int("logIndex", optional: true) {
            var path: [[UInt8]] = []
            for (i, item) in try r.array("logProof", count: 0...63).enumerated() {
                guard case .string(let s) = item, let hash = Hex.decode(s), hash.count == 32 else {
                    throw LedgerError.invalid("logProof[\(i)]", "must be 64 lowercase hex characters")
                }
                path.append(hash)
            }
            log = LogReceipt(index: index, size: try r.requiredInt("logSize"), proof: path,
                             checkpoint: try r.string("checkpoint", maxLength: 16_384, optional: true), witnessed: try r.bool("witnessed", optional: true) ?? false)
        }
        try r.finish()
    }

    /// The transaction log's part of a receipt, checked: the head is signed by the log's key and
    /// names the size, the transaction sits at its index in the head's tree; answers the problem
    /// (nil when it holds) and the names of the witnesses in `witnesses` whose cosignature of the head verifies.
    public func logProblem(logKey: NoteVerifier, witnesses: [CosignatureKey]) -> (problem: String?, vouched: [String]) {
        guard let log else { return ("the receipt carries no place in the transaction log", []) }
        guard let note = log.checkpoint else { return ("the receipt carries no head of the transaction log", []) }
        guard logKey.verifies(note), let (text, signatures) = try? SignedNote.parse(note), let head = try? Checkpoint(text: text) else {
            return ("the log's head is not signed by the log's key \(logKey.verifierKey)", [])
        }
        guard head.origin == logKey.name, head.size == log.size else { return ("the log's head is of size \(head.size), not \(log.size)", []) }
        guard let leaf = Hex.decode(transactionId),
              LogTree.verifyInclusion(leafHash: Merkle.leafHash(leaf, profile: profile), index: log.index, size: log.size, proof: log.proof, root: head.root, profile: profile) else {
            return ("the log proof does not lead from the transaction to the log's head", [])
        }
        return (nil, witnesses.filter { $0.cosigned(text, in: signatures) != nil }.map(\.name))
    }
}

/// A transaction's place in the transaction log, as a receipt carries it.
public struct LogReceipt: Sendable, Equatable {
    public var index: Int64
    public var size: Int64
    public var proof: [[UInt8]]
    /// The head of `size`, a signed note with its cosignatures.
    public var checkpoint: String?
    public var witnessed: Bool

    public init(index: Int64, size: Int64, proof: [[UInt8]], checkpoint: String?, witnessed: Bool) {
        self.index = index
        self.size = size
        self.proof = proof
        self.checkpoint = checkpoint
        self.witnessed = witnessed
    }
}
