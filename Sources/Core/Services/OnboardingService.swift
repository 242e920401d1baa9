import Foundation
import NIOConcurrencyHelpers
import Ledger
import SQLKit
import class Vapor.Application
import protocol Vapor.StorageKey

/// The operator's onboarding, for the API and the console: registering an org (its key made
/// and sealed, the `registerOrg` transaction, and the key removed again if the ledger refuses),
/// suspending and reactivating it, and the policy. Each leaves an entry in the audit log.
package enum OnboardingService {
    /// The one way an org is registered, from the API and the console: a new key sealed for
    /// it, the `registerOrg` transaction, the audit entry, and its first admin when given.
    package static func register(_ body: StrictBody, admin: NewUser?, by viewer: Viewer, app: Application, address: String?) async throws -> (TxID, OrgID, JSON?) {
        guard viewer.role == .operator else { throw LedgerError(.forbidden, "only the platform operator registers organisations") }
        guard let vault = app.keyVault else { throw LedgerError(.forbidden, "this node holds no keys; register organisations on the writer") }
        let orgId = OrgID(UUID().uuidString.lowercased())!
        let signer = try vault.profile.newSigner()
        let payload = try body.payload(.registerOrg, adding: ["orgId": .string(orgId.description), "publicKey": .string(Base64.encode(signer.publicKey))])
        if let admin { try await admin.checkEmailFree(on: app.sql) }
        // Until this request ends, the sweep leaves what it stores alone.
        app.registrationsInFlight.withLockedValue { _ = $0.insert(orgId) }
        defer { app.registrationsInFlight.withLockedValue { _ = $0.remove(orgId) } }
        // The sealed key and the org's first approval rules (a new bank: every bank action waits
        // for a checker) are stored first, so that no org is on the chain without them even if
        // the request ends right after the ledger; if the ledger refuses the org, they go again.
        try await OrgKeys.store(orgId, keyId: signer.keyId, sealedSeed: try vault.seal(signer, for: orgId), nowMs: app.wallClock.nowMs(), on: app.sql)
        if case .registerOrg(let registered) = payload { try await ApprovalRecords.replaceRules(orgId, with: ApprovalRules.defaults(for: registered.role), on: app.db) }
        let outcome: Outcome
        do {
            outcome = try await LedgerService.submit(payload, by: viewer.caller, app: app)
        } catch {
            // Refused: they go. Of unknown fate (the database went away): they stay, since the org
            // may be on the chain, until the writer knows (`sweepUnregistered`).
            if !(error is Unavailable) {
                try? await OrgKeys.forgetRegistration(of: orgId, on: app.sql)
            }
            throw error
        }
        try await audit(viewer, "org.register", orgId, "registered \(payload.json["name"]?.stringValue ?? "") as \(payload.json["role"]?.stringValue ?? "")", app: app, address: address)
        let user = try await admin?.create(in: orgId, by: viewer, app: app, address: address, registering: true)
        return (outcome.effects.transactionId, orgId, user)
    }

    /// What registrations of unknown fate left behind: the key and rules of an org the chain
    /// does not know, once no request of this process is registering it and the writer is
    /// writing (every block it was asked for is on the chain or never will be). Each is logged.
    /// At start-up and with every sweep; answers how many orgs' leftovers went.
    @discardableResult
    package static func sweepUnregistered(_ app: Application) async throws -> Int {
        guard let sequencer = app.sequencer, await sequencer.recovering == nil, await sequencer.broken == nil else { return 0 }
        let candidates = try await OrgKeys.unregistered(on: app.sql)
        let inFlight = app.registrationsInFlight.withLockedValue { $0 }
        var swept = 0
        for org in candidates where !inFlight.contains(org) {
            // Asked again now that the writer is known to be writing: a registration committed
            // between the list and here is not swept.
            guard try await OrgQueries.summary(of: org, on: app.sql) == nil, await sequencer.recovering == nil else { continue }
            try await OrgKeys.forgetRegistration(of: org, on: app.sql)
            app.logger.notice("registration of org \(org) never reached the chain: its key and approval rules are removed")
            swept += 1
        }
        return swept
    }

    package static func setStatus(of orgId: OrgID, to status: OrgStatus, by viewer: Viewer, app: Application, address: String?) async throws -> Outcome {
        let outcome = try await LedgerService.submit(.setOrgStatus(orgId: orgId, status: status), by: viewer.caller, app: app)
        try await audit(viewer, status == .suspended ? "org.suspend" : "org.activate", orgId, "status set to \(status.rawValue)", app: app, address: address)
        return outcome
    }

    /// `recordDefault`, signed by the operator, and its line in the audit log.
    package static func recordDefault(_ payload: Payload, by viewer: Viewer, app: Application, address: String?) async throws -> Outcome {
        guard case .recordDefault(let orgId, let inDefault, let reason) = payload else { throw StoreDamage("recordDefault payload") }
        let outcome = try await LedgerService.submit(payload, by: viewer.caller, app: app)
        try await audit(viewer, inDefault ? "org.default" : "org.default-lifted", orgId, reason, app: app, address: address)
        return outcome
    }

    package static func setPolicy(_ fields: [JSONKey: JSON], by viewer: Viewer, app: Application, address: String?) async throws -> (TxID, Policy) {
        let payload = try StrictBody(fields: ["policy": .object(fields)], path: "", allowed: ["policy"]).payload(.setPolicy)
        let outcome = try await LedgerService.submit(payload, by: viewer.caller, app: app)
        try await audit(viewer, "policy.set", nil, JSON.object(fields).canonicalString, app: app, address: address)
        guard case .setPolicy(let policy) = payload else { throw StoreDamage("setPolicy payload") }
        return (outcome.effects.transactionId, policy)
    }

    package static func audit(_ viewer: Viewer, _ action: String, _ org: OrgID?, _ detail: String, app: Application, address: String?) async throws {
        try await AuditLog.record(AuditLog.Entry(action: action, orgId: org, userId: viewer.caller.userId, email: viewer.caller.email,
                                                 address: address, detail: detail),
                                  nowMs: app.wallClock.nowMs(), on: app.sql)
    }
}

extension Application {
    private struct RegistrationsInFlightKey: StorageKey { typealias Value = NIOLockedValueBox<Set<OrgID>> }

    /// The orgs this process is registering now. Set up once, in `configure`, before any request.
    package var registrationsInFlight: NIOLockedValueBox<Set<OrgID>> {
        get { storage[RegistrationsInFlightKey.self]! }
        set { storage[RegistrationsInFlightKey.self] = newValue }
    }
}
