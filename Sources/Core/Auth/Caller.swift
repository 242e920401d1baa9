import Crypto
import FluentKit
import Foundation
import Ledger
import NIOConcurrencyHelpers
import SQLKit
import class Vapor.Application
import var Vapor.Bcrypt
import protocol Vapor.StorageKey

/// Who is calling: a user of an org, through a session or an API key.
package struct Caller: Sendable {
    package var userId: String
    package var orgId: OrgID
    package var email: String
    package var name: String
    package var userRole: UserRole
    package var viaAPIKey: Bool
    /// Signed in with a temporary password an admin set: only changing it is allowed.
    package var mustChangePassword = false
    /// Signed in with a password alone by a user who must have a second factor and has none
    /// yet: only enrolling one is allowed.
    package var mustEnrolTwoFactor = false
    /// When the person last gave their password in this session (nil for an API key).
    package var authenticatedMs: Int64?

    package init(userId: String, orgId: OrgID, email: String, name: String, userRole: UserRole, viaAPIKey: Bool, mustChangePassword: Bool = false, mustEnrolTwoFactor: Bool = false, authenticatedMs: Int64? = nil) {
        self.userId = userId
        self.orgId = orgId
        self.email = email
        self.name = name
        self.userRole = userRole
        self.viaAPIKey = viaAPIKey
        self.mustChangePassword = mustChangePassword
        self.mustEnrolTwoFactor = mustEnrolTwoFactor
        self.authenticatedMs = authenticatedMs
    }

    package var isAdmin: Bool { userRole == .admin }

    /// Viewers read and checkers approve; only makers and admins prepare an operation.
    package func requirePreparer() throws {
        guard userRole.prepares else {
            throw LedgerError(.forbidden, userRole == .checker
                ? "a checker approves what others prepared; a maker or an admin of the organisation prepares it"
                : "a viewer reads only; a maker or an admin of the organisation does this")
        }
    }

    /// People and keys change only soon after the person gave their password: a session left open
    /// on a desk does not let someone else add a user or mint a key. An API key is a machine
    /// credential with no password to give again; it passes.
    package func requireRecentSignIn(nowMs: Int64, policy: SessionPolicy = .configured) throws {
        guard let at = authenticatedMs, nowMs - at > policy.reauthMs else { return }
        throw ReauthenticationRequired(minutes: policy.reauthMs / 60_000)
    }
}
