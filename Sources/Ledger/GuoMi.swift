import COpenSSL
import Foundation

/// The 国密 primitives of the `sm2-sm3` profile (SPEC §4), through OpenSSL 3's EVP interface:
/// SM3 (GB/T 32905), SM2 signatures with SM3 and a distinguishing ID (GB/T 32918.2), and the SM4
/// block cipher (GB/T 32907). No curve arithmetic of our own: OpenSSL does it. Every failure of
/// OpenSSL becomes a `GuoMiError` naming what was refused and OpenSSL's own reason, never a crash.
public enum GuoMi {
    /// The distinguishing ID every SM2 signature of the ledger is made and checked with.
    public static let distinguishingID = Array("1234567812345678".utf8)

    /// Bytes of a public key: the uncompressed point `04‖x‖y`.
    public static let publicKeyLength = 65
    public static let privateKeyLength = 32

    // OpenSSL's key selections (`EVP_PKEY_PUBLIC_KEY`, `EVP_PKEY_KEYPAIR`), macros of macros that
    // Swift does not import: the domain and other parameters (0x84) with the public key (0x02),
    // and with the private key too (0x01).
    static let selectPublicKey: Int32 = 0x86
    static let selectKeyPair: Int32 = 0x87
}

extension GuoMi {
    /// The key derivation function of GB/T 32918.4 §5.4.3: SM3(Z ‖ ct) for ct = 1, 2, … (32-bit
    /// big-endian), concatenated and cut to `length` bytes.
    public static func kdf(_ z: [UInt8], length: Int) -> [UInt8] {
        var out: [UInt8] = []
        var counter: UInt32 = 1
        while out.count < length {
            out += SM3.hash(z + withUnsafeBytes(of: counter.bigEndian) { Array($0) })
            counter += 1
        }
        return Array(out.prefix(length))
    }
}

/// What OpenSSL refused, and why.
public struct GuoMiError: Error, CustomStringConvertible, Sendable, Equatable {
    public var description: String

    public init(_ description: String) { self.description = description }

    /// `what`, with the reasons OpenSSL queued on this thread (the queue is emptied).
    static func openSSL(_ what: String) -> GuoMiError {
        var reasons: [String] = []
        while case let code = ERR_get_error(), code != 0 {
            var text = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &text, text.count)
            reasons.append(String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return GuoMiError(reasons.isEmpty ? what : "\(what) (OpenSSL: \(reasons.joined(separator: "; ")))")
    }
}

/// SM3, GB/T 32905: a 32-byte digest.
public enum SM3 {
    public static func hash(_ data: some Collection<UInt8>) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        let ok = Array(data).withUnsafeBytes { EVP_Digest($0.baseAddress, $0.count, &out, &length, EVP_sm3(), nil) }
        // Only an allocation OpenSSL could not make fails here.
        precondition(ok == 1 && length == 32, "OpenSSL's SM3 failed: \(GuoMiError.openSSL("SM3"))")
        return out
    }
}

/// The SM4 block cipher, GB/T 32907: one 16-byte block under a 16-byte key.
public enum SM4 {
    public static func encryptBlock(_ block: [UInt8], key: [UInt8]) throws(GuoMiError) -> [UInt8] {
        try crypt(block, key: key, encrypt: true)
    }

    public static func decryptBlock(_ block: [UInt8], key: [UInt8]) throws(GuoMiError) -> [UInt8] {
        try crypt(block, key: key, encrypt: false)
    }

    static func crypt(_ block: [UInt8], key: [UInt8], encrypt: Bool) throws(GuoMiError) -> [UInt8] {
        guard key.count == 16 else { throw GuoMiError("an SM4 key is 16 bytes, not \(key.count)") }
        guard block.count == 16 else { throw GuoMiError("an SM4 block is 16 bytes, not \(block.count)") }
        guard let ctx = EVP_CIPHER_CTX_new() else { throw .openSSL("SM4: no cipher context") }
        defer { EVP_CIPHER_CTX_free(ctx) }
        var out = [UInt8](repeating: 0, count: 32)
        var written: Int32 = 0
        guard EVP_CipherInit_ex(ctx, EVP_sm4_ecb(), nil, key, nil, encrypt ? 1 : 0) == 1, EVP_CIPHER_CTX_set_padding(ctx, 0) == 1,
              EVP_CipherUpdate(ctx, &out, &written, block, 16) == 1, written == 16 else {
            throw .openSSL("SM4: the block was not \(encrypt ? "encrypted" : "decrypted")")
        }
        return Array(out.prefix(16))
    }
}

