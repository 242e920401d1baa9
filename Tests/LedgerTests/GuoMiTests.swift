import Foundation
@testable import Ledger
import Testing

/// The 国密 primitives through OpenSSL, against the standards' own examples: SM3 of GB/T 32905
/// Appendix A, the SM2 signature of GM/T 0003.5 Annex A on the SM2 curve, SM4 of GB/T 32907
/// Appendix A; and every bad key and signature refused with its reason.
@Suite struct GuoMiTests {
    static func hex(_ s: String) -> [UInt8] {
        let digits = Array(s.filter { !$0.isWhitespace })
        return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(digits[$0...$0 + 1]), radix: 16)! }
    }

    @Test func sm3OfTheStandardsExamples() {
        #expect(SM3.hash(Array("abc".utf8)) == Self.hex("66C7F0F4 62EEEDD9 D1F2D46B DC10E4E2 4167C487 5CF2F7A2 297DA02B 8F4BA8E0"))
        #expect(SM3.hash(Array(String(repeating: "abcd", count: 16).utf8)) == Self.hex("DEBE9FF9 2275B8A1 38604889 C18E5A4D 6FDB70E5 387E5765 293DCBA3 9C0C5732"))
        #expect(SM3.hash([UInt8]()) == Self.hex("1AB21D83 55CFA17F 8E611948 31E81A8F 22BEC8C7 28FEFB74 7ED035EB 5082AA2B"))
    }

    @Test func sm4OfTheStandardsExample() throws {
        let key = Self.hex("01234567 89ABCDEF FEDCBA98 76543210")
        let cipher = try SM4.encryptBlock(key, key: key)
        #expect(cipher == Self.hex("681EDF34 D206965E 86B3E94F 536E4246"))
        #expect(try SM4.decryptBlock(cipher, key: key) == key)
        #expect(throws: GuoMiError.self) { try SM4.encryptBlock([1, 2, 3], key: key) }
        #expect(throws: GuoMiError.self) { try SM4.encryptBlock(key, key: [1]) }
    }

    /// GM/T 0003.5-2012 Annex A: "message digest" signed with ID 1234567812345678 on the SM2 curve.
    static let annexA = (
        d: hex("3945208F 7B2144B1 3F36E38A C6D39F95 88939369 2860B51A 42FB81EF 4DF7C5B8"),
        x: hex("09F9DF31 1E5421A1 50DD7D16 1E4BC5C6 72179FAD 1833FC07 6BB08FF3 56F35020"),
        y: hex("CCEA490C E26775A5 2DC6EA71 8CC1AA60 0AED05FB F35E084A 6632F607 2DA9AD13"),
        r: hex("F5A03B06 48D2C463 0EEAC513 E1BB81A1 5944DA38 27D5B741 43AC7EAC EEE720B3"),
        s: hex("B1B6AA29 DF212FD8 763182BC 0D421CA1 BB9038FD 1F7F42D4 840B69C4 85BBC1AA"))

    /// DER `SEQUENCE {r, s}` of two 32-byte integers.
    static func der(_ r: [UInt8], _ s: [UInt8]) -> [UInt8] {
        func integer(_ v: [UInt8]) -> [UInt8] {
            var v = Array(v.drop { $0 == 0 })
            if v.isEmpty || v[0] & 0x80 != 0 { v.insert(0, at: 0) }
            return [0x02, UInt8(v.count)] + v
        }
        let body = integer(r) + integer(s)
        return [0x30, UInt8(body.count)] + body
    }

    @Test func theAnnexASignatureVerifiesAndItsKeyIsTheAnnexAKey() throws {
        let key = try SM2PrivateKey(rawRepresentation: Self.annexA.d)
        let publicKey = [0x04] + Self.annexA.x + Self.annexA.y
        #expect(key.publicKey == publicKey)
        let message = Array("message digest".utf8)
        let published = Self.der(Self.annexA.r, Self.annexA.s)
        #expect(try SM2.isValidSignature(published, for: message, publicKey: publicKey))
        #expect(try !SM2.isValidSignature(published, for: Array("message digesT".utf8), publicKey: publicKey))
        // Our own signatures verify, and each is new (k is random).
        let one = try key.signature(for: message), two = try key.signature(for: message)
        #expect(one != two)
        #expect(try SM2.isValidSignature(one, for: message, publicKey: publicKey) && SM2.isValidSignature(two, for: message, publicKey: publicKey))
        let other = try SM2PrivateKey()
        #expect(try !SM2.isValidSignature(one, for: message, publicKey: other.publicKey))
    }

    @Test func badKeysAndSignaturesAreRefused() throws {
        let message = Array("message digest".utf8)
        let publicKey = [0x04] + Self.annexA.x + Self.annexA.y
        let published = Self.der(Self.annexA.r, Self.annexA.s)
        // A point off the curve, a compressed or short key, an Ed25519 key: refused with the reason.
        var off = publicKey
        off[64] ^= 0x01
        for (bad, words) in [(off, "not a point of the SM2 curve"), ([0x02] + Self.annexA.x, "65 bytes"), (Array(publicKey.prefix(64)), "65 bytes"),
                             ([UInt8](repeating: 7, count: 32), "65 bytes"), ([0x04] + [UInt8](repeating: 0, count: 64), "not a point of the SM2 curve")] {
            do {
                _ = try SM2.isValidSignature(published, for: message, publicKey: bad)
                Issue.record("accepted \(bad.count) bytes")
            } catch {
                #expect(error.description.contains(words), "\(error)")
            }
        }
        // r or s out of range, trailing bytes after the DER sequence, garbage: not a valid signature.
        let n = Self.hex("FFFFFFFE FFFFFFFF FFFFFFFF FFFFFFFF 7203DF6B 21C6052B 53BBF409 39D54123")
        for bad in [Self.der(n, Self.annexA.s), Self.der(Self.annexA.r, n), Self.der([0], Self.annexA.s), Self.der(Self.annexA.r, [0]),
                    published + [0x00], Array(published.dropLast()), [], [0x30, 0x00], Array(repeating: 0xff, count: 72)] {
            #expect(try !SM2.isValidSignature(bad, for: message, publicKey: publicKey), "\(bad)")
        }
        // Private keys: 0, n − 1 and n are refused; 32 bytes only.
        var nMinus1 = n
        nMinus1[31] -= 1
        for bad in [[UInt8](repeating: 0, count: 32), nMinus1, n, [1]] {
            #expect(throws: GuoMiError.self) { try SM2PrivateKey(rawRepresentation: bad) }
        }
    }
}

