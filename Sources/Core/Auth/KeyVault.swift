import Crypto
import FluentKit
import Foundation
import Ledger
import SQLKit
import class Vapor.Application
import protocol Vapor.StorageKey

/// Seals and opens org signing keys with AES-256-GCM under the master key. A sealed key is
/// base64(nonce ‖ ciphertext ‖ tag), bound to its org id (as authenticated data), so a sealed
/// key copied to another org's row does not open.
package struct KeyVault: Sendable {
    // Immutable once made; reading key bytes from several threads is safe.
    package nonisolated(unsafe) let masterKey: SymmetricKey

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

    /// Makes a new key for `org`, stores it sealed, and returns its signer.
    package func createKey(for org: OrgID, on sql: any SQLDatabase, nowMs: Int64) async throws -> Ed25519Signer {
        let signer = Ed25519Signer.generate()
        try await OrgKeys.store(org, keyId: signer.keyId, sealedSeed: try seal(seed: signer.seed, for: org), nowMs: nowMs, on: sql)
        return signer
    }

    /// The custodial signer of `org`, or nil when the org keeps its own key.
    package func signer(for org: OrgID, on sql: any SQLDatabase) async throws -> Ed25519Signer? {
        guard let sealed = try await OrgKeys.sealedSeed(of: org, on: sql) else { return nil }
        return try Ed25519Signer(seed: try open(sealed, for: org))
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