/// An SM2 key pair of the SM2 curve (GB/T 32918.5): its 32-byte private scalar and its public point.
public struct SM2PrivateKey: Sendable {
    public let rawRepresentation: [UInt8]
    public let publicKey: [UInt8]

    /// A new key from OpenSSL's random generator.
    public init() throws(GuoMiError) {
        guard let ctx = EVP_PKEY_CTX_new_from_name(nil, "SM2", nil) else { throw .openSSL("SM2: no key context") }
        defer { EVP_PKEY_CTX_free(ctx) }
        var pkey: OpaquePointer?
        guard EVP_PKEY_keygen_init(ctx) == 1, EVP_PKEY_generate(ctx, &pkey) == 1, let pkey else { throw .openSSL("SM2: no key was generated") }
        defer { EVP_PKEY_free(pkey) }
        var bn: OpaquePointer?
        guard EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_PRIV_KEY, &bn) == 1, let bn else { throw .openSSL("SM2: the new key's scalar could not be read") }
        defer { BN_clear_free(bn) }
        var scalar = [UInt8](repeating: 0, count: GuoMi.privateKeyLength)
        guard BN_bn2binpad(bn, &scalar, Int32(GuoMi.privateKeyLength)) == Int32(GuoMi.privateKeyLength) else { throw .openSSL("SM2: the new key's scalar") }
        try self.init(rawRepresentation: scalar)
    }

    /// The key whose private scalar is `rawRepresentation` (32 bytes, big-endian), from 1 to n − 2.
    public init(rawRepresentation: [UInt8]) throws(GuoMiError) {
        guard rawRepresentation.count == GuoMi.privateKeyLength else {
            throw GuoMiError("an SM2 private key is \(GuoMi.privateKeyLength) bytes, not \(rawRepresentation.count)")
        }
        self.rawRepresentation = rawRepresentation
        publicKey = try SM2Curve.publicPoint(of: rawRepresentation)
    }

    /// The DER `SEQUENCE {r, s}` signature of `message` with SM3 and the distinguishing ID.
    public func signature(for message: some Collection<UInt8>) throws(GuoMiError) -> [UInt8] {
        let pkey = try SM2Curve.key(public: publicKey, private: rawRepresentation)
        defer { EVP_PKEY_free(pkey) }
        return try SM2Curve.sign(message, with: pkey)
    }
}

extension SM2Curve {
    static func sign(_ message: some Collection<UInt8>, with pkey: OpaquePointer) throws(GuoMiError) -> [UInt8] {
        try withDigestContext(pkey, signing: true) { ctx throws(GuoMiError) in
            let bytes = Array(message)
            var length = 0
            guard EVP_DigestSign(ctx, nil, &length, bytes, bytes.count) == 1 else { throw .openSSL("SM2: the signature's length") }
            var signature = [UInt8](repeating: 0, count: length)
            guard EVP_DigestSign(ctx, &signature, &length, bytes, bytes.count) == 1 else { throw .openSSL("SM2: the message was not signed") }
            return Array(signature.prefix(length))
        }
    }
}

/// A key pair imported into OpenSSL once, for signing many messages (from any thread: each
/// signature has contexts of its own, and no one changes the key).
public final class SM2SigningKey: @unchecked Sendable {
    private let pkey: OpaquePointer
    public let publicKey: [UInt8]
    public let scalar: [UInt8]

