import Crypto
import Foundation
import Ledger
import SQLKit
import Testing

@testable import Core
@testable import Web
@testable import Commands

@Suite struct KeyVaultTests {
    let org = OrgID("00000000-0000-4000-8000-000000000042")!
    let other = OrgID("00000000-0000-4000-8000-000000000043")!

    @Test func sealedKeysOpenOnlyWithTheirMasterKeyAndOrg() throws {
        let vault = KeyVault(masterKey: SymmetricKey(size: .bits256))
        let seed = [UInt8](repeating: 7, count: 32)
        let sealed = try vault.seal(seed: seed, for: org)
        #expect(try vault.open(sealed, for: org) == seed)
        #expect(throws: KeyVault.SealBroken.self) { try vault.open(sealed, for: other) }
        #expect(throws: KeyVault.SealBroken.self) { try KeyVault(masterKey: SymmetricKey(size: .bits256)).open(sealed, for: org) }
        var bytes = Data(base64Encoded: sealed)!
        bytes[20] ^= 1
        #expect(throws: KeyVault.SealBroken.self) { try vault.open(bytes.base64EncodedString(), for: org) }
        #expect(!sealed.contains(Data(seed).base64EncodedString()))
    }

    /// sm2-sm3: an SM2 key sealed with SM4-GCM under the SM3-derived key, bound to its org.
    @Test func anSM2KeyIsSealedWithSM4GCM() throws {
        let vault = KeyVault(masterKey: SymmetricKey(size: .bits256), profile: .sm2Sm3)
        let signer = try vault.profile.newSigner()
        let sealed = try vault.seal(signer, for: org)
        #expect(sealed.hasPrefix("sm4-gcm:"))
        let bytes = try #require(Base64.decode(String(sealed.dropFirst("sm4-gcm:".count))))
        #expect(bytes.count == SM4GCM.nonceLength + 32 + SM4GCM.tagLength)
        // Opened by hand: SM4-GCM under KDF(master ‖ label), with the org id authenticated.
        let key = GuoMi.kdf(vault.masterKey.withUnsafeBytes { Array($0) } + Array("cascade|org-keys|sm4-gcm".utf8), length: 16)
        #expect(try SM4GCM.open(Array(bytes.dropFirst(12)), key: key, nonce: Array(bytes.prefix(12)), aad: Array(org.description.utf8)) == signer.secret)
        let opened = try vault.openSigner(sealed, for: org)
        #expect(opened.profile == .sm2Sm3 && opened.publicKey == signer.publicKey)
        #expect(throws: KeyVault.SealBroken.self) { try vault.openSigner(sealed, for: other) }
        #expect(throws: KeyVault.SealBroken.self) { try KeyVault(masterKey: SymmetricKey(size: .bits256)).openSigner(sealed, for: org) }
        var flipped = bytes
        flipped[20] ^= 1
        #expect(throws: KeyVault.SealBroken.self) { try vault.openSigner("sm4-gcm:" + Base64.encode(flipped), for: org) }
        #expect(throws: KeyVault.SealBroken.self) { try vault.openSigner("sm4-gcm:not base64!", for: org) }
    }

    @Test func masterKeyFromTheEnvironment() throws {
        // No key, and nowhere to keep one: refused in every environment, never made up for one run.
        #expect(throws: ConfigurationError.self) { try KeyVault.fromEnvironment(nil, keptIn: nil) }
        #expect(throws: ConfigurationError.self) { try KeyVault.fromEnvironment("", keptIn: nil) }
        #expect(throws: ConfigurationError.self) { try KeyVault.fromEnvironment("c2hvcnQ=", keptIn: "/tmp/k") }
        #expect(try KeyVault.fromEnvironment(nil, keptIn: "/tmp/demo.master-key").generated)
        let key = Data(repeating: 1, count: 32).base64EncodedString()
        #expect(try !KeyVault.fromEnvironment(key, keptIn: nil).generated)
    }

    @Test func storedKeysComeBackAsTheSameSigner() async throws {
        try await TestDatabase.with { app in
            let vault = KeyVault(masterKey: SymmetricKey(size: .bits256))
            let created = try await vault.createKey(for: org, on: app.sql, nowMs: 1)
            let loaded = try await vault.signer(for: org, on: app.sql)
            #expect(loaded?.publicKey == created.publicKey)
            #expect(try await vault.signer(for: other, on: app.sql) == nil)
            let stored = try await app.sql.raw("SELECT sealed_seed FROM org_keys").first()!.decode(column: "sealed_seed", as: String.self)
            #expect(!stored.contains(Data(created.secret).base64EncodedString()))
        }
    }
}
