import Foundation
import Ledger
import SQLKit

/// The custodial signing keys the platform keeps for orgs, sealed under the master key.
package enum OrgKeys {
    package static func store(_ org: OrgID, keyId: String, sealedSeed: String, nowMs: Int64, on sql: any SQLDatabase) async throws {
        try await sql.raw("""
            INSERT INTO org_keys (org_id, key_id, sealed_seed, created_ms) VALUES (\(bind: org.description), \(bind: keyId), \(bind: sealedSeed), \(bind: nowMs))
            """).run()
    }

    /// The org's sealed seed; nil when the org keeps its own key.
    package static func sealedSeed(of org: OrgID, on sql: any SQLDatabase) async throws -> String? {
        try await sql.raw("SELECT sealed_seed FROM org_keys WHERE org_id = \(bind: org.description)").first()?.decode(column: "sealed_seed", as: String.self)
    }

    /// Forgets what a registration stored before the ledger took it (the key, the first approval
    /// rules), when the ledger refused the org.
    package static func forgetRegistration(of org: OrgID, on sql: any SQLDatabase) async throws {
        try await sql.raw("DELETE FROM org_keys WHERE org_id = \(bind: org.description)").run()
        try await sql.raw("DELETE FROM approval_rules WHERE org_id = \(bind: org.description)").run()
    }

    /// Orgs with a stored key or approval rules that the chain does not know.
    package static func unregistered(on sql: any SQLDatabase) async throws -> [OrgID] {
        try await sql.raw("""
            SELECT org_id FROM org_keys WHERE org_id NOT IN (SELECT id FROM orgs)
            UNION SELECT org_id FROM approval_rules WHERE org_id NOT IN (SELECT id FROM orgs)
            ORDER BY org_id
            """).all().compactMap { OrgID(try $0.decode(column: "org_id", as: String.self)) }
    }
}