    public init(_ key: SM2PrivateKey) throws(GuoMiError) {
        pkey = try SM2Curve.key(public: key.publicKey, private: key.rawRepresentation)
        publicKey = key.publicKey
        scalar = key.rawRepresentation
    }

    deinit { EVP_PKEY_free(pkey) }

    /// The DER `SEQUENCE {r, s}` signature of `message` with SM3 and the distinguishing ID.
    public func signature(for message: some Collection<UInt8>) throws(GuoMiError) -> [UInt8] {
        try SM2Curve.sign(message, with: pkey)
    }
}

/// SM2 verification against a public key `04‖x‖y`.
public enum SM2 {
    /// Whether `signature` (DER `SEQUENCE {r, s}`, nothing after it) is the SM2 signature with SM3
    /// and the distinguishing ID of `message` under `publicKey`. A key that is not a point of the
    /// curve is refused with its reason; a signature that does not parse, has r or s out of
    /// [1, n − 1], or does not verify answers false.
    public static func isValidSignature(_ signature: [UInt8], for message: some Collection<UInt8>, publicKey: [UInt8]) throws(GuoMiError) -> Bool {
        try SM2Verifier(publicKey: publicKey).isValidSignature(signature, for: message)
    }

    /// Refuses, with the reason, bytes that are not a public key of the SM2 curve.
    public static func checkPublicKey(_ publicKey: [UInt8]) throws(GuoMiError) {
        _ = try SM2Verifier(publicKey: publicKey)
    }
}

/// One public key, imported and checked once, for verifying many signatures (from any thread:
/// OpenSSL 3 lets threads share a key that no one changes).
public final class SM2Verifier: @unchecked Sendable {
    private let pkey: OpaquePointer
    public let publicKey: [UInt8]

    public init(publicKey: [UInt8]) throws(GuoMiError) {
        pkey = try SM2Curve.key(public: publicKey)
        self.publicKey = publicKey
    }

    deinit { EVP_PKEY_free(pkey) }

    public func isValidSignature(_ signature: [UInt8], for message: some Collection<UInt8>) -> Bool {
        let bytes = Array(message)
        let verdict = try? SM2Curve.withDigestContext(pkey, signing: false) { ctx throws(GuoMiError) in
            EVP_DigestVerify(ctx, signature, signature.count, bytes, bytes.count)
        }
        // 0: a signature that does not verify; below 0: one that is not a signature at all.
        ERR_clear_error()
        return verdict == 1
    }
}

/// OpenSSL's keys and contexts for SM2, made and freed here only.
enum SM2Curve {
    /// `04‖x‖y` of `[d]G`, after checking 1 ≤ d ≤ n − 2 (GB/T 32918.1 §6.1).
    static func publicPoint(of scalar: [UInt8]) throws(GuoMiError) -> [UInt8] {
        guard let group = EC_GROUP_new_by_curve_name(NID_sm2) else { throw .openSSL("SM2: the curve") }
        defer { EC_GROUP_free(group) }
        guard let d = BN_bin2bn(scalar, Int32(scalar.count), nil) else { throw .openSSL("SM2: the private scalar") }
        defer { BN_clear_free(d) }
        guard let order = EC_GROUP_get0_order(group), let limit = BN_dup(order) else { throw .openSSL("SM2: the curve's order") }
        defer { BN_free(limit) }
        // d ≤ n − 2, that is d < n − 1.
        guard BN_sub_word(limit, 1) == 1, BN_is_zero(d) == 0, BN_cmp(d, limit) < 0 else {
            throw GuoMiError("an SM2 private key must lie between 1 and n − 2")
        }
        guard let point = EC_POINT_new(group) else { throw .openSSL("SM2: a point") }
        defer { EC_POINT_free(point) }
        var out = [UInt8](repeating: 0, count: GuoMi.publicKeyLength)
        guard EC_POINT_mul(group, point, d, nil, nil, nil) == 1,
              EC_POINT_point2oct(group, point, POINT_CONVERSION_UNCOMPRESSED, &out, out.count, nil) == out.count else {
            throw .openSSL("SM2: the public point")
        }
        return out
    }