/// `../shared/vectors-sm`, made by an independent implementation: every transaction's id is the
/// SM3 of its canonical body, and its SM2 signature verifies through OpenSSL under the signer's
/// key; the two tampered signatures (an Ed25519 one, and DER with a byte after it) do not.
@Suite struct GuoMiVectorTests {
    struct Signed {
        var id: String
        var orgId: String
        var canonical: [UInt8]
        var signature: [UInt8]
    }

    static func transactions(_ file: String) throws -> [Signed] {
        let text = String(decoding: try Data(contentsOf: Paths.vectorsSM.appendingPathComponent(file)), as: UTF8.self)
        return try text.split(separator: "\n").flatMap { line -> [Signed] in
            let block = try JSON.parse(Array(line.utf8))
            return (block["transactions"]?.arrayValue ?? []).compactMap { tx in
                guard let body = tx["body"], let id = tx["id"]?.stringValue, let org = body["orgId"]?.stringValue,
                      let signature = tx["signature"]?.stringValue.flatMap({ Data(base64Encoded: $0) }) else { return nil }
                return Signed(id: id, orgId: org, canonical: body.canonicalBytes, signature: Array(signature))
            }
        }
    }

    static func keys() throws -> [String: [UInt8]] {
        let keys = try JSON.parse(Array(try Data(contentsOf: Paths.vectorsSM.appendingPathComponent("keys.json"))))
        var byOrg: [String: [UInt8]] = [:]
        for entry in (keys.objectValue ?? [:]).values {
            if let org = entry["orgId"]?.stringValue, let key = entry["publicKey"]?.stringValue.flatMap({ Data(base64Encoded: $0) }) { byOrg[org] = Array(key) }
        }
        return byOrg
    }

    @Test func everyTransactionOfTheChainIsSM3AndSM2() throws {
        let keys = try Self.keys(), all = try Self.transactions("chain-valid.jsonl")
        try #require(all.count == 41 && keys.count == 9)
        for tx in all {
            #expect(GuoMiCrossCheckTests.hex(SM3.hash(tx.canonical)) == tx.id, "\(tx.id): not the SM3 of its body")
            let key = try #require(keys[tx.orgId], "no key for \(tx.orgId)")
            #expect(try SM2.isValidSignature(tx.signature, for: tx.canonical, publicKey: key), "\(tx.id): its SM2 signature does not verify")
        }
    }

