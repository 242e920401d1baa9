import Foundation
import Ledger
import SQLKit

/// The signed-in caller and the role its org has on the chain.
package struct Viewer: Sendable {
    package var caller: Caller
    package var role: OrgRole

    package init(caller: Caller, role: OrgRole) {
        self.caller = caller
        self.role = role
    }

    package var orgId: OrgID { caller.orgId }
    /// The regulator and the operator see everything.
    package var seesAll: Bool { role == .regulator || role == .operator }

    /// Refuses, before anything else is looked at, an org whose role may never `action` (a
    /// regulator settling a settled receivable hears "forbidden", not what the receivable lacks).
    package func require(_ role: OrgRole, to action: String) throws {
        guard self.role == role else { throw LedgerError(.forbidden, "a \(self.role.rawValue) may not \(action); only a \(role.rawValue) may") }
    }

    /// Which audit entries the viewer reads: all of them (the regulator and the operator), its
    /// own org's (an org's admin: what its people did, and what the operator did to it), or none.
    package func auditScope() throws -> SQLQueryString {
        if seesAll { return "1 = 1" }
        guard caller.isAdmin else { throw LedgerError(.forbidden, "the audit log is for the operator, the regulator and each org's admins") }
        return "org_id = \(bind: orgId.description)"
    }
}
