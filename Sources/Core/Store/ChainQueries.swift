import Foundation
import Ledger
import SQLKit

/// The stored chain as the API and the console show it: block headers (to the regulator and the
/// operator), one transaction (to its parties), the operator's key for checking a receipt.
package enum ChainQueries {
    /// A block's header as stored.
    package struct Header: Sendable {
        package var height: Int64
        package var hash: String
        package var prevHash: String
        package var txRoot: String
        package var txCount: Int64
        package var timeMs: Int64
        package var signature: String
    }

    /// A transaction as stored, with where it sits in the chain.
    package struct StoredTransaction: Sendable {
        package var id: TxID
        package var blockHeight: Int64
        package var position: Int64
        package var type: String
        package var orgId: String
        package var timeMs: Int64
        /// The body's canonical JSON text, as signed.
        package var body: String
        package var signature: String
    }

    static let headerColumns = "height, hash, prev_hash, tx_root, tx_count, time_ms, signature"

    static func header(_ row: any SQLRow) throws -> Header {
        Header(height: try row.decode(column: "height", as: Int64.self), hash: try row.decode(column: "hash", as: String.self),
               prevHash: try row.decode(column: "prev_hash", as: String.self), txRoot: try row.decode(column: "tx_root", as: String.self),
               txCount: try row.decode(column: "tx_count", as: Int64.self), timeMs: try row.decode(column: "time_ms", as: Int64.self),
               signature: try row.decode(column: "signature", as: String.self))
    }

    /// Block headers in height order, a page at a time.
    package static func headers(page: Page, on sql: any SQLDatabase) async throws -> Page.Rows<Header> {
        try await page.rows("SELECT \(unsafeRaw: headerColumns) FROM blocks WHERE 1 = 1", keys: ["height"], on: sql) { row in
            let h = try header(row)
            return (h, [.int(h.height)])
        }
    }

    /// The latest `limit` block headers, newest first.
    package static func latestHeaders(limit: Int, on sql: any SQLDatabase) async throws -> [Header] {
        try await Slice(limit: limit).rows("SELECT \(unsafeRaw: headerColumns) FROM blocks WHERE 1 = 1", order: "height DESC", on: sql, header)
    }

    /// The header at `height`, and its transactions' ids, types and signers in order.
    package static func block(at height: Int64, on sql: any SQLDatabase) async throws -> (header: Header, transactions: [(id: String, type: String, orgId: String)])? {
        guard let row = try await sql.raw("SELECT \(unsafeRaw: headerColumns) FROM blocks WHERE height = \(bind: height)").first() else { return nil }
        let transactions = try await sql.raw("SELECT id, type, org_id FROM transactions WHERE block_height = \(bind: height) ORDER BY position").all().map {
            (try $0.decode(column: "id", as: String.self), try $0.decode(column: "type", as: String.self), try $0.decode(column: "org_id", as: String.self))
        }
        return (try header(row), transactions)
    }

    /// The height of the block holding a stored transaction; nil for one not in the chain.
    package static func height(of transaction: TxID, on sql: any SQLDatabase) async throws -> Int64? {
        try await sql.raw("SELECT block_height FROM transactions WHERE id = \(bind: transaction.description)").first()
            .map { try $0.decode(column: "block_height", as: Int64.self) }
    }

    /// About `count` transaction ids picked at random from a PostgreSQL chain (a 1 % sample of its
    /// pages): what `cascade bench scale` asks proofs of.
    package static func sampleTransactionIds(count: Int, on sql: any SQLDatabase) async throws -> [String] {
        try await sql.raw("SELECT id FROM transactions TABLESAMPLE SYSTEM (1) LIMIT \(literal: count)").all().map { try $0.decode(column: "id", as: String.self) }
    }

    /// The hash of the stored block at `height`, if there is one.
    package static func hash(at height: Int64, on sql: any SQLDatabase) async throws -> String? {
        try await sql.raw("SELECT hash FROM blocks WHERE height = \(bind: height)").first().map { try $0.decode(column: "hash", as: String.self) }
    }

    /// The transaction, if `viewer` is one of its parties, holds a token it made, or sees
    /// everything; to anyone else it does not exist.
    package static func transaction(_ id: TxID, visibleTo viewer: Viewer, on sql: any SQLDatabase) async throws -> StoredTransaction? {
        guard let row = try await sql.raw("SELECT id, block_height, position, type, org_id, time_ms, body, signature FROM transactions WHERE id = \(bind: id.description)").first() else {
            return nil
        }
        let stored = StoredTransaction(id: id, blockHeight: try row.decode(column: "block_height", as: Int64.self), position: try row.decode(column: "position", as: Int64.self),
                                       type: try row.decode(column: "type", as: String.self), orgId: try row.decode(column: "org_id", as: String.self),
                                       timeMs: try row.decode(column: "time_ms", as: Int64.self), body: try row.decode(column: "body", as: String.self),
                                       signature: try row.decode(column: "signature", as: String.self))
        if !viewer.seesAll {
            let body = try TransactionBody(json: try JSON.parse(stored.body))
            let holders = try await sql.raw("SELECT holder_id FROM tokens WHERE created_tx = \(bind: id.description)").all()
                .map { try $0.decode(column: "holder_id", as: String.self) }
            guard body.parties.contains(viewer.orgId) || holders.contains(viewer.orgId.description) else { return nil }
        }
        return stored
    }

    /// The key the operator registered with: the one that signs every block.
    package static func operatorKey(on sql: any SQLDatabase) async throws -> [UInt8]? {
        guard let row = try await sql.raw("SELECT public_key FROM orgs WHERE role = 'operator'").first() else { return nil }
        return Base64.decode(try row.decode(column: "public_key", as: String.self))
    }

    /// The chain's crypto profile, as block 0 names it (the standard one when it names none, or
    /// before genesis).
    package static func profile(on sql: any SQLDatabase) async throws -> CryptoProfile {
        guard let row = try await sql.raw("SELECT profile FROM blocks WHERE height = 0").first(),
              let name = try row.decode(column: "profile", as: String?.self) else { return .standard }
        return try CryptoProfile(named: name)
    }

    /// Those of `ids` that name a stored transaction, in their order.
    package static func stored(_ ids: [String], on sql: any SQLDatabase) async throws -> [String] {
        var found: [String] = []
        for id in ids where try await sql.raw("SELECT id FROM transactions WHERE id = \(bind: id)").first() != nil { found.append(id) }
        return found
    }
}
