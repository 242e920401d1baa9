import Crypto
import Foundation
import Ledger
import SQLKit
import class Vapor.Application
import struct Vapor.Environment
import protocol Vapor.StorageKey

/// Two-factor sign-in: a TOTP code (RFC 6238) after the password, or one of ten one-time
/// recovery codes. Required for every user of a bank, and for the admins of any org when
/// `CASCADE_TWO_FACTOR_ADMINS=true`. API keys are machine credentials, scoped and revocable:
/// they are not asked for a code.
package enum TwoFactor {
    /// Whether a user of an org with `orgRole` needs a second factor to sign in.
    package static func required(orgRole: String?, isAdmin: Bool) -> Bool {
        orgRole == OrgRole.bank.rawValue || (isAdmin && Environment.get("CASCADE_TWO_FACTOR_ADMINS") == "true")
    }

    /// What enrolment shows once: the secret, the URI an authenticator app reads, and the
    /// recovery codes.
    package struct Enrolment: Sendable {
        package var secret: String
        package var uri: String
        package var recoveryCodes: [String]
    }

    package static let issuer = "Cascade"

    /// The sealed secret is bound to its user: copied to another user's row it does not open.
    package static func context(_ userId: String) -> String { "totp|\(userId)" }

    /// A new secret for the user (its enrolment to be confirmed with a first code) and ten new
    /// recovery codes; whatever the user had before stops working.
    package static func enrol(userId: String, email: String, secret: [UInt8] = TOTP.newSecret(), confirmed: Bool = false, app: Application, nowMs: Int64) async throws -> Enrolment {
        let vault = try requireVault(app)
        let sealed = try vault.seal(secret, context: context(userId))
        let codes = (0..<10).map { _ in recoveryCode() }
        try await SecondFactors(sql: app.sql).enrol(userId, sealedSecret: sealed, enabledMs: confirmed ? nowMs : nil,
                                                    recoveryCodeHashes: codes.map { vault.keyedHash($0, context: context(userId)) })
        return Enrolment(secret: Base32.encode(secret), uri: TOTP.uri(secret: secret, account: email, issuer: issuer), recoveryCodes: codes)
    }

    /// A person's own enrolment, from the API or the console, in the audit log.
    package static func enrol(_ caller: Caller, address: String?, app: Application) async throws -> Enrolment {
        let now = app.wallClock.nowMs()
        let enrolment = try await enrol(userId: caller.userId, email: caller.email, app: app, nowMs: now)
        try await AuditLog.record(AuditLog.Entry(action: "two_factor.enrol", orgId: caller.orgId, userId: caller.userId, email: caller.email,
                                                 address: address, detail: "new second factor, to be confirmed"), nowMs: now, on: app.sql)
        return enrolment
    }

    /// A person confirms their own enrolment; in the audit log when it is on.
    package static func confirm(_ caller: Caller, code: String, address: String?, app: Application) async throws -> Bool {
        let now = app.wallClock.nowMs()
        guard try await confirm(userId: caller.userId, code: code, app: app, nowMs: now) else { return false }
        try await AuditLog.record(AuditLog.Entry(action: "two_factor.confirm", orgId: caller.orgId, userId: caller.userId, email: caller.email,
                                                 address: address, detail: "second factor confirmed"), nowMs: now, on: app.sql)
        return true
    }

    /// Confirms an enrolment with a first code from the app: from then on sign-in asks for one.
    /// False when the code is wrong or there is no enrolment to confirm.
    package static func confirm(userId: String, code: String, app: Application, nowMs: Int64) async throws -> Bool {
        guard try await isEnabled(userId: userId, on: app.sql) == false else { return false }
        guard try await useCode(userId: userId, code: code, app: app, nowMs: nowMs, recoveryToo: false) else { return false }
        try await SecondFactors(sql: app.sql).enable(userId, nowMs: nowMs)
        return true
    }

    /// nil: not enrolled; false: enrolled, not yet confirmed; true: asked for at sign-in.
    package static func isEnabled(userId: String, on sql: any SQLDatabase) async throws -> Bool? {
        guard let state = try await SecondFactors(sql: sql).state(of: userId), state.sealedSecret != nil else { return nil }
        return state.enabledMs != nil
    }

    /// Takes `code` for the user: a TOTP code within a step of now and later than the last one
    /// used, or (`recoveryToo`) an unused recovery code. Either works once, even when two requests
    /// bring it at the same moment: the row is claimed by one conditional update.
    package static func useCode(userId: String, code raw: String, app: Application, nowMs: Int64, recoveryToo: Bool = true) async throws -> Bool {
        let code = raw.trimmingCharacters(in: .whitespaces)
        let factors = SecondFactors(sql: app.sql), vault = try requireVault(app)
        guard let state = try await factors.state(of: userId), let sealed = state.sealedSecret else { return false }
        if code.count == TOTP.digits {
            let secret = try vault.open(sealed, context: context(userId))
            guard let step = TOTP.verify(code, secret: secret, at: nowMs / 1000, lastUsed: state.lastStep) else { return false }
            return try await factors.claim(step: step, of: userId)
        }
        guard recoveryToo, code.count <= 32 else { return false }
        return try await factors.useRecoveryCode(hash: vault.keyedHash(code.lowercased(), context: context(userId)), of: userId, nowMs: nowMs)
    }

    /// Ten characters of base32 in two groups: `abcde-fghjk`.
    package static func recoveryCode() -> String {
        var rng = SystemRandomNumberGenerator()
        let letters = Base32.encode((0..<7).map { _ in UInt8.random(in: 0...255, using: &rng) }).lowercased().prefix(10)
        return letters.prefix(5) + "-" + letters.suffix(5)
    }

    package static func requireVault(_ app: Application) throws -> KeyVault {
        guard let vault = app.keyVault else { throw ConfigurationError("no master key: second factors are sealed under it") }
        return vault
    }

    // MARK: - The console's second step

    /// What the console's code page carries between the password and the code: the user and a
    /// deadline five minutes away, under an HMAC of the master key, so that it cannot be made or
    /// stretched by anyone else.
    package static func challenge(userId: String, nowMs: Int64, app: Application) throws -> String {
        let body = "\(userId).\(nowMs + 300_000)"
        return body + "." + (try requireVault(app)).keyedHash(body, context: "signin-challenge")
    }

    /// The user a challenge names, while it is good.
    package static func user(ofChallenge challenge: String, nowMs: Int64, app: Application) throws -> String? {
        let parts = challenge.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let deadline = Int64(parts[1]), deadline > nowMs else { return nil }
        let body = "\(parts[0]).\(parts[1])"
        guard TOTP.constantTimeEqual(try requireVault(app).keyedHash(body, context: "signin-challenge"), String(parts[2])) else { return nil }
        return String(parts[0])
    }
}

extension KeyVault {
    /// `bytes` sealed under the master key, bound to `context`.
    package func seal(_ bytes: [UInt8], context: String) throws -> String {
        let box = try AES.GCM.seal(bytes, using: masterKey, authenticating: Array(context.utf8))
        return box.combined!.base64EncodedString()  // a 12-byte nonce always gives a combined form
    }

    package func open(_ sealed: String, context: String) throws -> [UInt8] {
        guard let data = Data(base64Encoded: sealed), let box = try? AES.GCM.SealedBox(combined: data),
              let opened = try? AES.GCM.open(box, using: masterKey, authenticating: Array(context.utf8)) else {
            throw KeyVault.SealBroken(description: "a sealed secret does not open with this master key")
        }
        return Array(opened)
    }

    /// HMAC-SHA-256 of `text` under a key made from the master key for `context`: a hash nobody
    /// without the master key can compute or search.
    package func keyedHash(_ text: String, context: String) -> String {
        let key = HKDF<SHA256>.deriveKey(inputKeyMaterial: masterKey, info: Array("cascade|\(context)".utf8), outputByteCount: 32)
        return Hex.encode(HMAC<SHA256>.authenticationCode(for: Array(text.utf8), using: key))
    }
}