    /// An SM2 `EVP_PKEY` of a public key (checked to lie on the curve), or of a key pair. The caller frees it.
    static func key(public publicKey: [UInt8], private scalar: [UInt8]? = nil) throws(GuoMiError) -> OpaquePointer {
        guard publicKey.count == GuoMi.publicKeyLength, publicKey.first == 0x04 else {
            throw GuoMiError("an SM2 public key is the uncompressed point 04‖x‖y, \(GuoMi.publicKeyLength) bytes; this is \(publicKey.count) bytes"
                             + (publicKey.first.map { ", starting \(String(format: "%02x", $0))" } ?? ""))
        }
        guard let builder = OSSL_PARAM_BLD_new() else { throw .openSSL("SM2: no parameter builder") }
        defer { OSSL_PARAM_BLD_free(builder) }
        // OpenSSL keeps pointers to the names and the values it is given until the key is made:
        // they live in memory of this function's own, not in Swift's temporary bridges.
        let group = strdup(OSSL_PKEY_PARAM_GROUP_NAME), pub = strdup(OSSL_PKEY_PARAM_PUB_KEY), priv = strdup(OSSL_PKEY_PARAM_PRIV_KEY), curve = strdup("SM2")
        let point = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: publicKey.count)
        defer { free(group); free(pub); free(priv); free(curve); point.deallocate() }
        _ = point.initialize(from: publicKey)
        var d: OpaquePointer?
        defer { if let d { BN_clear_free(d) } }
        guard OSSL_PARAM_BLD_push_utf8_string(builder, group, curve, 0) == 1,
              OSSL_PARAM_BLD_push_octet_string(builder, pub, point.baseAddress, point.count) == 1 else {
            throw .openSSL("SM2: the key's parameters")
        }
        if let scalar {
            d = BN_bin2bn(scalar, Int32(scalar.count), nil)
            guard OSSL_PARAM_BLD_push_BN(builder, priv, d) == 1 else { throw .openSSL("SM2: the private scalar") }
        }
        guard let params = OSSL_PARAM_BLD_to_param(builder) else { throw .openSSL("SM2: the key's parameters") }
        defer { OSSL_PARAM_free(params) }
        guard let ctx = EVP_PKEY_CTX_new_from_name(nil, "SM2", nil) else { throw .openSSL("SM2: no key context") }
        defer { EVP_PKEY_CTX_free(ctx) }
        var pkey: OpaquePointer?
        guard EVP_PKEY_fromdata_init(ctx) == 1, EVP_PKEY_fromdata(ctx, &pkey, scalar == nil ? GuoMi.selectPublicKey : GuoMi.selectKeyPair, params) == 1, let pkey else {
            throw .openSSL("the SM2 public key is not a point of the SM2 curve")
        }
        // The point must lie on the curve (and not be the point at infinity).
        guard let check = EVP_PKEY_CTX_new_from_pkey(nil, pkey, nil) else { EVP_PKEY_free(pkey); throw .openSSL("SM2: no key context") }
        defer { EVP_PKEY_CTX_free(check) }
        guard EVP_PKEY_public_check(check) == 1 else {
            EVP_PKEY_free(pkey)
            ERR_clear_error()
            throw GuoMiError("the SM2 public key is not a point of the SM2 curve")
        }
        return pkey
    }

    /// A digest context for SM2 with SM3 and the distinguishing ID, given to `body` and freed after.
    static func withDigestContext<T>(_ pkey: OpaquePointer, signing: Bool, _ body: (OpaquePointer) throws(GuoMiError) -> T) throws(GuoMiError) -> T {
        // The key context outlives the digest context that borrows it (freed after it).
        guard let pctx = EVP_PKEY_CTX_new_from_pkey(nil, pkey, nil) else { throw .openSSL("SM2: no key context") }
        defer { EVP_PKEY_CTX_free(pctx) }
        guard let md = EVP_MD_CTX_new() else { throw .openSSL("SM2: no digest context") }
        defer { EVP_MD_CTX_free(md) }
        // OpenSSL 3.0's default ID is empty: it is set on every context.
        guard EVP_PKEY_CTX_set1_id(pctx, GuoMi.distinguishingID, Int32(GuoMi.distinguishingID.count)) == 1 else { throw .openSSL("SM2: the distinguishing ID") }
        EVP_MD_CTX_set_pkey_ctx(md, pctx)
        let initialised = signing ? EVP_DigestSignInit(md, nil, EVP_sm3(), nil, pkey) : EVP_DigestVerifyInit(md, nil, EVP_sm3(), nil, pkey)
        guard initialised == 1 else { throw .openSSL("SM2: the \(signing ? "signing" : "verifying") context") }
        return try body(md)
    }
}

