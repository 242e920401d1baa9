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

    /// Which audit entries the viewer reads: all of them (the regulator and the operator), its
    /// own org's (an org's admin: what its people did, and what the operator did to it), or none.
    package func auditScope() throws -> SQLQueryString {
        if seesAll { return "1 = 1" }
        guard caller.isAdmin else { throw LedgerError(.forbidden, "the audit log is for the operator, the regulator and each org's admins") }
        return "org_id = \(bind: orgId.description)"
    }
}
