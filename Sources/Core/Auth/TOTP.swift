import Crypto
import Foundation

/// Time-based one-time passwords (RFC 6238 over RFC 4226's HOTP): HMAC-SHA-1 of the 30-second
/// step count, dynamically truncated to 6 digits; a code of the step before or after is accepted
/// too (clocks drift), and a step once used is never accepted again. What authenticator apps
/// compute from an `otpauth://` URI.
package enum TOTP {
    package static let stepSeconds: Int64 = 30
    package static let digits = 6

    /// The step `unixSeconds` falls in.
    package static func step(at unixSeconds: Int64) -> Int64 { unixSeconds >= 0 ? unixSeconds / stepSeconds : (unixSeconds - stepSeconds + 1) / stepSeconds }

    /// The code for `step` (RFC 4226 §5.3), `digits` long with leading zeros.
    package static func code(secret: [UInt8], step: Int64, digits: Int = digits) -> String {
        var counter = UInt64(bitPattern: step).bigEndian
        let message = withUnsafeBytes(of: &counter) { Array($0) }
        let mac = Array(HMAC<Insecure.SHA1>.authenticationCode(for: message, using: SymmetricKey(data: secret)))
        let offset = Int(mac[mac.count - 1] & 0x0F)
        let binary = (UInt32(mac[offset] & 0x7F) << 24) | (UInt32(mac[offset + 1]) << 16) | (UInt32(mac[offset + 2]) << 8) | UInt32(mac[offset + 3])
        var modulus: UInt32 = 1
        for _ in 0..<digits { modulus *= 10 }
        let value = String(binary % modulus)
        return String(repeating: "0", count: digits - value.count) + value
    }

    /// The step `code` was made for, within one step of `unixSeconds` and after `lastUsed` (a
    /// step already used is refused: a code works once); nil when it matches none.
    package static func verify(_ code: String, secret: [UInt8], at unixSeconds: Int64, lastUsed: Int64?) -> Int64? {
        guard code.count == digits, code.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        let now = step(at: unixSeconds)
        for candidate in [now - 1, now, now + 1] where candidate > (lastUsed ?? Int64.min) {
            if constantTimeEqual(Self.code(secret: secret, step: candidate), code) { return candidate }
        }
        return nil
    }

    package static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        return zip(x, y).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }

    /// A new secret: 20 random bytes (160 bits, RFC 4226's recommendation).
    package static func newSecret() -> [UInt8] {
        var rng = SystemRandomNumberGenerator()
        return (0..<20).map { _ in UInt8.random(in: 0...255, using: &rng) }
    }

    /// The enrolment URI an authenticator app reads (usually from a QR code).
    package static func uri(secret: [UInt8], account: String, issuer: String) -> String {
        func escape(_ s: String) -> String { s.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "" }
        return "otpauth://totp/\(escape(issuer)):\(escape(account))?secret=\(Base32.encode(secret))&issuer=\(escape(issuer))&algorithm=SHA1&digits=\(digits)&period=\(stepSeconds)"
    }
}

/// RFC 4648 base32, the alphabet TOTP secrets are written in (upper case, no padding).
package enum Base32 {
    package static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".utf8)

    package static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = [], buffer: UInt32 = 0, bits = 0
        for byte in bytes {
            buffer = (buffer << 8) | UInt32(byte)
            bits += 8
            while bits >= 5 {
                out.append(alphabet[Int((buffer >> UInt32(bits - 5)) & 31)])
                bits -= 5
            }
        }
        if bits > 0 { out.append(alphabet[Int((buffer << UInt32(5 - bits)) & 31)]) }
        return String(decoding: out, as: UTF8.self)
    }

    /// Nil for any character outside the alphabet (case, spaces and `=` padding are forgiven).
    package static func decode(_ text: String) -> [UInt8]? {
        var out: [UInt8] = [], buffer: UInt32 = 0, bits = 0
        for c in text.uppercased().utf8 where c != UInt8(ascii: " ") && c != UInt8(ascii: "=") {
            guard let value = alphabet.firstIndex(of: c) else { return nil }
            buffer = (buffer << 5) | UInt32(value)
            bits += 5
            if bits >= 8 {
                out.append(UInt8((buffer >> UInt32(bits - 8)) & 0xFF))
                bits -= 8
            }
        }
        return out
    }
}
