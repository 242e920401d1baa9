import Foundation
import Ledger
import SQLKit
import class Vapor.Application
import protocol Vapor.StorageKey
import struct Vapor.Environment

/// 监测: what a regulator watches under 银发〔2025〕77号 — core enterprises in default, long terms
/// and whether their financings carry the bank's review, financings without a 中登网 filing, and
/// abnormal splitting (pieces deeper than an alert tier, or more pieces of one receivable in a day
/// than an alert count). Each list reads an index and stops at `limit` rows.
package enum MonitoringQueries {
    /// The alert levels: settings (`CASCADE_ALERT_TIER`, `CASCADE_ALERT_PIECES_PER_DAY`).
    package struct Alerts: Sendable, Equatable {
        package var tier: Int64
        package var piecesPerDay: Int64
        package init(tier: Int64 = 5, piecesPerDay: Int64 = 50) {
            self.tier = tier
            self.piecesPerDay = piecesPerDay
        }
    }

    package struct TermReview: Sendable {
        package var receivableId: String
        package var number: String
        package var issuerId: String
        package var termDays: Int64
        package var financed: Int64
        package var reviewed: Int64
    }

    package struct Unfiled: Sendable {
        package var financingId: String
        package var bankId: String
        package var supplierId: String
        package var amountFen: Int64
        package var status: String
    }

    package struct Splitting: Sendable {
        package var receivableId: String
        package var number: String
        package var issuerId: String
        /// The deepest tier, or (for a day's burst) the number of pieces made that day.
        package var value: Int64
        package var day: String?
    }

    package struct Report: Sendable {
        package var alerts: Alerts
        package var inDefault: [DisclosureQueries.Disclosure]
        package var termReviews: [TermReview]
        package var unfiledCount: Int64
        package var unfiled: [Unfiled]
        package var deepPieces: [Splitting]
        package var splitBursts: [Splitting]
        package var since: BusinessDate
    }

    /// The report, for the regulator and the operator; bursts counted from `since`.
    package static func report(for viewer: Viewer, alerts: Alerts, today: BusinessDate, since: BusinessDate, limit: Int = 200,
                               on sql: any SQLDatabase) async throws -> Report {
        guard viewer.seesAll else { throw LedgerError(.forbidden, "monitoring is for the regulator and the operator") }
        let inDefault = try await DisclosureQueries.list(inDefaultOnly: true, today: today, page: Page(limit: limit), on: sql).items
        let termReviews = try await sql.raw("""
            SELECT r.id, r.number, r.issuer_id, r.issue_date, r.due_date,
                   (SELECT COUNT(*) FROM financings f WHERE f.receivable_id = r.id AND f.status IN ('approved', 'paid')) AS financed,
                   (SELECT COUNT(*) FROM financings f WHERE f.receivable_id = r.id AND f.status IN ('approved', 'paid') AND f.term_review_reason IS NOT NULL) AS reviewed
            FROM receivables r WHERE r.term_review = 1 ORDER BY r.issuer_id, r.id LIMIT \(literal: limit)
            """).all().map { row -> TermReview in
            let issued = BusinessDate(try row.decode(column: "issue_date", as: String.self)), due = BusinessDate(try row.decode(column: "due_date", as: String.self))
            return TermReview(receivableId: try row.decode(column: "id", as: String.self), number: try row.decode(column: "number", as: String.self),
                              issuerId: try row.decode(column: "issuer_id", as: String.self), termDays: issued.flatMap { i in due.map { i.days(until: $0) } } ?? 0,
                              financed: try row.decode(column: "financed", as: Int64.self), reviewed: try row.decode(column: "reviewed", as: Int64.self))
        }
        let unfiledCount = try await sql.raw("""
            SELECT COUNT(*) AS n FROM financings WHERE filing_number IS NULL AND status IN ('approved', 'paid')
            """).first()?.decode(column: "n", as: Int64.self) ?? 0
        let unfiled = try await sql.raw("""
            SELECT id, bank_id, supplier_id, amount_fen, status FROM financings WHERE filing_number IS NULL AND status IN ('approved', 'paid')
            ORDER BY id LIMIT \(literal: limit)
            """).all().map {
            Unfiled(financingId: try $0.decode(column: "id", as: String.self), bankId: try $0.decode(column: "bank_id", as: String.self),
                    supplierId: try $0.decode(column: "supplier_id", as: String.self), amountFen: try $0.decode(column: "amount_fen", as: Int64.self),
                    status: try $0.decode(column: "status", as: String.self))
        }
        func splitting(_ row: any SQLRow, day: Bool) throws -> Splitting {
            Splitting(receivableId: try row.decode(column: "receivable_id", as: String.self), number: try row.decode(column: "number", as: String.self),
                      issuerId: try row.decode(column: "issuer_id", as: String.self), value: try row.decode(column: "value", as: Int64.self),
                      day: day ? try row.decode(column: "created_on", as: String.self) : nil)
        }
        let deep = try await sql.raw("""
            SELECT d.receivable_id, d.value, r.number, r.issuer_id
            FROM (SELECT receivable_id, MAX(tier) AS value FROM tokens WHERE tier > \(bind: alerts.tier) GROUP BY receivable_id) d
            JOIN receivables r ON r.id = d.receivable_id ORDER BY d.value DESC, d.receivable_id LIMIT \(literal: limit)
            """).all().map { try splitting($0, day: false) }
        let bursts = try await sql.raw("""
            SELECT b.receivable_id, b.created_on, b.value, r.number, r.issuer_id
            FROM (SELECT receivable_id, created_on, COUNT(*) AS value FROM tokens WHERE created_on >= \(bind: since.description)
                  GROUP BY receivable_id, created_on HAVING COUNT(*) > \(bind: alerts.piecesPerDay)) b
            JOIN receivables r ON r.id = b.receivable_id ORDER BY b.created_on DESC, b.value DESC, b.receivable_id LIMIT \(literal: limit)
            """).all().map { try splitting($0, day: true) }
        return Report(alerts: alerts, inDefault: inDefault, termReviews: termReviews, unfiledCount: unfiledCount, unfiled: unfiled,
                      deepPieces: deep, splitBursts: bursts, since: since)
    }
}

