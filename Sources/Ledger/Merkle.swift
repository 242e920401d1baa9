import Crypto

/// RFC 6962 §2.1 Merkle tree hash over 32-byte leaves (the transaction ids' raw bytes):
/// leaf = SHA-256(0x00 ‖ id), node = SHA-256(0x01 ‖ left ‖ right), empty = SHA-256().
public enum Merkle {
    public typealias Hash = [UInt8]

    public static func leafHash(_ leaf: [UInt8]) -> Hash {
        var h = SHA256()
        h.update(data: [0x00])
        h.update(data: leaf)
        return Array(h.finalize())
    }

    public static func nodeHash(_ left: Hash, _ right: Hash) -> Hash {
        var h = SHA256()
        h.update(data: [0x01])
        h.update(data: left)
        h.update(data: right)
        return Array(h.finalize())
    }

    /// MTH(D[n]). Computed bottom-up level by level; an odd node is carried up unchanged, which
    /// gives exactly RFC 6962's split at the largest power of two below n.
    public static func root(leaves: [[UInt8]]) -> Hash {
        if leaves.isEmpty { return Array(SHA256.hash(data: [UInt8]())) }
        var level = leaves.map(leafHash)
        while level.count > 1 { level = parents(of: level) }
        return level[0]
    }

    /// One level up: pairs hashed together, an odd last node carried up unchanged.
    static func parents(of level: [Hash]) -> [Hash] {
        var next: [Hash] = []
        next.reserveCapacity((level.count + 1) / 2)
        var i = 0
        while i + 1 < level.count {
            next.append(nodeHash(level[i], level[i + 1]))
            i += 2
        }
        if i < level.count { next.append(level[i]) }
        return next
    }

    /// PATH(m, D[n]) of RFC 6962 §2.1.1: the audit path of leaf `index`, nearest sibling first.
    public static func auditPath(index: Int, leaves: [[UInt8]]) -> [Hash] {
        precondition(index >= 0 && index < leaves.count, "leaf index in range")
        var path: [Hash] = []
        var level = leaves.map(leafHash)
        var m = index
        while level.count > 1 {
            let sibling = m ^ 1
            if sibling < level.count { path.append(level[sibling]) }
            level = parents(of: level)
            m /= 2
        }
        return path
    }

    /// RFC 9162 §2.1.3.2: checks that `leaf` sits at `index` of a tree of `treeSize` leaves whose
    /// root is `root`, using nothing but the audit path.
    public static func verifyInclusion(leaf: [UInt8], index: Int, treeSize: Int, path: [Hash], root: Hash) -> Bool {
        guard index >= 0, index < treeSize else { return false }
        var fn = index
        var sn = treeSize - 1
        var r = leafHash(leaf)
        for p in path {
            guard sn != 0, p.count == 32 else { return false }
            if fn & 1 == 1 || fn == sn {
                r = nodeHash(p, r)
                if fn & 1 == 0 {
                    while fn & 1 == 0 && fn != 0 {
                        fn >>= 1
                        sn >>= 1
                    }
                }
            } else {
                r = nodeHash(r, p)
            }
            fn >>= 1
            sn >>= 1
        }
        return sn == 0 && r == root
    }
}