    @Test func theTamperedSignaturesDoNotVerify() throws {
        let keys = try Self.keys()
        for file in ["tampered/ed25519-signature-on-sm-chain.jsonl", "tampered/der-trailing-byte.jsonl"] {
            // Every other transaction of the file is the valid chain's, and verifies.
            let refused = try Self.transactions(file).filter { tx in try !SM2.isValidSignature(tx.signature, for: tx.canonical, publicKey: keys[tx.orgId] ?? []) }
            #expect(refused.count == 1, "\(file): \(refused.map(\.id))")
        }
    }
}

/// SM4-GCM against RFC 8998's example, and what a wrong key or a changed byte does.
@Suite struct SM4GCMTests {
    static let key = GuoMiTests.hex("0123456789ABCDEFFEDCBA9876543210")
    static let nonce = GuoMiTests.hex("00001234567800000000ABCD")
    static let aad = GuoMiTests.hex("FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2")
    static let plaintext = GuoMiTests.hex("""
        AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBCCCCCCCCCCCCCCCCDDDDDDDDDDDDDDDD
        EEEEEEEEEEEEEEEEFFFFFFFFFFFFFFFFEEEEEEEEEEEEEEEEAAAAAAAAAAAAAAAA
        """)

    @Test func theRFC8998Example() throws {
        let sealed = try SM4GCM.seal(Self.plaintext, key: Self.key, nonce: Self.nonce, aad: Self.aad)
        #expect(Array(sealed.dropLast(16)) == GuoMiTests.hex("""
            17F399F08C67D5EE19D0DC9969C4BB7D5FD46FD3756489069157B282BB200735
            D82710CA5C22F0CCFA7CBF93D496AC15A56834CBCF98C397B4024A2691233B8D
            """))
        #expect(Array(sealed.suffix(16)) == GuoMiTests.hex("83DE3541E4C2B58177E065A9BF7B62EC"))
        #expect(try SM4GCM.open(sealed, key: Self.key, nonce: Self.nonce, aad: Self.aad) == Self.plaintext)
    }

    @Test func aWrongKeyOrAChangedByteIsRefused() throws {
        let sealed = try SM4GCM.seal(Self.plaintext, key: Self.key, nonce: Self.nonce, aad: Self.aad)
        var otherKey = Self.key
        otherKey[0] ^= 1
        #expect(throws: GuoMiError.self) { try SM4GCM.open(sealed, key: otherKey, nonce: Self.nonce, aad: Self.aad) }
        #expect(throws: GuoMiError.self) { try SM4GCM.open(sealed, key: Self.key, nonce: Self.nonce, aad: []) }
        for i in [0, 31, sealed.count - 1] {
            var changed = sealed
            changed[i] ^= 0x80
            #expect(throws: GuoMiError.self) { try SM4GCM.open(changed, key: Self.key, nonce: Self.nonce, aad: Self.aad) }
        }
        #expect(throws: GuoMiError.self) { try SM4GCM.open(Array(sealed.prefix(15)), key: Self.key, nonce: Self.nonce) }
        #expect(throws: GuoMiError.self) { try SM4GCM.seal([1], key: Self.key, nonce: [1, 2, 3]) }
        // Lengths that are not whole blocks, and nothing at all.
        for n in [0, 1, 15, 17, 33, 1000] {
            let data = (0..<n).map { UInt8(truncatingIfNeeded: $0 * 7) }
            #expect(try SM4GCM.open(try SM4GCM.seal(data, key: Self.key, nonce: Self.nonce), key: Self.key, nonce: Self.nonce) == data)
        }
    }
}

/// The one crypto interface: each profile's form of keys and signatures, refused with the reason.
@Suite struct CryptoProfileTests {
    static let r = [UInt8](repeating: 0x11, count: 32)

    /// DER `INTEGER` of `bytes`.
    static func integer(_ bytes: [UInt8]) -> [UInt8] { [0x02, UInt8(bytes.count)] + bytes }
    static func sequence(_ parts: [UInt8]...) -> [UInt8] { let body = parts.flatMap { $0 }; return [0x30, UInt8(body.count)] + body }

    @Test(arguments: [
        (sequence(integer(r), integer(r)), nil),
        (sequence(integer(r), integer(r)) + [0], "1 bytes follow the DER SEQUENCE"),
        (sequence(integer(r), integer([0])), "s is zero"),
        (sequence(integer([0x80] + r), integer(r)), "r is negative"),
        (sequence(integer([0, 0x11]), integer(r)), "r is not minimally encoded"),
        (sequence(integer([0] + SM2DER.order), integer(r)), "r is not below the curve's order n"),
        (sequence(integer(r), integer([0] + [UInt8](repeating: 0xFF, count: 32))), "s is not below the curve's order n"),
        (sequence(integer(r), integer(r), integer(r)), "the SEQUENCE holds 34 bytes after s"),
        ([0x31] + sequence(integer(r), integer(r)).dropFirst(), "it does not start with a DER SEQUENCE"),
        ([UInt8](repeating: 7, count: 64), "it does not start with a DER SEQUENCE"),
        ([0x30, 0x06, 0x02, 0x01], "4 bytes is too short"),
    ] as [([UInt8], String?)])
    func anSM2SignatureIsDEROfTwoIntegersInRange(der: [UInt8], problem: String?) {
        #expect(SM2DER.problem(der) == problem)
    }

    @Test func keysOfTheOtherProfileAreRefusedWithTheReason() throws {
        let ed = Ed25519Signer.generate().publicKey, sm = try SM2PrivateKey().publicKey
        #expect(CryptoProfile.sm2Sm3.publicKeyProblem(ed)?.contains("is an Ed25519 key (32 bytes)") == true)
        #expect(CryptoProfile.ed25519Sha256.publicKeyProblem(sm)?.contains("is an SM2 key (65 bytes)") == true)
        #expect(CryptoProfile.sm2Sm3.publicKeyProblem([0x04] + [UInt8](repeating: 1, count: 64))?.contains("not a point of the SM2 curve") == true)
        #expect(CryptoProfile.sm2Sm3.publicKeyProblem(sm) == nil && CryptoProfile.ed25519Sha256.publicKeyProblem(ed) == nil)
        #expect(CryptoProfile.ed25519Sha256.signatureProblem([UInt8](repeating: 0, count: 70)) == "must be a 64-byte Ed25519 signature, not 70 bytes")
    }

    @Test func aSignerSignsAndAVerifierChecksInItsProfile() throws {
        let message = Array("cascade".utf8)
        for profile in CryptoProfile.allCases {
            let signer = try profile.newSigner()
            #expect(signer.profile == profile && signer.publicKey.count == profile.publicKeyLength)
            let signature = try signer.sign(message)
            #expect(profile.signatureProblem(signature) == nil)
            #expect(profile.isValidSignature(signature, for: message, publicKey: signer.publicKey))
            #expect(!profile.isValidSignature(signature, for: message + [0], publicKey: signer.publicKey))
            let again = try profile.signer(secret: signer.secret)
            #expect(again.publicKey == signer.publicKey && again.keyId == profile.keyId(publicKey: signer.publicKey))
        }
    }

    @Test func blockZeroNamesAKnownProfileAndNoOtherBlockNamesOne() throws {
        let line = try #require(String(data: try Data(contentsOf: Paths.vectorsSM.appendingPathComponent("chain-valid.jsonl")), encoding: .utf8)?.split(separator: "\n").first)
        let unknown = line.replacingOccurrences(of: #""profile": "sm2-sm3""#, with: #""profile": "sm9-sm3""#)
        #expect(unknown != String(line))
        #expect(throws: ChainFailure.self) { try ParsedBlock(line: Array(unknown.utf8), index: 0, profile: .standard) }
        do {
            _ = try ParsedBlock(line: Array(unknown.utf8), index: 0, profile: .standard)
        } catch {
            #expect(error.reason.contains("\"sm9-sm3\" is not a crypto profile"), "\(error)")
        }
        // Read as it names itself, block 0 of the SM chain needs no hint.
        let parsed = try ParsedBlock(line: Array(line.utf8), index: 0, profile: .standard)
        #expect(parsed.block.header.profile == .sm2Sm3 && parsed.headerProblem == nil)
    }

    @Test func theEnvironmentNamesAProfileOrNone() throws {
        #expect(try CryptoProfile.fromEnvironment(nil) == nil && CryptoProfile.fromEnvironment("") == nil)
        #expect(try CryptoProfile.fromEnvironment("sm2-sm3") == .sm2Sm3)
        #expect(throws: LedgerError.self) { try CryptoProfile.fromEnvironment("SM2") }
    }

    /// GB/T 32918.4 §5.4.3's KDF is SM3 over Z and a counter, cut to length.
    @Test func theKeyDerivationIsSM3WithACounter() {
        let z = Array("cascade".utf8)
        #expect(GuoMi.kdf(z, length: 16) == Array(SM3.hash(z + [0, 0, 0, 1]).prefix(16)))
        #expect(GuoMi.kdf(z, length: 40) == SM3.hash(z + [0, 0, 0, 1]) + SM3.hash(z + [0, 0, 0, 2]).prefix(8))
    }
}
