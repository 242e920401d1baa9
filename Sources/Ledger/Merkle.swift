import Crypto

/// RFC 6962 §2.1 Merkle tree hash over 32-byte leaves (the transaction ids' raw bytes):
/// leaf = H(0x00 ‖ id), node = H(0x01 ‖ left ‖ right), empty = H(), with H the profile's hash
/// (SHA-256, or SM3 in `sm2-sm3`).
public enum Merkle {
    public typealias Hash = [UInt8]

    public static func leafHash(_ leaf: [UInt8], profile: CryptoProfile = .standard) -> Hash {
        profile == .ed25519Sha256 ? Array(leafDigest(leaf)) : profile.hash([0x00] + leaf)
    }

    public static func nodeHash(_ left: Hash, _ right: Hash, profile: CryptoProfile = .standard) -> Hash {
        guard profile == .ed25519Sha256 else { return profile.hash([0x01] + left + right) }
        return left.withUnsafeBytes { l in right.withUnsafeBytes { r in Array(nodeDigest(l, r)) } }
    }

    public static func emptyRoot(profile: CryptoProfile = .standard) -> Hash { profile.hash([UInt8]()) }

    /// SHA-256 of a one-byte prefix and up to 64 bytes, gathered on the stack and hashed in one call.
    @inline(__always)
    static func prefixed(_ prefix: UInt8, _ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> SHA256Digest {
        withUnsafeTemporaryAllocation(byteCount: 1 + a.count + b.count, alignment: 1) { buffer in
            buffer[0] = prefix
            UnsafeMutableRawBufferPointer(rebasing: buffer[1...]).copyMemory(from: a)
            UnsafeMutableRawBufferPointer(rebasing: buffer[(1 + a.count)...]).copyMemory(from: b)
            return SHA256.hash(data: UnsafeRawBufferPointer(buffer))
        }
    }

    static func leafDigest(_ leaf: [UInt8]) -> SHA256Digest {
        leaf.withUnsafeBytes { prefixed(0x00, $0, UnsafeRawBufferPointer(start: nil, count: 0)) }
    }

    static func nodeDigest(_ left: UnsafeRawBufferPointer, _ right: UnsafeRawBufferPointer) -> SHA256Digest {
        prefixed(0x01, left, right)
    }

    /// MTH(D[n]). Computed bottom-up level by level; an odd node is carried up unchanged, which
    /// gives exactly RFC 6962's split at the largest power of two below n.
    public static func root(leaves: [[UInt8]], profile: CryptoProfile = .standard) -> Hash {
        guard profile == .ed25519Sha256 else { return root(hashes: leaves.map { leafHash($0, profile: profile) }, profile: profile) }
        return root(leafDigests: leaves.map(leafDigest))
    }

    /// MTH over transaction ids. SHA-256's, the hot path of every block, writes their raw bytes
    /// from the words without a detour.
    static func root(ids: [TxID], profile: CryptoProfile) -> Hash {
        guard profile == .ed25519Sha256 else { return root(leaves: ids.map(\.bytes), profile: profile) }
        return root(leafDigests: ids.map { id in
            withUnsafeTemporaryAllocation(byteCount: 32, alignment: 8) { raw in
                raw.storeBytes(of: id.w0.bigEndian, toByteOffset: 0, as: UInt64.self)
                raw.storeBytes(of: id.w1.bigEndian, toByteOffset: 8, as: UInt64.self)
                raw.storeBytes(of: id.w2.bigEndian, toByteOffset: 16, as: UInt64.self)
                raw.storeBytes(of: id.w3.bigEndian, toByteOffset: 24, as: UInt64.self)
                return prefixed(0x00, UnsafeRawBufferPointer(raw), UnsafeRawBufferPointer(start: nil, count: 0))
            }
        })
    }

    static func root(leafDigests: [SHA256Digest]) -> Hash {
        if leafDigests.isEmpty { return Array(SHA256.hash(data: [UInt8]())) }
        var level = leafDigests
        while level.count > 1 { level = parents(of: level) }
        return Array(level[0])
    }

    /// MTH from the leaves' hashes, any profile.
    static func root(hashes: [Hash], profile: CryptoProfile) -> Hash {
        if hashes.isEmpty { return emptyRoot(profile: profile) }
        var level = hashes
        while level.count > 1 { level = parents(of: level, profile: profile) }
        return level[0]
    }

    static func parents(of level: [Hash], profile: CryptoProfile) -> [Hash] {
        stride(from: 0, to: level.count, by: 2).map { i in
            i + 1 < level.count ? nodeHash(level[i], level[i + 1], profile: profile) : level[i]
        }
    }

    /// One level up: pairs hashed together, an odd last node carried up unchanged. Digests are
    /// fixed-size values, so a level is one array, not an array per node.
    static func parents(of level: [SHA256Digest]) -> [SHA256Digest] {
        var next: [SHA256Digest] = []
        next.reserveCapacity((level.count + 1) / 2)
        var i = 0
        while i + 1 < level.count {
            next.append(level[i].withUnsafeBytes { l in level[i + 1].withUnsafeBytes { r in nodeDigest(l, r) } })
            i += 2
        }
        if i < level.count { next.append(level[i]) }
        return next
    }

    /// PATH(m, D[n]) of RFC 6962 §2.1.1: the audit path of leaf `index`, nearest sibling first.
    public static func auditPath(index: Int, leaves: [[UInt8]], profile: CryptoProfile = .standard) -> [Hash] {
        precondition(index >= 0 && index < leaves.count, "leaf index in range")
        var path: [Hash] = []
        var level = leaves.map { leafHash($0, profile: profile) }
        var m = index
        while level.count > 1 {
            let sibling = m ^ 1
            if sibling < level.count { path.append(level[sibling]) }
            level = parents(of: level, profile: profile)
            m /= 2
        }
        return path
    }

    /// RFC 9162 §2.1.3.2: checks that `leaf` sits at `index` of a tree of `treeSize` leaves whose
    /// root is `root`, using nothing but the audit path.
    public static func verifyInclusion(leaf: [UInt8], index: Int, treeSize: Int, path: [Hash], root: Hash,
                                       profile: CryptoProfile = .standard) -> Bool {
        guard index >= 0, index < treeSize else { return false }
        var fn = index
        var sn = treeSize - 1
        var r = leafHash(leaf, profile: profile)
        for p in path {
            guard sn != 0, p.count == 32 else { return false }
            if fn & 1 == 1 || fn == sn {
                r = nodeHash(p, r, profile: profile)
                if fn & 1 == 0 {
                    while fn & 1 == 0 && fn != 0 {
                        fn >>= 1
                        sn >>= 1
                    }
                }
            } else {
                r = nodeHash(r, p, profile: profile)
            }
            fn >>= 1
            sn >>= 1
        }
        return sn == 0 && r == root
    }
}