/// SM4 in GCM (NIST SP 800-38D with SM4 as the block cipher, as RFC 8998 uses it): the sealing of
/// org keys in the `sm2-sm3` profile. OpenSSL 3.0 has SM4's block and its counter mode but no
/// SM4-GCM (3.2 added it), so GCM's two parts are put together here: the counter mode through
/// OpenSSL, GHASH in GF(2^128) below, checked against RFC 8998's example.
public enum SM4GCM {
    public static let nonceLength = 12
    public static let tagLength = 16
    /// GCM's 32-bit block counter starts at 2: at most 2^32 − 2 blocks under one nonce.
    static let maxPlaintextLength = (1 << 32 - 2) * 16

    /// `ciphertext ‖ tag` of `plaintext` under `key` and the 12-byte `nonce`, authenticating `aad` too.
    public static func seal(_ plaintext: [UInt8], key: [UInt8], nonce: [UInt8], aad: [UInt8] = []) throws(GuoMiError) -> [UInt8] {
        guard nonce.count == nonceLength else { throw GuoMiError("an SM4-GCM nonce is \(nonceLength) bytes, not \(nonce.count)") }
        guard plaintext.count <= maxPlaintextLength else { throw GuoMiError("more than SM4-GCM seals under one nonce") }
        let j0 = nonce + [0, 0, 0, 1]
        let ciphertext = try counterMode(plaintext, key: key, from: increment(j0))
        return ciphertext + (try tag(ciphertext, aad: aad, key: key, j0: j0))
    }

    /// The plaintext of `sealed` (`ciphertext ‖ tag`), refused when the tag does not match: a
    /// wrong key, a changed byte, other associated data.
    public static func open(_ sealed: [UInt8], key: [UInt8], nonce: [UInt8], aad: [UInt8] = []) throws(GuoMiError) -> [UInt8] {
        guard nonce.count == nonceLength else { throw GuoMiError("an SM4-GCM nonce is \(nonceLength) bytes, not \(nonce.count)") }
        guard sealed.count >= tagLength else { throw GuoMiError("an SM4-GCM message is at least its \(tagLength)-byte tag") }
        let ciphertext = Array(sealed.dropLast(tagLength)), given = Array(sealed.suffix(tagLength))
        let j0 = nonce + [0, 0, 0, 1]
        let expected = try tag(ciphertext, aad: aad, key: key, j0: j0)
        // Compared in constant time.
        guard zip(expected, given).reduce(UInt8(0), { $0 | ($1.0 ^ $1.1) }) == 0 else {
            throw GuoMiError("the SM4-GCM tag does not match: the key, the nonce, the data or its associated data differ")
        }
        return try counterMode(ciphertext, key: key, from: increment(j0))
    }

    /// The counter block after `block` (its last 32 bits, big-endian, plus one).
    static func increment(_ block: [UInt8]) -> [UInt8] {
        var out = block
        for i in stride(from: 15, through: 12, by: -1) {
            out[i] &+= 1
            if out[i] != 0 { break }
        }
        return out
    }

