import Crypto
import Foundation

/// The chain's cryptography (SPEC §4, "Crypto profiles"): every hash and signature of the ledger
/// goes through here, chosen by the profile block 0 names. `ed25519-sha256` is the ledger as it
/// always was; `sm2-sm3` (国密) puts SM3 (GB/T 32905) wherever the other has SHA-256 and SM2 with
/// SM3 and the distinguishing ID `1234567812345678` (GB/T 32918.2), DER-encoded, wherever it has
/// Ed25519. A chain keeps its profile for life.
public enum CryptoProfile: String, Sendable, CaseIterable {
    case ed25519Sha256 = "ed25519-sha256"
    case sm2Sm3 = "sm2-sm3"

    /// The profile of a chain whose block 0 names none.
    public static let standard = CryptoProfile.ed25519Sha256

    /// The profile called `name`, or a refusal naming the ones there are.
    public init(named name: String, field: String = "profile") throws(LedgerError) {
        guard let profile = CryptoProfile(rawValue: name) else {
            throw LedgerError.invalid(field, "\"\(name)\" is not a crypto profile; the profiles are \(Self.allCases.map(\.rawValue).joined(separator: " and "))")
        }
        self = profile
    }

    /// `CASCADE_CRYPTO_PROFILE`: nil when unset or empty, else a profile's name.
    public static func fromEnvironment(_ value: String?) throws(LedgerError) -> CryptoProfile? {
        guard let value, !value.isEmpty else { return nil }
        return try CryptoProfile(named: value, field: "CASCADE_CRYPTO_PROFILE")
    }

    public var hashName: String { self == .ed25519Sha256 ? "SHA-256" : "SM3" }
    public var signatureName: String { self == .ed25519Sha256 ? "Ed25519" : "SM2" }

    // MARK: - Hashing

    /// The profile's 32-byte digest of `bytes`.
    public func hash(_ bytes: some Collection<UInt8>) -> [UInt8] {
        switch self {
        case .ed25519Sha256: Array(bytes).withUnsafeBytes { Array(SHA256.hash(data: $0)) }
        case .sm2Sm3: SM3.hash(bytes)
        }
    }

    public func hashHex(_ bytes: some Collection<UInt8>) -> String { Hex.encode(hash(bytes)) }

    /// A transaction's id: the digest of JCS(body).
    public func transactionId(of canonicalBody: [UInt8]) -> TxID { TxID(digest: hash(canonicalBody)) }

    /// SPEC §4: the k-th token created by a transaction has id = first 32 hex chars of
    /// H(utf8(txId + "/" + k)).
    public func tokenId(transactionId: TxID, index: Int) -> TokenID {
        precondition(index >= 0 && index < 1_000, "a transaction creates at most a few hundred tokens")
        // Hot path of every transfer and split: build "<64 hex>/<k>" on the stack, no allocation.
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 72) { text in
            let raw = UnsafeMutableRawPointer(text.baseAddress!)
            storeHex(transactionId.w0, at: raw)
            storeHex(transactionId.w1, at: raw + 16)
            storeHex(transactionId.w2, at: raw + 32)
            storeHex(transactionId.w3, at: raw + 48)
            var n = 64
            text[n] = UInt8(ascii: "/")
            n += 1
            if index >= 100 { text[n] = UInt8(ascii: "0") + UInt8(index / 100); n += 1 }
            if index >= 10 { text[n] = UInt8(ascii: "0") + UInt8(index / 10 % 10); n += 1 }
            text[n] = UInt8(ascii: "0") + UInt8(index % 10)
            n += 1
            let message = UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: text[0..<n]))
            func firstHalf(_ digest: UnsafeRawBufferPointer) -> TokenID {
                TokenID(hi: UInt64(bigEndian: digest.loadUnaligned(fromByteOffset: 0, as: UInt64.self)),
                        lo: UInt64(bigEndian: digest.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
            }
            switch self {
            case .ed25519Sha256: return SHA256.hash(data: message).withUnsafeBytes(firstHalf)
            case .sm2Sm3: return SM3.hash(message).withUnsafeBytes(firstHalf)
            }
        }
    }

    /// SPEC §4: keyId = first 16 hex chars of H(the raw public key).
    public func keyId(publicKey: [UInt8]) -> String { String(hashHex(publicKey).prefix(16)) }

    // MARK: - Keys and signatures

    /// Bytes of a public key: Ed25519's raw 32, or SM2's uncompressed point `04‖x‖y`.
    public var publicKeyLength: Int { self == .ed25519Sha256 ? 32 : GuoMi.publicKeyLength }

    /// Why `key` is not a public key of this profile, or nil when it is one.
    public func publicKeyProblem(_ key: [UInt8]) -> String? {
        switch self {
        case .ed25519Sha256:
            guard key.count == 32 else {
                return key.count == GuoMi.publicKeyLength
                    ? "is an SM2 key (65 bytes); this chain's profile is ed25519-sha256, whose keys are raw 32-byte Ed25519 keys"
                    : "must be a raw 32-byte Ed25519 public key, not \(key.count) bytes"
            }
            return (try? Curve25519.Signing.PublicKey(rawRepresentation: key)) == nil ? "is not an Ed25519 public key" : nil
        case .sm2Sm3:
            if key.count == 32 { return "is an Ed25519 key (32 bytes); this chain's profile is sm2-sm3, whose keys are SM2 points 04‖x‖y of 65 bytes" }
            do throws(GuoMiError) {
                try SM2.checkPublicKey(key)
                return nil
            } catch {
                return error.description
            }
        }
    }

    /// Why `signature` is not, by its form alone, a signature of this profile, or nil. An SM2
    /// signature is DER `SEQUENCE {r, s}` with nothing after it and r, s in [1, n − 1].
    public func signatureProblem(_ signature: [UInt8]) -> String? {
        switch self {
        case .ed25519Sha256: signature.count == 64 ? nil : "must be a 64-byte Ed25519 signature, not \(signature.count) bytes"
        case .sm2Sm3: SM2DER.problem(signature).map { "must be an SM2 signature, DER SEQUENCE {r, s}: \($0)" }
        }
    }

    /// A verifier for `publicKey`, or nil when it is not a key of this profile.
    public func verifier(for publicKey: [UInt8]) -> SignatureVerifier? {
        switch self {
        case .ed25519Sha256: (try? Ed25519Verifier(publicKey)).map(SignatureVerifier.ed25519)
        case .sm2Sm3: (try? SM2Verifier(publicKey: publicKey)).map(SignatureVerifier.sm2)
        }
    }

    /// Whether `signature` over `message` verifies with `publicKey` in this profile.
    public func isValidSignature(_ signature: [UInt8], for message: [UInt8], publicKey: [UInt8]) -> Bool {
        verifier(for: publicKey)?.verify(signature, message) ?? false
    }

    /// A new key of this profile, made from the system's (Ed25519) or OpenSSL's (SM2) random source.
    public func newSigner() throws -> any TransactionSigner {
        switch self {
        case .ed25519Sha256: Ed25519Signer.generate()
        case .sm2Sm3: try SM2Signer.generate()
        }
    }

    /// The signer whose secret (an Ed25519 seed, an SM2 private scalar) is `secret`.
    public func signer(secret: [UInt8]) throws -> any TransactionSigner {
        switch self {
        case .ed25519Sha256: try Ed25519Signer(seed: secret)
        case .sm2Sm3: try SM2Signer(scalar: secret)
        }
    }
}

