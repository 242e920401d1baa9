import Foundation
import Ledger
import class Vapor.Application
import protocol Vapor.StorageKey

/// Where an org pays and is paid, and the rail it pays by: set by its admins, soon after giving
/// their password, each change audited. The API and the console both come here. The regulator
/// and the operator neither pay nor are paid: they have no accounts.
package enum PaymentSettingsService {
    package struct AccountInput: Sendable {
        package var account: String
        package var accountName: String
        /// The bank's 12-digit CNAPS code; empty for an e-CNY wallet.
        package var agent: String
        package var agentOrgId: String?

        package init(account: String, accountName: String, agent: String, agentOrgId: String?) {
            self.account = account
            self.accountName = accountName
            self.agent = agent
            self.agentOrgId = agentOrgId
        }
    }

    package static func requireSettable(_ org: OrgID, by viewer: Viewer, app: Application) async throws {
        try viewer.caller.requireRecentSignIn(nowMs: app.wallClock.nowMs())
        try PeopleService.requireAdmin(of: org, viewer)
        guard [.core, .supplier, .bank].contains(viewer.role) else {
            throw LedgerError(.forbidden, "the regulator and the operator neither pay nor are paid: they have no payment accounts")
        }
    }

    /// The org's account on `rail` (`bank` or `ecny`), replacing the one it had there.
    package static func setAccount(_ input: AccountInput, rail: String, of org: OrgID, by viewer: Viewer, app: Application, address: String?) async throws -> PaymentAccount {
        guard rail == "bank" || rail == "ecny" else { throw LedgerError(.notFound, "no such rail: bank (a bank account) or ecny (an e-CNY wallet)") }
        try await requireSettable(org, by: viewer, app: app)
        let account = input.account, name = input.accountName, agent = rail == "ecny" ? "" : input.agent
        try Limits.checkText(account, field: "account", maxLength: 34)
        try Limits.checkText(name, field: "accountName", maxLength: 140)
        guard !account.isEmpty, account.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }) else {
            throw LedgerError.invalid("account", "must be 1 to 34 letters, digits or hyphens")
        }
        guard !name.trimmingCharacters(in: .whitespaces).isEmpty else { throw LedgerError.invalid("accountName", "must name the account's holder") }
        guard rail == "ecny" || (agent.count == 12 && agent.allSatisfy({ $0.isASCII && $0.isNumber })) else { throw LedgerError.invalid("agent", "must be the bank's 12-digit CNAPS code") }
        var agentOrg: OrgID?
        if let text = input.agentOrgId {
            guard let id = OrgID(text), try await OrgQueries.role(of: id, on: app.sql) == .bank else { throw LedgerError.invalid("agentOrgId", "must be a bank of the platform") }
            agentOrg = id
        }
        let saved = PaymentAccount(orgId: org, rail: rail, account: account, accountName: name, agent: agent, agentOrgId: agentOrg)
        try await PaymentAccounts.save(saved, on: app.sql, nowMs: app.ledgerClock.nowMs())
        try await OnboardingService.audit(viewer, "payment.account", org, "\(rail) account \(account)" + (agent.isEmpty ? "" : " at \(agent)"), app: app, address: address)
        return saved
    }

    /// The rail the org pays by (nil: e-CNY where both sides have wallets, else a bank transfer).
    /// Payments already instructed keep their rail.
    package static func choose(_ choice: PaysBy?, for org: OrgID, by viewer: Viewer, app: Application, address: String?) async throws {
        try await requireSettable(org, by: viewer, app: app)
        let before = try await PaymentAccounts.choice(of: org, on: app.sql)
        try await PaymentAccounts.choose(choice, for: org, on: app.sql, nowMs: app.ledgerClock.nowMs())
        try await OnboardingService.audit(viewer, "payment.rail", org, "pays by \(before?.rawValue ?? "either rail") → \(choice?.rawValue ?? "either rail")", app: app, address: address)
    }
}
