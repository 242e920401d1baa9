import FluentKit
import Foundation
import Ledger
import SQLKit

/// Approvals as maker-checker moves them, and each org's approval rules. A decision is one
/// conditional update: of two deciding at once, one wins.
package enum ApprovalRecords {
    /// A new pending approval of `operation` (its canonical JSON), prepared by `caller`.
    package static func prepare(_ id: String, operation: JSON, subject: ApprovalService.Subject, by caller: Caller, nowMs: Int64, on sql: any SQLDatabase) async throws {
        try await sql.raw("""
            INSERT INTO approvals (id, org_id, action, status, operation, amount_fen, subject_id, summary, summary_zh, prepared_by, prepared_email, prepared_ms, transaction_ids)
            VALUES (\(bind: id), \(bind: caller.orgId.description), \(bind: subject.action.rawValue), 'pending', \(bind: operation.canonicalString),
                    \(bind: subject.amountFen), \(bind: subject.id), \(bind: subject.summary), \(bind: subject.summaryZh), \(bind: caller.userId), \(bind: caller.email), \(bind: nowMs), '[]')
            """).run()
    }

    /// Appends a transaction to the approval's list, before it is submitted.
    package static func note(_ transaction: TxID, in id: String, on sql: any SQLDatabase) async throws {
        guard let row = try await sql.raw("SELECT transaction_ids FROM approvals WHERE id = \(bind: id)").first(),
              case .array(var ids) = try JSON.parse(Array(try row.decode(column: "transaction_ids", as: String.self).utf8)) else { throw StoreDamage("approval \(id)") }
        ids.append(.string(transaction.description))
        try await sql.raw("UPDATE approvals SET transaction_ids = \(bind: JSON.array(ids).canonicalString) WHERE id = \(bind: id)").run()
    }

    /// Moves a pending approval to `status`, decided by `caller`; false when it was not pending.
    package static func claim(_ id: String, status: String, by caller: Caller, reason: String?, nowMs: Int64, on sql: any SQLDatabase) async throws -> Bool {
        try await sql.raw("""
            UPDATE approvals SET status = \(bind: status), decided_by = \(bind: caller.userId), decided_email = \(bind: caller.email),
                decided_ms = \(bind: nowMs), reason = \(bind: reason)
            WHERE id = \(bind: id) AND status = 'pending' RETURNING id
            """).first() != nil
    }

    /// Performed in full.
    package static func approved(_ id: String, on sql: any SQLDatabase) async throws {
        try await sql.raw("UPDATE approvals SET status = 'approved', last_error = NULL WHERE id = \(bind: id)").run()
    }

    /// Refused with nothing committed: pending again, the refusal noted.
    package static func reopen(_ id: String, because reason: String, on sql: any SQLDatabase) async throws {
        try await sql.raw("""
            UPDATE approvals SET status = 'pending', decided_by = NULL, decided_email = NULL, decided_ms = NULL, transaction_ids = '[]', last_error = \(bind: reason)
            WHERE id = \(bind: id)
            """).run()
    }

    /// Refused part-way: approved, with the transactions committed and the refusal noted.
    package static func approvedInPart(_ id: String, committed: [String], because reason: String, on sql: any SQLDatabase) async throws {
        try await sql.raw("""
            UPDATE approvals SET status = 'approved', transaction_ids = \(bind: JSON.array(committed.map(JSON.string)).canonicalString), last_error = \(bind: reason)
            WHERE id = \(bind: id)
            """).run()
    }

    /// The org's rules become `rules`, in one transaction.
    package static func replaceRules(_ org: OrgID, with rules: [ApprovalRule], on db: any Database) async throws {
        try await db.sqlTransaction { tx in
            try await tx.raw("DELETE FROM approval_rules WHERE org_id = \(bind: org.description)").run()
            for rule in rules {
                try await tx.raw("INSERT INTO approval_rules (org_id, action, min_amount_fen) VALUES (\(bind: org.description), \(bind: rule.action.rawValue), \(bind: rule.minAmountFen))").run()
            }
        }
    }
}
