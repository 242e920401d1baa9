import Crypto
import Foundation

public enum Hex {
    private static let digits: [UInt8] = Array("0123456789abcdef".utf8)

    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Lowercase hex only: the ledger's ids have exactly one spelling.
    public static func decode(_ text: String) -> [UInt8]? {
        let u = Array(text.utf8)
        guard u.count % 2 == 0 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
            default: nil
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(u.count / 2)
        var k = 0
        while k < u.count {
            guard let hi = nibble(u[k]), let lo = nibble(u[k + 1]) else { return nil }
            out.append(hi << 4 | lo)
            k += 2
        }
        return out
    }

    public static func isLowercaseHex(_ text: String, length: Int) -> Bool {
        text.utf8.count == length && decode(text) != nil
    }
}

/// SHA-256 for what is not the ledger's (documents' content, secrets, request fingerprints):
/// the ledger's own hashes go through its `CryptoProfile`.
public enum Hashing {
    public static func sha256(_ bytes: some DataProtocol) -> [UInt8] { Array(SHA256.hash(data: bytes)) }

    public static func sha256Hex(_ bytes: some DataProtocol) -> String { Hex.encode(SHA256.hash(data: bytes)) }

}

public enum Base64 {
    /// Standard, padded base64 only; anything else is refused so that one value has one spelling:
    /// no line breaks or spaces, padding exactly as needed, and the bits after the last byte zero.
    public static func decode(_ text: String) -> [UInt8]? {
        var t = text
        return t.withUTF8 { u -> [UInt8]? in
            guard u.count % 4 == 0 else { return nil }
            let padding = u.count == 0 ? 0 : (u[u.count - 1] == pad ? (u[u.count - 2] == pad ? 2 : 1) : 0)
            let length = u.count / 4 * 3 - padding
            var valid = true
            let out = [UInt8](unsafeUninitializedCapacity: length) { out, written in
                var quad = 0
                var at = 0
                while quad < u.count {
                    let last = quad + 4 == u.count
                    var bits: UInt32 = 0
                    for k in 0..<4 {
                        if last && k >= 4 - padding {
                            bits <<= 6
                            continue
                        }
                        guard let v = sextet(u[quad + k]) else { valid = false; return }
                        bits = bits << 6 | v
                    }
                    let bytes = last ? 3 - padding : 3
                    // The unused low bits of a padded group must be zero.
                    guard bytes == 3 || bits & (bytes == 1 ? 0xFFFF : 0xFF) == 0 else { valid = false; return }
                    for k in 0..<bytes { out[at + k] = UInt8(truncatingIfNeeded: bits >> UInt32(16 - 8 * k)) }
                    at += bytes
                    written = at
                    quad += 4
                }
            }
            return valid ? out : nil
        }
    }

    private static let pad = UInt8(ascii: "=")

    @inline(__always)
    private static func sextet(_ c: UInt8) -> UInt32? {
        switch c {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): UInt32(c - UInt8(ascii: "A"))
        case UInt8(ascii: "a")...UInt8(ascii: "z"): UInt32(c - UInt8(ascii: "a") + 26)
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(c - UInt8(ascii: "0") + 52)
        case UInt8(ascii: "+"): 62
        case UInt8(ascii: "/"): 63
        default: nil
        }
    }

    public static func encode(_ bytes: some Sequence<UInt8>) -> String { Data(bytes).base64EncodedString() }
}
