import Crypto
import FluentKit
import Foundation
import Ledger
import SQLKit
import class Vapor.Application
import protocol Vapor.StorageKey

/// Seals and opens org signing keys under the master key, bound to their org id (as
/// authenticated data), so that a sealed key copied to another org's row does not open.
///
/// - An Ed25519 seed (`ed25519-sha256`) is sealed with AES-256-GCM: base64(nonce ‖ ciphertext ‖ tag).
/// - An SM2 private key (`sm2-sm3`) is sealed with SM4-GCM (GB/T 32907 in GCM, as RFC 8998)
///   under a 128-bit key derived from the master key with the SM3 key derivation function of
///   GB/T 32918.4 §5.4.3: `sm4-gcm:` base64(nonce ‖ ciphertext ‖ tag).
package struct KeyVault: Sendable {
    // Immutable once made; reading key bytes from several threads is safe.
    package nonisolated(unsafe) let masterKey: SymmetricKey
    /// The profile new keys are made in: the chain's.
    package var profile = CryptoProfile.standard

    package init(masterKey: SymmetricKey, profile: CryptoProfile = .standard) {
        self.masterKey = masterKey
        self.profile = profile
    }

    static let sm4Prefix = "sm4-gcm:"

    /// The SM4 key org keys of the `sm2-sm3` profile are sealed under.
    var sm4Key: [UInt8] {
        GuoMi.kdf(masterKey.withUnsafeBytes { Array($0) } + Array("cascade|org-keys|sm4-gcm".utf8), length: 16)
    }

    /// A sealed secret that does not open: not base64, or sealed under another key or for another org.
    package struct SealBroken: Error, CustomStringConvertible {
        package let description: String
    }

    /// `CASCADE_MASTER_KEY`: 32 bytes, base64. Outside production a missing key is generated
    /// for this run (and the caller says so); production refuses to start without one.
    /// `keptIn`: where a generated key would be kept between runs (the demo's file). Without one,
    /// no key is made up: org keys sealed under a key that dies with the process would never open
    /// again.
    package static func fromEnvironment(_ value: String?, keptIn file: String?) throws -> (vault: KeyVault, generated: Bool) {
        guard let value, !value.isEmpty else {
            guard file != nil else {
                throw ConfigurationError("CASCADE_MASTER_KEY is not set: org keys are sealed under it and would not open after a restart. Set CASCADE_MASTER_KEY to 32 random bytes in base64 (CASCADE_MASTER_KEY=$(openssl rand -base64 32)) and keep it: the org keys this database holds open only with it. `cascade demo` keeps one of its own in .cascade/")
            }
            return (KeyVault(masterKey: SymmetricKey(size: .bits256)), true)
        }
        guard let raw = Data(base64Encoded: value), raw.count == 32 else {
            throw ConfigurationError("CASCADE_MASTER_KEY must be 32 bytes in base64 (44 characters); it is not")
        }
        return (KeyVault(masterKey: SymmetricKey(data: raw)), false)
    }

    /// Seals a secret that is not a key (a webhook endpoint's), bound to `context` (what it
    /// belongs to): it opens only for that.
    package func seal(secret: [UInt8], context: String) throws -> String {
        try AES.GCM.seal(secret, using: masterKey, authenticating: Array("secret:\(context)".utf8)).combined!.base64EncodedString()
    }

    package func open(secret sealed: String, context: String) throws -> [UInt8] {
        guard let data = Data(base64Encoded: sealed) else { throw ConfigurationError("a sealed secret is not base64") }
        return Array(try AES.GCM.open(try AES.GCM.SealedBox(combined: data), using: masterKey, authenticating: Array("secret:\(context)".utf8)))
    }

    package func seal(seed: [UInt8], for org: OrgID) throws -> String {
        let box = try AES.GCM.seal(seed, using: masterKey, authenticating: Array(org.description.utf8))
        return box.combined!.base64EncodedString()  // a 12-byte nonce always gives a combined form
    }

    package func open(_ sealed: String, for org: OrgID) throws -> [UInt8] {
        guard let data = Data(base64Encoded: sealed) else { throw SealBroken(description: "sealed key of \(org) is not base64") }
        do {
            let box = try AES.GCM.SealedBox(combined: data)
            return Array(try AES.GCM.open(box, using: masterKey, authenticating: Array(org.description.utf8)))
        } catch {
            throw SealBroken(description: "the key of org \(org) does not open with this master key")
        }
    }

    /// A signer's private key sealed for `org`, as its profile seals it.
    package func seal(_ signer: any TransactionSigner, for org: OrgID) throws -> String {
        switch signer.profile {
        case .ed25519Sha256:
            return try seal(seed: signer.secret, for: org)
        case .sm2Sm3:
            let nonce = (0..<SM4GCM.nonceLength).map { _ in UInt8.random(in: 0...255) }
            let sealed = try SM4GCM.seal(signer.secret, key: sm4Key, nonce: nonce, aad: Array(org.description.utf8))
            return Self.sm4Prefix + Base64.encode(nonce + sealed)
        }
    }

    /// The signer a sealed key opens to: the sealing names the profile.
    package func openSigner(_ sealed: String, for org: OrgID) throws -> any TransactionSigner {
        guard sealed.hasPrefix(Self.sm4Prefix) else { return try Ed25519Signer(seed: try open(sealed, for: org)) }
        guard let bytes = Base64.decode(String(sealed.dropFirst(Self.sm4Prefix.count))), bytes.count > SM4GCM.nonceLength else {
            throw SealBroken(description: "sealed key of \(org) is not base64 of a nonce and a message")
        }
        let scalar: [UInt8]
        do {
            scalar = try SM4GCM.open(Array(bytes.dropFirst(SM4GCM.nonceLength)), key: sm4Key, nonce: Array(bytes.prefix(SM4GCM.nonceLength)),
                                     aad: Array(org.description.utf8))
        } catch {
            throw SealBroken(description: "the key of org \(org) does not open with this master key")
        }
        return try SM2Signer(scalar: scalar)
    }

    /// Makes a new key for `org` in the vault's profile, stores it sealed, and returns its signer.
    package func createKey(for org: OrgID, on sql: any SQLDatabase, nowMs: Int64) async throws -> any TransactionSigner {
        let signer = try profile.newSigner()
        try await OrgKeys.store(org, keyId: signer.keyId, sealedSeed: try seal(signer, for: org), nowMs: nowMs, on: sql)
        return signer
    }

    /// The custodial signer of `org`, or nil when the org keeps its own key.
    package func signer(for org: OrgID, on sql: any SQLDatabase) async throws -> (any TransactionSigner)? {
        guard let sealed = try await OrgKeys.sealedSeed(of: org, on: sql) else { return nil }
        return try openSigner(sealed, for: org)
    }
}

extension Application {
    private struct KeyVaultKey: StorageKey {
        package typealias Value = KeyVault
    }

    /// Opens the orgs' custodial keys; set when the server starts.
    package var keyVault: KeyVault? {
        get { storage[KeyVaultKey.self] }
        set { storage[KeyVaultKey.self] = newValue }
    }
}