/// A public key parsed once, for checking many signatures from any thread.
public enum SignatureVerifier: Sendable {
    case ed25519(Ed25519Verifier)
    case sm2(SM2Verifier)

    public func verify(_ signature: [UInt8], _ message: [UInt8]) -> Bool {
        switch self {
        case .ed25519(let key): key.verify(signature, message)
        case .sm2(let key): key.isValidSignature(signature, for: message)
        }
    }
}

/// An SM2 key that signs the ledger's transactions and blocks in the `sm2-sm3` profile.
public struct SM2Signer: TransactionSigner {
    let key: SM2SigningKey
    public var publicKey: [UInt8] { key.publicKey }
    public var profile: CryptoProfile { .sm2Sm3 }
    /// The private scalar, 32 bytes big-endian: what the key vault seals.
    public var secret: [UInt8] { key.scalar }

    public init(scalar: [UInt8]) throws {
        key = try SM2SigningKey(SM2PrivateKey(rawRepresentation: scalar))
    }

    public static func generate() throws -> SM2Signer {
        try SM2Signer(scalar: SM2PrivateKey().rawRepresentation)
    }

    public func sign(_ message: [UInt8]) throws -> [UInt8] { try key.signature(for: message) }
}

/// The form of an SM2 signature, read without OpenSSL so that a refusal can say what is wrong:
/// DER `SEQUENCE {INTEGER r, INTEGER s}`, minimal encodings, r and s in [1, n − 1], nothing after.
enum SM2DER {
    /// n, the order of the SM2 curve's base point (GB/T 32918.5).
    static let order: [UInt8] = Hex.decode("fffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54123")!

    static func problem(_ der: [UInt8]) -> String? {
        guard der.count >= 8 else { return "\(der.count) bytes is too short" }
        guard der[0] == 0x30, der[1] < 0x80 else { return "it does not start with a DER SEQUENCE" }
        let end = 2 + Int(der[1])
        guard end <= der.count else { return "the SEQUENCE claims \(der[1]) bytes and \(der.count - 2) follow" }
        var at = 2
        for name in ["r", "s"] {
            guard at + 2 <= end, der[at] == 0x02 else { return "\(name) is not a DER INTEGER" }
            let length = Int(der[at + 1])
            at += 2
            guard length >= 1, length <= 33, at + length <= end else { return "\(name) has a length of \(length) bytes" }
            let value = der[at..<at + length]
            guard value.first! & 0x80 == 0 else { return "\(name) is negative" }
            guard length == 1 || value.first! != 0 || value[value.startIndex + 1] & 0x80 != 0 else { return "\(name) is not minimally encoded" }
            let magnitude = Array(value.drop { $0 == 0 })
            guard !magnitude.isEmpty else { return "\(name) is zero" }
            guard magnitude.count < 32 || (magnitude.count == 32 && magnitude.lexicographicallyPrecedes(order)) else {
                return "\(name) is not below the curve's order n"
            }
            at += length
        }
        guard at == end else { return "the SEQUENCE holds \(end - at) bytes after s" }
        guard end == der.count else { return "\(der.count - end) bytes follow the DER SEQUENCE" }
        return nil
    }
}
