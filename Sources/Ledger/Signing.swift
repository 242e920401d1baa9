import Crypto
import Foundation

/// The one thing the ledger needs from a key holder: sign bytes, say which public key verifies
/// them, and in which crypto profile. Ed25519 (`ed25519-sha256`) and SM2 (`sm2-sm3`); a hardware
/// module plugs in behind the same interface.
public protocol TransactionSigner: Sendable {
    var publicKey: [UInt8] { get }
    var profile: CryptoProfile { get }
    /// The private key's bytes (an Ed25519 seed, an SM2 scalar), for the key vault to seal.
    var secret: [UInt8] { get }
    func sign(_ message: [UInt8]) throws -> [UInt8]
}

extension TransactionSigner {
    public var keyId: String { profile.keyId(publicKey: publicKey) }
    public var publicKeyBase64: String { Base64.encode(publicKey) }
}

public struct Ed25519Signer: TransactionSigner {
    // An immutable key; BoringSSL signing with it is thread-safe.
    nonisolated(unsafe) let key: Curve25519.Signing.PrivateKey
    public let publicKey: [UInt8]

    public init(seed: [UInt8]) throws {
        key = try Curve25519.Signing.PrivateKey(rawRepresentation: seed)
        publicKey = Array(key.publicKey.rawRepresentation)
    }

    public static func generate() -> Ed25519Signer {
        let key = Curve25519.Signing.PrivateKey()
        return try! Ed25519Signer(seed: Array(key.rawRepresentation))  // a fresh key's seed is always 32 bytes
    }

    public var seed: [UInt8] { Array(key.rawRepresentation) }
    public var secret: [UInt8] { seed }
    public var profile: CryptoProfile { .ed25519Sha256 }

    public func sign(_ message: [UInt8]) throws -> [UInt8] {
        Array(try key.signature(for: message))
    }
}

/// A public key parsed once, for checking many signatures (from any thread: it is immutable).
public struct Ed25519Verifier: @unchecked Sendable {
    let key: Curve25519.Signing.PublicKey

    public init(_ rawPublicKey: [UInt8]) throws {
        key = try Curve25519.Signing.PublicKey(rawRepresentation: rawPublicKey)
    }

    public func verify(_ signature: [UInt8], _ message: [UInt8]) -> Bool {
        key.isValidSignature(signature, for: message)
    }
}
