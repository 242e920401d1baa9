import Foundation
import Ledger
import SQLKit

/// Early payments as their parties see them, and what the platform keeps of each core's market:
/// its program, its clearings, and the cash each day's approvals took.
package enum EarlyPaymentQueries {
    package static let columns = Projection.earlyPayments.select("e")

    /// The supplier's own offers, the issuer's offers to it; all for the regulator and the operator.
    package static func visible(_ v: Viewer) -> SQLQueryString {
        switch v.role {
        case .regulator, .operator: return "1 = 1"
        case .supplier: return "e.supplier_id = \(bind: v.orgId.description)"
        case .core: return "e.issuer_id = \(bind: v.orgId.description)"
        case .bank: return "1 = 0"
        }
    }

    static func select(status: EarlyPaymentStatus?, issuer: OrgID?, visibleTo viewer: Viewer) -> SQLQueryString {
        var query: SQLQueryString = "SELECT \(unsafeRaw: columns) FROM early_payments e WHERE "
        query += visible(viewer)
        if let status { query += " AND e.status = \(bind: status.rawValue)" }
        if let issuer { query += " AND e.issuer_id = \(bind: issuer.description)" }
        return query
    }

    /// Latest requested first, a page at a time.
    package static func list(status: EarlyPaymentStatus?, issuer: OrgID?, visibleTo viewer: Viewer, page: Page, on sql: any SQLDatabase) async throws -> Page.Rows<EarlyPayment> {
        try await page.rows(select(status: status, issuer: issuer, visibleTo: viewer), keys: ["e.requested_on", "e.id"], descending: true, on: sql) { row in
            let e = try RowReader(row, "early_payments").earlyPayment
            return (e, [.string(e.requestedOn.description), .string(e.id.description)])
        }
    }

    /// The same list, as rows `slice` of it (the console).
    package static func list(status: EarlyPaymentStatus?, issuer: OrgID?, visibleTo viewer: Viewer, slice: Slice, on sql: any SQLDatabase) async throws -> [EarlyPayment] {
        try await slice.rows(select(status: status, issuer: issuer, visibleTo: viewer), order: "e.requested_on DESC, e.id", on: sql) { try RowReader($0, "early_payments").earlyPayment }
    }

    package static func find(_ id: TxID, visibleTo viewer: Viewer, on sql: any SQLDatabase) async throws -> EarlyPayment? {
        var query: SQLQueryString = "SELECT \(unsafeRaw: columns) FROM early_payments e WHERE e.id = \(bind: id.description) AND "
        query += visible(viewer)
        return try await sql.raw(query).first().map { try RowReader($0, "early_payments").earlyPayment }
    }

    /// Every early payment of a token, the latest first (the token's page, the ancestry).
    package static func of(token: TokenID, on sql: any SQLDatabase) async throws -> [EarlyPayment] {
        try await sql.raw("SELECT \(unsafeRaw: columns) FROM early_payments e WHERE e.token_id = \(bind: token.description) ORDER BY e.requested_on DESC, e.id")
            .all().map { try RowReader($0, "early_payments").earlyPayment }
    }

    /// The paid early payment of each of `tokens` that was paid early (only a settled piece can be).
    package static func paidEarly(_ tokens: [Token], on sql: any SQLDatabase) async throws -> [TokenID: EarlyPayment] {
        var found: [TokenID: EarlyPayment] = [:]
        for chunk in tokens.filter({ $0.status == .settled }).map(\.id.description).chunked(500).map(Array.init) {
            for row in try await sql.raw("SELECT \(unsafeRaw: columns) FROM early_payments e WHERE e.status = 'paid' AND e.token_id IN (\(binds: chunk))").all() {
                let e = try RowReader(row, "early_payments").earlyPayment
                found[e.tokenId] = e
            }
        }
        return found
    }

    /// Whether `supplier` holds, or has held, a piece of `core`'s paper.
    package static func holdsPaper(of core: OrgID, supplier: OrgID, on sql: any SQLDatabase) async throws -> Bool {
        try await sql.raw("""
            SELECT 1 AS one FROM tokens t JOIN receivables r ON r.id = t.receivable_id
            WHERE t.holder_id = \(bind: supplier.description) AND r.issuer_id = \(bind: core.description) LIMIT 1
            """).first() != nil
    }

    /// The issuer's open offers, as the market sees them: each with its request's place on the chain.
    package static func offers(to issuer: OrgID, on sql: any SQLDatabase) async throws -> [(EarlyPayment, EarlyPaymentMarket.Offer)] {
        try await sql.raw("""
            SELECT \(unsafeRaw: columns), t.block_height, t.position FROM early_payments e JOIN transactions t ON t.id = e.id
            WHERE e.issuer_id = \(bind: issuer.description) AND e.status = 'requested'
            """).all().map { row in
            let e = try RowReader(row, "early_payments").earlyPayment
            let place = EarlyPaymentMarket.Offer.place(height: try row.decode(column: "block_height", as: Int64.self), position: try row.decode(column: "position", as: Int64.self))
            return (e, EarlyPaymentMarket.Offer(id: e.id, rateBps: e.rateBps, payoutFen: e.payoutFen, place: place, status: e.status))
        }
    }

    /// Approved early payments with no payment on a rail yet.
    package static func approvedWithoutPayment(on sql: any SQLDatabase) async throws -> [EarlyPayment] {
        try await sql.raw("""
            SELECT \(unsafeRaw: columns) FROM early_payments e
            WHERE e.status = 'approved' AND NOT EXISTS (SELECT 1 FROM rail_payments p WHERE p.subject_id = e.id AND p.kind = 'early_payment')
            ORDER BY e.id
            """).all().map { try RowReader($0, "early_payments").earlyPayment }
    }

    // MARK: - The market's own records

    static let programColumns = "org_id, active, hurdle_bps, daily_budget_fen, cutoff_time"

    static func program(_ row: any SQLRow) throws -> EarlyPaymentProgram {
        EarlyPaymentProgram(active: try row.decode(column: "active", as: Int64.self) == 1, hurdleBps: try row.decode(column: "hurdle_bps", as: Int64.self),
                            dailyBudgetFen: try row.decode(column: "daily_budget_fen", as: Int64.self), cutoffTime: try row.decode(column: "cutoff_time", as: String.self))
    }

    package static func program(of org: OrgID, on sql: any SQLDatabase) async throws -> EarlyPaymentProgram? {
        try await sql.raw("SELECT \(unsafeRaw: programColumns) FROM early_payment_programs WHERE org_id = \(bind: org.description)").first().map(program)
    }

    /// The cores whose program is on.
    package static func activePrograms(on sql: any SQLDatabase) async throws -> [(OrgID, EarlyPaymentProgram)] {
        try await sql.raw("SELECT \(unsafeRaw: programColumns) FROM early_payment_programs WHERE active = 1 ORDER BY org_id").all().map { row in
            guard let org = OrgID(try row.decode(column: "org_id", as: String.self)) else { throw StoreDamage("early_payment_programs.org_id") }
            return (org, try program(row))
        }
    }

    package static func save(_ p: EarlyPaymentProgram, of org: OrgID, by email: String, nowMs: Int64, on sql: any SQLDatabase) async throws {
        try await sql.raw("DELETE FROM early_payment_programs WHERE org_id = \(bind: org.description)").run()
        try await sql.raw("""
            INSERT INTO early_payment_programs (org_id, active, hurdle_bps, daily_budget_fen, cutoff_time, updated_ms, updated_by)
            VALUES (\(bind: org.description), \(bind: p.active ? 1 : 0), \(bind: p.hurdleBps), \(bind: p.dailyBudgetFen), \(bind: p.cutoffTime), \(bind: nowMs), \(bind: email))
            """).run()
    }

    /// The cash the issuer's approvals took on `date`.
    package static func spent(by issuer: OrgID, on date: BusinessDate, sql: any SQLDatabase) async throws -> Int64 {
        try await sql.totalFen("SELECT CAST(SUM(payout_fen) AS BIGINT) AS total FROM early_payment_takings WHERE issuer_id = \(bind: issuer.description) AND business_date = \(bind: date.description)")
    }

    /// Counts an early payment's payout against its issuer's day, before its approval is signed
    /// (again, on the day of this attempt, where an attempt that never signed counted it).
    package static func take(_ e: EarlyPayment, on date: BusinessDate, clearing: String?, nowMs: Int64, sql: any SQLDatabase) async throws {
        try await sql.raw("""
            INSERT INTO early_payment_takings (early_payment_id, issuer_id, business_date, payout_fen, clearing_id, at_ms)
            VALUES (\(bind: e.id.description), \(bind: e.issuerId.description), \(bind: date.description), \(bind: e.payoutFen), \(bind: clearing), \(bind: nowMs))
            ON CONFLICT (early_payment_id) DO UPDATE SET business_date = excluded.business_date, clearing_id = excluded.clearing_id, at_ms = excluded.at_ms
            """).run()
    }

    /// The ledger refused the approval: the payout is not spent.
    package static func untake(_ id: TxID, sql: any SQLDatabase) async throws {
        try await sql.raw("DELETE FROM early_payment_takings WHERE early_payment_id = \(bind: id.description)").run()
    }

    package struct ClearingRecord: Sendable {
        package var id: String
        package var issuerId: OrgID
        package var date: BusinessDate
        package var atMs: Int64
        package var source: String
        package var takenCount: Int64
        package var spentFen: Int64
        package var clearingRateBps: Int64?
        package var hurdleBps: Int64
        package var budgetLeftFen: Int64

        package init(id: String, issuerId: OrgID, date: BusinessDate, atMs: Int64, source: String, takenCount: Int64, spentFen: Int64,
                     clearingRateBps: Int64?, hurdleBps: Int64, budgetLeftFen: Int64) {
            self.id = id; self.issuerId = issuerId; self.date = date; self.atMs = atMs; self.source = source; self.takenCount = takenCount
            self.spentFen = spentFen; self.clearingRateBps = clearingRateBps; self.hurdleBps = hurdleBps; self.budgetLeftFen = budgetLeftFen
        }

        package var json: JSON {
            ["id": .string(id), "businessDate": .string(date.description), "at": .string(Time.rfc3339(atMs)), "source": .string(source),
             "takenCount": .int(takenCount), "spentFen": .int(spentFen), "clearingRateBps": clearingRateBps.map(JSON.int) ?? .null,
             "hurdleBps": .int(hurdleBps), "budgetLeftFen": .int(budgetLeftFen)]
        }
    }

    package static func record(_ c: ClearingRecord, on sql: any SQLDatabase) async throws {
        try await sql.raw("""
            INSERT INTO early_payment_clearings (id, issuer_id, business_date, at_ms, source, taken_count, spent_fen, clearing_rate_bps, hurdle_bps, budget_left_fen)
            VALUES (\(bind: c.id), \(bind: c.issuerId.description), \(bind: c.date.description), \(bind: c.atMs), \(bind: c.source), \(bind: c.takenCount),
                    \(bind: c.spentFen), \(bind: c.clearingRateBps), \(bind: c.hurdleBps), \(bind: c.budgetLeftFen))
            """).run()
    }

    /// The issuer's clearings, the latest first.
    package static func clearings(of issuer: OrgID, limit: Int, tookSomething: Bool = false, sql: any SQLDatabase) async throws -> [ClearingRecord] {
        try await sql.raw("""
            SELECT id, business_date, at_ms, source, taken_count, spent_fen, clearing_rate_bps, hurdle_bps, budget_left_fen FROM early_payment_clearings
            WHERE issuer_id = \(bind: issuer.description)\(unsafeRaw: tookSomething ? " AND taken_count > 0" : "") ORDER BY at_ms DESC, id LIMIT \(bind: limit)
            """).all().map { row in
            guard let date = BusinessDate(try row.decode(column: "business_date", as: String.self)) else { throw StoreDamage("early_payment_clearings.business_date") }
            return ClearingRecord(id: try row.decode(column: "id", as: String.self), issuerId: issuer, date: date, atMs: try row.decode(column: "at_ms", as: Int64.self),
                                  source: try row.decode(column: "source", as: String.self), takenCount: try row.decode(column: "taken_count", as: Int64.self),
                                  spentFen: try row.decode(column: "spent_fen", as: Int64.self), clearingRateBps: try row.decode(column: "clearing_rate_bps", as: Int64?.self),
                                  hurdleBps: try row.decode(column: "hurdle_bps", as: Int64.self), budgetLeftFen: try row.decode(column: "budget_left_fen", as: Int64.self))
        }
    }

    /// Whether the market cleared at its cut-off on `date` already.
    package static func clearedAtCutoff(_ issuer: OrgID, on date: BusinessDate, sql: any SQLDatabase) async throws -> Bool {
        try await sql.raw("SELECT 1 AS one FROM early_payment_clearings WHERE issuer_id = \(bind: issuer.description) AND business_date = \(bind: date.description) AND source = 'cutoff' LIMIT 1").first() != nil
    }

    /// What the issuer's paid early payments came to: the cash, the discount, and the cash
    /// weighted by the days it was paid early (for its yearly return).
    package struct Totals: Sendable {
        package var count: Int64 = 0
        package var amountFen: Int64 = 0
        package var payoutFen: Int64 = 0
        package var discountFen: Int64 = 0
        package var dayWeightedPayoutFen: Int128 = 0
        package var returnBps: Int64? { EarlyPaymentMarket.returnBps(discountFen: discountFen, dayWeightedPayoutFen: dayWeightedPayoutFen) }

        /// Summed here, not in SQL: payout × days can pass 2^63 over a long history.
        mutating func add(_ row: any SQLRow) throws {
            let payout = try row.decode(column: "payout_fen", as: Int64.self)
            count += 1
            amountFen += try row.decode(column: "amount_fen", as: Int64.self)
            payoutFen += payout
            discountFen += try row.decode(column: "discount_fen", as: Int64.self)
            dayWeightedPayoutFen += Int128(payout) * Int128(try row.decode(column: "days", as: Int64.self))
        }
    }

    /// The totals of every core's early payments approved or paid, by core (the regulator's overview).
    package static func totalsByIssuer(sql: any SQLDatabase) async throws -> [(OrgID, Totals)] {
        var by: [OrgID: Totals] = [:]
        for row in try await sql.raw("SELECT issuer_id, amount_fen, payout_fen, discount_fen, days FROM early_payments WHERE status IN ('approved', 'paid')").all() {
            guard let issuer = OrgID(try row.decode(column: "issuer_id", as: String.self)) else { throw StoreDamage("early_payments.issuer_id") }
            try by[issuer, default: Totals()].add(row)
        }
        return by.sorted { $0.key.description < $1.key.description }
    }

    /// Every early payment of a receivable that `viewer` may see, the latest first.
    package static func of(receivable: TxID, visibleTo viewer: Viewer, on sql: any SQLDatabase) async throws -> [EarlyPayment] {
        var query: SQLQueryString = "SELECT \(unsafeRaw: columns) FROM early_payments e WHERE e.receivable_id = \(bind: receivable.description) AND "
        query += visible(viewer)
        return try await sql.raw(query + " ORDER BY e.requested_on DESC, e.id").all().map { try RowReader($0, "early_payments").earlyPayment }
    }

    /// The totals of the early payments approved or paid of `org` — as issuer for a core, as
    /// supplier for a supplier; nil: everyone's.
    package static func totals(of org: OrgID?, role: OrgRole, sql: any SQLDatabase) async throws -> Totals {
        var query: SQLQueryString = "SELECT amount_fen, payout_fen, discount_fen, days FROM early_payments WHERE status IN ('approved', 'paid')"
        if let org { query += role == .supplier ? " AND supplier_id = \(bind: org.description)" : " AND issuer_id = \(bind: org.description)" }
        var t = Totals()
        for row in try await sql.raw(query).all() { try t.add(row) }
        return t
    }
}
