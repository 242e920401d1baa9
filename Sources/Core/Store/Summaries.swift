import Foundation
import Ledger
import SQLKit

/// The totals the database keeps beside the projections (migration 0023: triggers on tokens,
/// receivables and financings, in the same transaction as the rows they sum): each piece's
/// children, each receivable's amount payable at settlement, each org's open receivables and
/// approved financing; and (0028) each core enterprise's disclosure totals. A verification checks them against the replayed chain, as it checks the
/// projections (`LedgerStore.projectionProblems`): a total that drifted is named.
package enum Summaries {
    /// Table → key → the row's values as text. Rows whose every total is zero are left out on
    /// both sides: a row the database made and then emptied (a piece's only child undone, every
    /// piece of a receivable settled) says the same as no row.
    package typealias Rows = [String: [String: String]]

    static func text(_ values: [Decimal]) -> String? {
        values.allSatisfy { $0 == 0 } ? nil : values.map { "\($0)" }.joined(separator: " ")
    }

    /// What the chain says the totals are.
    package static func expected(of state: LedgerState) -> Rows {
        var children: [String: (Int64, Int64)] = [:], payable: [String: Int64] = [:]
        for t in state.tokens.values {
            if let p = t.parentId { children[p.description, default: (0, 0)].0 += 1; children[p.description, default: (0, 0)].1 += t.amountFen }
            if t.status == .active || t.status == .locked { payable[t.receivableId.description, default: 0] += t.amountFen }
        }
        var orgs: [String: (Int64, Int64, Decimal)] = [:]
        for r in state.receivables.values where [.pending, .active, .overdue].contains(r.status) {
            orgs[r.issuerId.description, default: (0, 0, 0)].0 += r.faceFen - r.paidFen
        }
        for f in state.financings.values where f.status == .approved || f.status == .paid {
            orgs[f.bankId.description, default: (0, 0, 0)].1 += f.amountFen
            orgs[f.bankId.description, default: (0, 0, 0)].2 += Decimal(f.amountFen) * Decimal(f.rateBps)
        }
        var disclosures: [String: [Decimal]] = [:]
        for r in state.receivables.values {
            let open = r.status == .active || r.status == .overdue, overdue = r.status == .overdue, settled = r.status == .settled
            let share: [Int64] = [open ? r.faceFen - r.paidFen : 0, open ? 1 : 0, overdue ? r.faceFen - r.paidFen : 0, overdue ? 1 : 0,
                                  settled && r.overdueOn == nil ? 1 : 0, settled && r.overdueOn != nil ? 1 : 0]
            let sums = disclosures[r.issuerId.description] ?? Array(repeating: 0, count: share.count)
            disclosures[r.issuerId.description] = zip(sums, share).map { $0 + Decimal($1) }
        }
        return [
            "issuer_disclosures": disclosures.compactMapValues { text($0) },
            "token_children": children.compactMapValues { text([Decimal($0.0), Decimal($0.1)]) },
            "receivable_totals": payable.compactMapValues { text([Decimal($0)]) },
            "org_totals": orgs.compactMapValues { text([Decimal($0.0), Decimal($0.1), $0.2]) },
        ]
    }

    /// What the database keeps.
    package static func stored(on sql: any SQLDatabase) async throws -> Rows {
        func read(_ query: SQLQueryString, key: String, _ columns: [String]) async throws -> [String: String] {
            var rows: [String: String] = [:]
            for row in try await sql.raw(query).all() {
                let values = try columns.map { column -> Decimal in
                    let text = try row.decode(column: column, as: String.self)
                    guard let value = Decimal(string: text) else { throw StoreDamage("\(column) \(text)") }
                    return value
                }
                if let text = text(values) { rows[try row.decode(column: key, as: String.self)] = text }
            }
            return rows
        }
        return [
            "issuer_disclosures": try await read("""
                SELECT org_id, CAST(outstanding_fen AS TEXT) AS a, CAST(outstanding_count AS TEXT) AS b, CAST(overdue_fen AS TEXT) AS c,
                       CAST(overdue_count AS TEXT) AS d, CAST(on_time_count AS TEXT) AS e, CAST(late_count AS TEXT) AS f FROM issuer_disclosures
                """, key: "org_id", ["a", "b", "c", "d", "e", "f"]),
            "token_children": try await read("SELECT parent_id, CAST(children AS TEXT) AS c, CAST(amount_fen AS TEXT) AS a FROM token_children",
                                             key: "parent_id", ["c", "a"]),
            "receivable_totals": try await read("SELECT receivable_id, CAST(payable_fen AS TEXT) AS p FROM receivable_totals", key: "receivable_id", ["p"]),
            "org_totals": try await read("""
                SELECT org_id, CAST(outstanding_fen AS TEXT) AS o, CAST(financed_fen AS TEXT) AS f, CAST(financed_rate AS TEXT) AS r FROM org_totals
                """, key: "org_id", ["o", "f", "r"]),
        ]
    }
}
