/// The transaction log (SPEC §4): one RFC 6962 tree over every transaction id in chain order, so
/// that witnesses can check that each head extends the last. Its proofs are built from the hashes
/// of complete subtrees — the node at `level` and `index` covers leaves [index·2^level,
/// (index+1)·2^level) — which a store keeps as blocks commit. Any proof needs O(log n) of them,
/// at any size the log ever had.
public enum LogTree {
    public typealias Hash = [UInt8]

    /// A complete subtree.
    public struct Node: Hashable, Sendable, CustomStringConvertible {
        public var level: Int
        public var index: Int64
        public init(level: Int, index: Int64) {
            self.level = level
            self.index = index
        }
        public var description: String { "\(level)/\(index)" }
    }

    /// Why a proof cannot be made: sizes out of order or beyond the log.
    public struct Refused: Error, Sendable, Equatable, CustomStringConvertible {
        public var description: String
        public init(description: String) { self.description = description }
    }

    /// The largest power of two strictly below `n` (n ≥ 2).
    static func split(_ n: Int64) -> Int64 {
        precondition(n >= 2)
        return Int64(1) << (63 - (n - 1).leadingZeroBitCount)
    }

    /// MTH(D[start:end]) of RFC 6962 §2.1, for a range the recursion of §2.1 can reach (`start`
    /// a multiple of the largest power of two not above `end − start`): the complete subtrees
    /// that make it up, read by `node`, at most 2·log n of them.
    public static func hash(from start: Int64, to end: Int64, profile: CryptoProfile, node: (Node) throws -> Hash) rethrows -> Hash {
        precondition(start < end, "a range of at least one leaf")
        let width = end - start
        if width & (width - 1) == 0 {
            return try node(Node(level: width.trailingZeroBitCount, index: start >> width.trailingZeroBitCount))
        }
        let k = split(width)
        return Merkle.nodeHash(try node(Node(level: k.trailingZeroBitCount, index: start >> k.trailingZeroBitCount)),
                               try hash(from: start + k, to: end, profile: profile, node: node), profile: profile)
    }

    /// The root of the log at `size` (the empty tree's hash for 0).
    public static func root(size: Int64, profile: CryptoProfile, node: (Node) throws -> Hash) rethrows -> Hash {
        size == 0 ? Merkle.emptyRoot(profile: profile) : try hash(from: 0, to: size, profile: profile, node: node)
    }

    /// PATH(m, D[n]) of RFC 6962 §2.1.1: the audit path of leaf `index` in the log at `size`,
    /// nearest sibling first.
    public static func inclusionProof(index: Int64, size: Int64, profile: CryptoProfile, node: (Node) throws -> Hash) throws -> [Hash] {
        guard index >= 0, index < size else { throw Refused(description: "leaf \(index) is not in a log of \(size)") }
        var path: [Hash] = []
        try collectPath(index, 0, size, profile, node, &path)
        return path
    }

    private static func collectPath(_ m: Int64, _ start: Int64, _ end: Int64, _ profile: CryptoProfile, _ node: (Node) throws -> Hash, _ path: inout [Hash]) throws {
        guard end - start > 1 else { return }
        let k = split(end - start)
        if m < start + k {
            try collectPath(m, start, start + k, profile, node, &path)
            path.append(try hash(from: start + k, to: end, profile: profile, node: node))
        } else {
            try collectPath(m, start + k, end, profile, node, &path)
            path.append(try hash(from: start, to: start + k, profile: profile, node: node))
        }
    }

    /// PROOF(m, D[n]) of RFC 6962 §2.1.2: that the log at `old` is a prefix of the log at `new`.
    /// Empty when `old` is 0 or `new`.
    public static func consistencyProof(from old: Int64, to new: Int64, profile: CryptoProfile, node: (Node) throws -> Hash) throws -> [Hash] {
        guard old >= 0, old <= new else { throw Refused(description: "size \(old) is not between 0 and \(new)") }
        guard old > 0, old < new else { return [] }
        var proof: [Hash] = []
        try collectSubproof(old, 0, new, true, profile, node, &proof)
        return proof
    }

    private static func collectSubproof(_ m: Int64, _ start: Int64, _ end: Int64, _ whole: Bool, _ profile: CryptoProfile,
                                        _ node: (Node) throws -> Hash, _ proof: inout [Hash]) throws {
        if start + m == end {
            if !whole { proof.append(try hash(from: start, to: end, profile: profile, node: node)) }
            return
        }
        let k = split(end - start)
        if m <= k {
            try collectSubproof(m, start, start + k, whole, profile, node, &proof)
            proof.append(try hash(from: start + k, to: end, profile: profile, node: node))
        } else {
            try collectSubproof(m - k, start + k, end, false, profile, node, &proof)
            proof.append(try hash(from: start, to: start + k, profile: profile, node: node))
        }
    }

