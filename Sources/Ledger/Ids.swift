/// Fixed-size ids. The ledger holds millions of them in its maps: as plain words they hash and
/// compare without touching the heap, and copying a token copies no strings.

@inline(__always)
func hexNibble(_ c: UInt8) -> UInt64? {
    switch c {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt64(c - UInt8(ascii: "0"))
    case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt64(c - UInt8(ascii: "a") + 10)
    default: nil
    }
}

/// Reads `digits` (at most 16) lowercase hex characters starting at `start` as one big-endian word.
@inline(__always)
func hexWord(_ u: UnsafeBufferPointer<UInt8>, _ start: Int, digits: Int = 16) -> UInt64? {
    var v: UInt64 = 0
    for k in start..<start + digits {
        guard let n = hexNibble(u[k]) else { return nil }
        v = v << 4 | n
    }
    return v
}

/// The 8 lowercase hex digits of `v` as ASCII bytes, first digit in the lowest byte (so storing the
/// word little-endian writes them in order). No table and no branch: each nibble is spread into a
/// byte, then 0–9 and a–f are offset in all eight bytes at once.
@inline(__always)
func hexDigits(_ v: UInt32) -> UInt64 {
    var x = UInt64(v)
    x = (x | x << 16) & 0x0000_FFFF_0000_FFFF
    x = (x | x << 8) & 0x00FF_00FF_00FF_00FF
    x = (x | x << 4) & 0x0F0F_0F0F_0F0F_0F0F  // nibble i in byte i
    let letters = ((x &+ 0x0606_0606_0606_0606) >> 4) & 0x0101_0101_0101_0101  // 1 where the nibble is 10–15
    return (x &+ 0x3030_3030_3030_3030 &+ letters &* 0x27).byteSwapped.littleEndian
}

/// Writes the 16 hex digits of `w` at `out`.
@inline(__always)
func storeHex(_ w: UInt64, at out: UnsafeMutableRawPointer) {
    out.storeBytes(of: hexDigits(UInt32(truncatingIfNeeded: w >> 32)), as: UInt64.self)
    (out + 8).storeBytes(of: hexDigits(UInt32(truncatingIfNeeded: w)), as: UInt64.self)
}

/// 32 lowercase hex characters of a 128-bit id.
func hex128(_ hi: UInt64, _ lo: UInt64) -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(32)
    appendHex(hi, to: &out)
    appendHex(lo, to: &out)
    return out
}

@inline(__always)
func appendHex(_ word: UInt64, to out: inout [UInt8]) {
    let digits: StaticString = "0123456789abcdef"
    digits.withUTF8Buffer { d in
        for shift in stride(from: 60, through: 0, by: -4) {
            out.append(d[Int((word >> UInt64(shift)) & 0xF)])
        }
    }
}

/// A SHA-256 sized id: a transaction's id, and so a receivable's, a credit line's or a
/// financing's (each is the id of the transaction that created it). Written as 64 lowercase hex.
public struct TxID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var w0, w1, w2, w3: UInt64

    public init(digest: [UInt8]) {
        precondition(digest.count == 32, "a SHA-256 digest")
        (w0, w1, w2, w3) = digest.withUnsafeBytes { raw in
            (UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self)),
             UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self)),
             UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self)),
             UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 24, as: UInt64.self)))
        }
    }

    public init?(_ text: String) {
        var t = text
        guard let parsed = t.withUTF8({ u -> TxID? in
            guard u.count == 64, let a = hexWord(u, 0), let b = hexWord(u, 16), let c = hexWord(u, 32), let d = hexWord(u, 48)
            else { return nil }
            return TxID(a, b, c, d)
        }) else { return nil }
        self = parsed
    }

    init(_ a: UInt64, _ b: UInt64, _ c: UInt64, _ d: UInt64) { (w0, w1, w2, w3) = (a, b, c, d) }

    public var description: String {
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for w in [w0, w1, w2, w3] { appendHex(w, to: &out) }
        return String(decoding: out, as: UTF8.self)
    }

    public var bytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(32)
        for w in [w0, w1, w2, w3] { for s in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: w >> UInt64(s))) } }
        return out
    }

    // Ids are SHA-256 output: any one word is already uniformly spread.
    public func hash(into hasher: inout Hasher) { hasher.combine(w0 ^ w2) }

    public static func < (a: TxID, b: TxID) -> Bool { (a.w0, a.w1, a.w2, a.w3) < (b.w0, b.w1, b.w2, b.w3) }
}

/// A token's id: the first 128 bits of SHA-256(txId + "/" + k). Written as 32 lowercase hex.
public struct TokenID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var hi, lo: UInt64

    public init(hi: UInt64, lo: UInt64) { (self.hi, self.lo) = (hi, lo) }

    public init?(_ text: String) {
        var t = text
        guard let parsed = t.withUTF8({ u -> TokenID? in
            guard u.count == 32, let a = hexWord(u, 0), let b = hexWord(u, 16) else { return nil }
            return TokenID(hi: a, lo: b)
        }) else { return nil }
        self = parsed
    }

    public var description: String { String(decoding: hex128(hi, lo), as: UTF8.self) }

    public func hash(into hasher: inout Hasher) { hasher.combine(hi) }

    public static func < (a: TokenID, b: TokenID) -> Bool { (a.hi, a.lo) < (b.hi, b.lo) }
}

/// An org's id: a UUID, written in lowercase 8-4-4-4-12 form.
public struct OrgID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var hi, lo: UInt64

    public init(hi: UInt64, lo: UInt64) { (self.hi, self.lo) = (hi, lo) }

    public init?(_ text: String) {
        var t = text
        guard let parsed = t.withUTF8({ u -> OrgID? in
            guard u.count == 36, u[8] == UInt8(ascii: "-"), u[13] == UInt8(ascii: "-"), u[18] == UInt8(ascii: "-"),
                u[23] == UInt8(ascii: "-")
            else { return nil }
            // 8-4-4-4-12: the first three groups make the high word, the last two the low one.
            guard let g0 = hexWord(u, 0, digits: 8), let g1 = hexWord(u, 9, digits: 4), let g2 = hexWord(u, 14, digits: 4),
                let g3 = hexWord(u, 19, digits: 4), let g4 = hexWord(u, 24, digits: 12)
            else { return nil }
            return OrgID(hi: g0 << 32 | g1 << 16 | g2, lo: g3 << 48 | g4)
        }) else { return nil }
        self = parsed
    }

    public var description: String {
        let hex = hex128(hi, lo)
        var out: [UInt8] = []
        out.reserveCapacity(36)
        for (i, c) in hex.enumerated() {
            if i == 8 || i == 12 || i == 16 || i == 20 { out.append(UInt8(ascii: "-")) }
            out.append(c)
        }
        return String(decoding: out, as: UTF8.self)
    }

    // A random UUID: its two words folded into one hash as they are. Every transaction looks up
    // its signer (and often a counterparty) by this.
    public func hash(into hasher: inout Hasher) { hasher.combine(hi ^ lo) }

    public static func < (a: OrgID, b: OrgID) -> Bool { (a.hi, a.lo) < (b.hi, b.lo) }
}