    /// SM4-CTR through OpenSSL, from counter block `start` (its whole 128 bits count; within
    /// `maxPlaintextLength` its last 32 never wrap, so it is GCM's counter too).
    static func counterMode(_ data: [UInt8], key: [UInt8], from start: [UInt8]) throws(GuoMiError) -> [UInt8] {
        guard key.count == 16 else { throw GuoMiError("an SM4 key is 16 bytes, not \(key.count)") }
        guard !data.isEmpty else { return [] }
        guard let ctx = EVP_CIPHER_CTX_new() else { throw .openSSL("SM4-CTR: no cipher context") }
        defer { EVP_CIPHER_CTX_free(ctx) }
        var out = [UInt8](repeating: 0, count: data.count + 16)
        var written: Int32 = 0
        guard EVP_EncryptInit_ex(ctx, EVP_sm4_ctr(), nil, key, start) == 1,
              EVP_EncryptUpdate(ctx, &out, &written, data, Int32(data.count)) == 1, Int(written) == data.count else {
            throw .openSSL("SM4-CTR: the data was not enciphered")
        }
        return Array(out.prefix(data.count))
    }

    /// E(K, J0) ⊕ GHASH(H, A, C), H = E(K, 0^128).
    static func tag(_ ciphertext: [UInt8], aad: [UInt8], key: [UInt8], j0: [UInt8]) throws(GuoMiError) -> [UInt8] {
        let h = try SM4.encryptBlock([UInt8](repeating: 0, count: 16), key: key)
        var ghash = GHash(h: h)
        ghash.absorb(aad)
        ghash.absorb(ciphertext)
        var lengths = [UInt8](repeating: 0, count: 16)
        for i in 0..<8 {
            lengths[7 - i] = UInt8(truncatingIfNeeded: (UInt64(aad.count) * 8) >> (8 * UInt64(i)))
            lengths[15 - i] = UInt8(truncatingIfNeeded: (UInt64(ciphertext.count) * 8) >> (8 * UInt64(i)))
        }
        ghash.absorb(lengths)
        let mask = try SM4.encryptBlock(j0, key: key)
        return zip(ghash.digest, mask).map { $0 ^ $1 }
    }

    /// GHASH: blocks of 128 bits (the last zero-padded) folded as Y = (Y ⊕ X) · H in GF(2^128),
    /// with GCM's bit order (SP 800-38D, Algorithm 1).
    struct GHash {
        let h: (UInt64, UInt64)
        var y: (UInt64, UInt64) = (0, 0)

        init(h: [UInt8]) { self.h = GHash.words(h[...]) }

        static func words(_ block: ArraySlice<UInt8>) -> (UInt64, UInt64) {
            var padded = Array(block)
            padded += [UInt8](repeating: 0, count: 16 - padded.count)
            return (padded[0..<8].reduce(0) { $0 << 8 | UInt64($1) }, padded[8..<16].reduce(0) { $0 << 8 | UInt64($1) })
        }

        mutating func absorb(_ data: [UInt8]) {
            var i = 0
            while i < data.count {
                let x = GHash.words(data[i..<min(i + 16, data.count)])
                y = GHash.multiply((y.0 ^ x.0, y.1 ^ x.1), h)
                i += 16
            }
        }

        static func multiply(_ x: (UInt64, UInt64), _ y: (UInt64, UInt64)) -> (UInt64, UInt64) {
            var z: (UInt64, UInt64) = (0, 0), v = y
            for i in 0..<128 {
                let bit = i < 64 ? (x.0 >> (63 - UInt64(i))) & 1 : (x.1 >> (127 - UInt64(i))) & 1
                if bit == 1 { z = (z.0 ^ v.0, z.1 ^ v.1) }
                let lsb = v.1 & 1
                v = (v.0 >> 1, (v.1 >> 1) | (v.0 << 63))
                if lsb == 1 { v.0 ^= 0xE100_0000_0000_0000 }
            }
            return z
        }

        var digest: [UInt8] {
            (0..<8).map { UInt8(truncatingIfNeeded: y.0 >> (56 - 8 * UInt64($0))) } + (0..<8).map { UInt8(truncatingIfNeeded: y.1 >> (56 - 8 * UInt64($0))) }
        }
    }
}
