import Foundation
import Ledger
import SQLKit

/// What happened to an org: the `events` the block writer records for each org a transaction
/// concerns. Read by the API's feed (oldest first, from a sequence number on) and the console's
/// dashboard and events page (newest first); each org reads only its own.
package enum EventQueries {
    package struct Event: Sendable, Equatable {
        package var seq: Int64
        package var timeMs: Int64
        package var type: String
        package var transactionId: String
        package var summary: String
        /// The summary in Chinese, where the writer made one.
        package var summaryZh: String?

        package func summary(chinese: Bool) -> String { chinese ? summaryZh ?? summary : summary }
    }

    static let columns = "seq, time_ms, type, transaction_id, summary, summary_zh"

    static func event(_ row: any SQLRow) throws -> Event {
        Event(seq: try row.decode(column: "seq", as: Int64.self), timeMs: try row.decode(column: "time_ms", as: Int64.self),
              type: try row.decode(column: "type", as: String.self), transactionId: try row.decode(column: "transaction_id", as: String.self),
              summary: try row.decode(column: "summary", as: String.self), summaryZh: try row.decode(column: "summary_zh", as: String?.self))
    }

    /// The viewer's org's events in the order they happened, a page at a time.
    package static func inOrder(for viewer: Viewer, page: Page, on sql: any SQLDatabase) async throws -> Page.Rows<Event> {
        try await page.rows("SELECT \(unsafeRaw: columns) FROM events WHERE org_id = \(bind: viewer.orgId.description)", keys: ["seq"], on: sql) {
            let event = try Self.event($0)
            return (event, [.int(event.seq)])
        }
    }

    /// The viewer's org's latest events, newest first: `limit` of them after skipping `offset`.
    package static func latest(for viewer: Viewer, limit: Int, offset: Int = 0, on sql: any SQLDatabase) async throws -> [Event] {
        try await Slice(limit: limit, offset: offset).rows("SELECT \(unsafeRaw: columns) FROM events WHERE org_id = \(bind: viewer.orgId.description)",
                                                          order: "seq DESC", on: sql, event)
    }
}
