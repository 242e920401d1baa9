import Foundation
import Ledger
import SQLKit

/// People's second factors: a sealed TOTP secret, the last time step used, and ten recovery codes
/// kept as keyed hashes.
package struct SecondFactors: Sendable {
    package let sql: any SQLDatabase

    package init(sql: any SQLDatabase) { self.sql = sql }

    package struct State: Sendable {
        package var sealedSecret: String?
        package var enabledMs: Int64?
        package var lastStep: Int64?
    }

    /// nil for an unknown user.
    package func state(of userId: String) async throws -> State? {
        try await sql.raw("SELECT totp_secret, totp_enabled_ms, totp_last_step FROM users WHERE id = \(bind: userId)").first().map { row in
            State(sealedSecret: try row.decode(column: "totp_secret", as: String?.self), enabledMs: try row.decode(column: "totp_enabled_ms", as: Int64?.self),
                  lastStep: try row.decode(column: "totp_last_step", as: Int64?.self))
        }
    }

    /// A new secret (enabled at `enabledMs`, or waiting for its first code when nil) and new
    /// recovery codes in place of whatever the user had.
    package func enrol(_ userId: String, sealedSecret: String, enabledMs: Int64?, recoveryCodeHashes: [String]) async throws {
        try await sql.raw("""
            UPDATE users SET totp_secret = \(bind: sealedSecret), totp_enabled_ms = \(bind: enabledMs), totp_last_step = NULL WHERE id = \(bind: userId)
            """).run()
        try await sql.raw("DELETE FROM recovery_codes WHERE user_id = \(bind: userId)").run()
        for hash in recoveryCodeHashes {
            try await sql.raw("INSERT INTO recovery_codes (user_id, code_hash) VALUES (\(bind: userId), \(bind: hash))").run()
        }
    }

    package func enable(_ userId: String, nowMs: Int64) async throws {
        try await sql.raw("UPDATE users SET totp_enabled_ms = \(bind: nowMs) WHERE id = \(bind: userId)").run()
    }

    /// Claims time step `step` for the user, if it is later than the last one used: of two
    /// requests bringing one code at once, one claims it.
    package func claim(step: Int64, of userId: String) async throws -> Bool {
        try await sql.raw("""
            UPDATE users SET totp_last_step = \(bind: step) WHERE id = \(bind: userId) AND (totp_last_step IS NULL OR totp_last_step < \(bind: step)) RETURNING id
            """).first() != nil
    }

    /// Uses the unused recovery code with this hash; false when there is none.
    package func useRecoveryCode(hash: String, of userId: String, nowMs: Int64) async throws -> Bool {
        try await sql.raw("""
            UPDATE recovery_codes SET used_ms = \(bind: nowMs) WHERE user_id = \(bind: userId) AND code_hash = \(bind: hash) AND used_ms IS NULL RETURNING user_id
            """).first() != nil
    }
}
