import Foundation
import Ledger
import SQLKit

/// Who did what outside the chain: sign-ins (and failed ones, with the address), API keys made
/// and revoked, users added; and, from the chain, policy changes and suspensions.
package enum AuditLog {
    package struct Entry {
        package var action: String
        package var orgId: OrgID? = nil
        package var userId: String? = nil
        package var email: String? = nil
        package var address: String? = nil
        package var detail: String

        package init(action: String, orgId: OrgID? = nil, userId: String? = nil, email: String? = nil, address: String? = nil, detail: String) {
            self.action = action
            self.orgId = orgId
            self.userId = userId
            self.email = email
            self.address = address
            self.detail = detail
        }
    }

    package static func record(_ e: Entry, nowMs: Int64, on db: any SQLDatabase) async throws {
        // Requests write here at the same time, outside the writer: the database numbers the rows.
        try await db.insert(into: "audit_log").columns("time_ms", "action", "org_id", "user_id", "email", "address", "detail")
            .values(SQLBind(nowMs), SQLBind(e.action), e.orgId.map { SQLBind($0.description) } ?? SQLBind(String?.none),
                    SQLBind(e.userId), SQLBind(e.email), SQLBind(e.address), SQLBind(e.detail))
            .run()
    }
}
