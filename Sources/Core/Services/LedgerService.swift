import Foundation
import Ledger
import class Vapor.Application
import protocol Vapor.StorageKey

/// The signing step of the write path, under every workflow service: turns a payload of the
/// caller's org into a transaction signed with the org's custodial key (opened in memory only)
/// and submits it through the sequencer's gate. No business rule lives here: the ledger
/// decides, and its error is the answer.
package enum LedgerService {
    /// Where a face keeps the id of the transaction its request is about to submit (the API: on
    /// the request's idempotency key), so that a retry finds that transaction instead of making
    /// another. Set for the task serving the request.
    package enum SubmissionNote {
        @TaskLocal package static var current: (@Sendable (TxID) async throws -> Void)?
    }

    package static func submit(_ payload: Payload, by caller: Caller, app: Application, time: Int64? = nil) async throws -> Outcome {
        let sequencer = try app.requireSequencer()
        // A checker performing an approved operation prepares nothing; everyone else must be able to.
        let approval = ApprovalInFlight.current
        if approval == nil { try caller.requirePreparer() }
        let tx = try await sign(payload, by: caller, app: app, time: time)
        // A retry with the request's Idempotency-Key will look for this transaction, not make another.
        try await SubmissionNote.current?(tx.id)
        try await approval?.note(tx.id)
        do {
            return try await sequencer.submit(tx)
        } catch let error as LedgerError {
            // The caller named the payload's fields, not the transaction's: `memo`, not `payload.memo`.
            throw error.fieldsRelative(to: "payload.")
        }
    }

    /// What the ledger would answer `payload` from the caller's org now, committing nothing:
    /// its refusal is thrown as `submit` would throw it.
    package static func trial(_ payload: Payload, by caller: Caller, app: Application, time: Int64? = nil) async throws {
        let tx = try await sign(payload, by: caller, app: app, time: time)
        do {
            _ = try await app.requireSequencer().trial(tx)
        } catch let error as LedgerError {
            throw error.fieldsRelative(to: "payload.")
        }
    }

    /// The transaction of `payload`, signed with the caller's org's custodial key.
    package static func sign(_ payload: Payload, by caller: Caller, app: Application, time: Int64?) async throws -> Transaction {
        guard let role = try await Accounts.role(of: caller.orgId, on: app.sql), role == payload.type.signerRole else {
            throw LedgerError(.forbidden, "your organisation may not \(payload.type.rawValue); only a \(payload.type.signerRole.rawValue) may")
        }
        guard let vault = app.keyVault, let signer = try await vault.signer(for: caller.orgId, on: app.sql) else {
            throw LedgerError(.forbidden, "your organisation keeps its own key: sign the transaction and POST it to /api/v1/transactions")
        }
        var nonce = [UInt8](repeating: 0, count: 16)
        for i in nonce.indices { nonce[i] = UInt8.random(in: 0...255) }
        let body = TransactionBody(orgId: caller.orgId, keyId: signer.keyId, time: time ?? app.ledgerClock.nowMs(), nonce: Hex.encode(nonce), payload: payload)
        return try Transaction.sign(body, with: signer)
    }
}

extension LedgerService {
    /// Submits `payload` now, or holds it for a checker when the caller's org has it wait.
    package static func submitOrHold(_ payload: Payload, by caller: Caller, app: Application, time: Int64? = nil) async throws -> Prepared<Outcome> {
        if let approval = try await ApprovalService.hold(.ledger(payload), by: caller, app: app) { return .pending(approval) }
        return .done(try await submit(payload, by: caller, app: app, time: time))
    }
}

extension LedgerError {
    /// The same refusal with `prefix` taken off the fields it names.
    package func fieldsRelative(to prefix: String) -> LedgerError {
        func strip(_ s: String) -> String { s.hasPrefix(prefix) ? String(s.dropFirst(prefix.count)) : s }
        return LedgerError(code, strip(message), fields: fields.map { FieldError(field: strip($0.field), message: $0.message) })
    }
}