extension MonitoringQueries.Alerts {
    /// From `CASCADE_ALERT_TIER` and `CASCADE_ALERT_PIECES_PER_DAY`, each a whole number from 1.
    package static func fromEnvironment() -> Self {
        func setting(_ name: String, _ fallback: Int64) -> Int64 { Environment.get(name).flatMap(Int64.init).map { max(1, $0) } ?? fallback }
        let d = Self()
        return Self(tier: setting("CASCADE_ALERT_TIER", d.tier), piecesPerDay: setting("CASCADE_ALERT_PIECES_PER_DAY", d.piecesPerDay))
    }
}

extension Application {
    private struct MonitoringAlertsKey: StorageKey { typealias Value = MonitoringQueries.Alerts }

    /// The regulator's alert levels (set in `configure`; the defaults until then).
    package var monitoringAlerts: MonitoringQueries.Alerts {
        get { storage[MonitoringAlertsKey.self] ?? MonitoringQueries.Alerts() }
        set { storage[MonitoringAlertsKey.self] = newValue }
    }
}

extension MonitoringQueries {
    /// Payments instructed through the rails, counted by rail and status (for `GET /metrics`).
    package static func paymentsByRailAndStatus(on sql: any SQLDatabase) async throws -> [(rail: String, status: String, count: Int64)] {
        try await sql.raw("SELECT rail, status, COUNT(*) AS n FROM rail_payments GROUP BY rail, status ORDER BY rail, status").all().map {
            (try $0.decode(column: "rail", as: String.self), try $0.decode(column: "status", as: String.self), try $0.decode(column: "n", as: Int64.self))
        }
    }

    package struct WebhookBacklog: Sendable {
        package var pending: Int64
        package var oldestMs: Int64?

        package func oldestAgeMs(nowMs: Int64) -> Int64 { oldestMs.map { max(0, nowMs - $0) } ?? 0 }
    }

    /// Webhook deliveries stored and not yet delivered or given up.
    package static func webhookBacklog(on sql: any SQLDatabase) async throws -> WebhookBacklog {
        let row = try await sql.raw("SELECT COUNT(*) AS n, MIN(created_ms) AS oldest FROM webhook_deliveries WHERE status = 'pending'").first()
        return WebhookBacklog(pending: try row?.decode(column: "n", as: Int64.self) ?? 0, oldestMs: try row?.decode(column: "oldest", as: Int64?.self))
    }
}

extension MonitoringQueries {
    /// The database answers a trivial statement.
    package static func answers(on sql: any SQLDatabase) async throws {
        _ = try await sql.raw("SELECT 1 AS one").first()
    }

    /// On a PostgreSQL standby: false while it has received WAL it has not yet replayed; true
    /// otherwise (a primary, or SQLite, is never behind).
    package static func replayedAllReceived(on sql: any SQLDatabase) async -> Bool {
        guard let row = try? await sql.raw("SELECT pg_is_in_recovery() AS standby, pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() AS replayed").first(),
              (try? row.decode(column: "standby", as: Bool.self)) == true else { return true }
        return (try? row.decode(column: "replayed", as: Bool?.self)) != false
    }
}
