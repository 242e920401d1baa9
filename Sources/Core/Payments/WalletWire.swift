import Crypto
import Foundation
import Ledger

/// The wire of the e-CNY corporate wallet service, as both ends speak it. Every body is a JSON
/// envelope `{nonce, ciphertext}`: the message sealed with AES-256-GCM under the key exchanged at
/// onboarding. A request carries `X-Wallet-Timestamp` and `X-Wallet-Signature`, an HMAC-SHA256
/// (under a key derived from the same secret) over method, path, timestamp and body; the service
/// signs its answers the same way. Callbacks are signed by the service with its Ed25519 key, which
/// the platform holds the public half of. A request older or newer than five minutes is refused.
package struct WalletWire: Sendable {
    private let sealBytes: [UInt8]
    private let macBytes: [UInt8]
    package var sealKey: SymmetricKey { SymmetricKey(data: sealBytes) }
    package var macKey: SymmetricKey { SymmetricKey(data: macBytes) }

    package static let maxSkewMs: Int64 = 5 * 60_000

    package init(secret: SymmetricKey) {
        sealBytes = secret.withUnsafeBytes { Array($0) }
        macBytes = HKDF<SHA256>.deriveKey(inputKeyMaterial: secret, info: Array("cascade-wallet-mac-1".utf8), outputByteCount: 32).withUnsafeBytes { Array($0) }
    }

    package init?(base64 text: String) {
        guard let bytes = Base64.decode(text), bytes.count == 32 else { return nil }
        self.init(secret: SymmetricKey(data: bytes))
    }

    package func seal(_ message: JSON) throws -> [UInt8] {
        let box = try AES.GCM.seal(message.canonicalBytes, using: sealKey)
        let envelope: JSON = ["nonce": .string(Base64.encode(Array(box.nonce))), "ciphertext": .string(Base64.encode(Array(box.ciphertext) + Array(box.tag)))]
        return envelope.canonicalBytes
    }

    /// The message inside an envelope; nil when it is not one, or does not open under the key.
    package func open(_ body: [UInt8]) -> JSON? {
        guard let envelope = try? JSON.parse(body), let n = envelope["nonce"]?.stringValue.flatMap(Base64.decode),
              let c = envelope["ciphertext"]?.stringValue.flatMap(Base64.decode), c.count >= 16,
              let nonce = try? AES.GCM.Nonce(data: n),
              let box = try? AES.GCM.SealedBox(nonce: nonce, ciphertext: c.dropLast(16), tag: c.suffix(16)),
              let plain = try? AES.GCM.open(box, using: sealKey) else { return nil }
        return try? JSON.parse(Array(plain))
    }

    package func signature(_ method: String, _ path: String, timestamp: Int64, body: [UInt8]) -> String {
        var mac = HMAC<SHA256>(key: macKey)
        mac.update(data: Array("\(method) \(path)\n\(timestamp)\n".utf8))
        mac.update(data: body)
        return Base64.encode(Array(mac.finalize()))
    }

    /// The signature is right and the timestamp within five minutes of `nowMs`.
    package func verify(_ method: String, _ path: String, timestamp: String?, signature: String?, body: [UInt8], nowMs: Int64) -> Bool {
        guard let t = timestamp.flatMap(Int64.init), abs(nowMs - t) <= Self.maxSkewMs, let given = signature.flatMap(Base64.decode) else { return false }
        let expected = Base64.decode(self.signature(method, path, timestamp: t, body: body)) ?? []
        return given.count == expected.count && zip(given, expected).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }

    /// What a callback's Ed25519 signature covers.
    package static func callbackMaterial(timestamp: Int64, body: [UInt8]) -> [UInt8] { Array("cascade-wallet-callback-1\n\(timestamp)\n".utf8) + body }
}
