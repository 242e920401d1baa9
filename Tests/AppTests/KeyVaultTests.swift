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
