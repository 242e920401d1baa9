import Foundation
import Ledger
import SQLKit

/// The accounts orgs keep on the payment rails, and the rail each org's admin chose to pay by.
package enum PaymentAccounts {
    package static func find(_ org: OrgID, rail: String, on sql: any SQLDatabase) async throws -> PaymentAccount? {
        try await sql.raw("SELECT account, account_name, agent, agent_org_id FROM payment_accounts WHERE org_id = \(bind: org.description) AND rail = \(bind: rail)").first().map { row in
            PaymentAccount(orgId: org, rail: rail, account: try row.decode(column: "account", as: String.self), accountName: try row.decode(column: "account_name", as: String.self),
                           agent: try row.decode(column: "agent", as: String.self), agentOrgId: try row.decode(column: "agent_org_id", as: String?.self).flatMap(OrgID.init))
        }
    }

    /// Keeps `account` as its org's one account on its rail, in place of any before it.
    package static func save(_ account: PaymentAccount, on sql: any SQLDatabase, nowMs: Int64) async throws {
        try await sql.raw("DELETE FROM payment_accounts WHERE org_id = \(bind: account.orgId.description) AND rail = \(bind: account.rail)").run()
        try await sql.raw("""
            INSERT INTO payment_accounts (org_id, rail, account, account_name, agent, agent_org_id, created_ms)
            VALUES (\(bind: account.orgId.description), \(bind: account.rail), \(bind: account.account), \(bind: account.accountName), \(bind: account.agent),
                    \(bind: account.agentOrgId?.description), \(bind: nowMs))
            """).run()
    }

    /// The rail `org` chose to pay by; nil when it made no choice.
    package static func choice(of org: OrgID, on sql: any SQLDatabase) async throws -> PaysBy? {
        try await sql.raw("SELECT rail FROM payment_rail_choices WHERE org_id = \(bind: org.description)").first()
            .map { row in
                let text = try row.decode(column: "rail", as: String.self)
                guard let choice = PaysBy(rawValue: text) else { throw StoreDamage("payment rail choice \(text)") }
                return choice
            }
    }

    /// Records `org`'s choice; nil forgets it.
    package static func choose(_ choice: PaysBy?, for org: OrgID, on sql: any SQLDatabase, nowMs: Int64) async throws {
        try await sql.raw("DELETE FROM payment_rail_choices WHERE org_id = \(bind: org.description)").run()
        guard let choice else { return }
        try await sql.raw("INSERT INTO payment_rail_choices (org_id, rail, updated_ms) VALUES (\(bind: org.description), \(bind: choice.rawValue), \(bind: nowMs))").run()
    }
}