    /// RFC 9162 §2.1.3.2: whether `leafHash` sits at `index` of the log at `size` whose root is `root`.
    public static func verifyInclusion(leafHash: Hash, index: Int64, size: Int64, proof: [Hash], root: Hash, profile: CryptoProfile) -> Bool {
        guard index >= 0, index < size, leafHash.count == 32, root.count == 32, proof.allSatisfy({ $0.count == 32 }) else { return false }
        var fn = index, sn = size - 1
        var r = leafHash
        for p in proof {
            guard sn != 0 else { return false }
            if fn & 1 == 1 || fn == sn {
                r = Merkle.nodeHash(p, r, profile: profile)
                while fn & 1 == 0 && fn != 0 {
                    fn >>= 1
                    sn >>= 1
                }
            } else {
                r = Merkle.nodeHash(r, p, profile: profile)
            }
            fn >>= 1
            sn >>= 1
        }
        return sn == 0 && r == root
    }

    /// RFC 9162 §2.1.4.2: whether the log at `old` with root `oldRoot` is a prefix of the log at
    /// `new` with root `newRoot`, by `proof`. The empty log has no root to be consistent with: a
    /// first head (from size 0) needs no proof, and that is its receiver's to know.
    public static func verifyConsistency(from old: Int64, to new: Int64, oldRoot: Hash, newRoot: Hash, proof: [Hash], profile: CryptoProfile) -> Bool {
        guard old > 0, old <= new, proof.allSatisfy({ $0.count == 32 }) else { return false }
        if old == new { return proof.isEmpty && oldRoot == newRoot }
        guard !proof.isEmpty else { return false }
        var path = proof
        if old & (old - 1) == 0 { path.insert(oldRoot, at: 0) }
        var fn = old - 1, sn = new - 1
        while fn & 1 == 1 {
            fn >>= 1
            sn >>= 1
        }
        var fr = path[0], sr = path[0]
        for c in path.dropFirst() {
            guard sn != 0 else { return false }
            if fn & 1 == 1 || fn == sn {
                fr = Merkle.nodeHash(c, fr, profile: profile)
                sr = Merkle.nodeHash(c, sr, profile: profile)
                while fn & 1 == 0 && fn != 0 {
                    fn >>= 1
                    sn >>= 1
                }
            } else {
                sr = Merkle.nodeHash(sr, c, profile: profile)
            }
            fn >>= 1
            sn >>= 1
        }
        return fr == oldRoot && sr == newRoot && sn == 0
    }
}

/// The right edge of the log: the complete subtrees its leaves fill so far, largest first, one
/// per set bit of its size. Appending a leaf says which complete subtrees it completes, for the
/// store to keep; the frontier alone gives the root.
public struct LogFrontier: Sendable, Equatable {
    public private(set) var size: Int64 = 0
    /// The hashes of the complete subtrees on the right edge, largest first.
    public private(set) var hashes: [LogTree.Hash] = []
    public let profile: CryptoProfile

    public init(profile: CryptoProfile) { self.profile = profile }

    /// A frontier as written down (a snapshot): `hashes` must be one per set bit of `size`.
    public init?(size: Int64, hashes: [LogTree.Hash], profile: CryptoProfile) {
        guard size >= 0, hashes.count == size.nonzeroBitCount, hashes.allSatisfy({ $0.count == 32 }) else { return nil }
        self.size = size
        self.hashes = hashes
        self.profile = profile
    }

    /// The frontier of the log at `size`, from its complete subtrees.
    public init(size: Int64, profile: CryptoProfile, node: (LogTree.Node) throws -> LogTree.Hash) rethrows {
        self.profile = profile
        self.size = size
        var start: Int64 = 0
        for level in stride(from: 63, through: 0, by: -1) where size >> level & 1 == 1 {
            hashes.append(try node(LogTree.Node(level: level, index: start >> level)))
            start += Int64(1) << level
        }
    }

    /// Adds the leaf whose hash is `leafHash`; answers every complete subtree it completes (its
    /// own leaf node first).
    public mutating func append(leafHash: LogTree.Hash) -> [(LogTree.Node, LogTree.Hash)] {
        var made = [(LogTree.Node(level: 0, index: size), leafHash)]
        var hash = leafHash
        var level = 0
        // Each trailing 1 bit of the old size is a subtree the new leaf's pairs with.
        while size >> level & 1 == 1 {
            hash = Merkle.nodeHash(hashes.removeLast(), hash, profile: profile)
            level += 1
            made.append((LogTree.Node(level: level, index: size >> level), hash))
        }
        hashes.append(hash)
        size += 1
        return made
    }

    /// Adds a transaction id: its leaf is H(0x00 ‖ id).
    public mutating func append(_ id: TxID) -> [(LogTree.Node, LogTree.Hash)] {
        append(leafHash: Merkle.leafHash(id.bytes, profile: profile))
    }

    public var root: LogTree.Hash {
        guard var hash = hashes.last else { return Merkle.emptyRoot(profile: profile) }
        for left in hashes.dropLast().reversed() { hash = Merkle.nodeHash(left, hash, profile: profile) }
        return hash
    }
}
