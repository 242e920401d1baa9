import Foundation
import Ledger
import SQLKit

/// One projection row read back into the ledger's own types: the inverse of `Projection.row`.
/// A row that does not parse is a damaged database, reported as such, never guessed at.
package struct RowReader {
    package let row: any SQLRow
    package let table: String

    package init(_ row: any SQLRow, _ table: String) {
        self.row = row
        self.table = table
    }

    package func text(_ c: String) throws -> String? { try row.decodeNil(column: c) ? nil : try row.decode(column: c, as: String.self) }
    package func int(_ c: String) throws -> Int64 { try row.decode(column: c, as: Int64.self) }

    package func parsed<T>(_ c: String, _ parse: (String) -> T?) throws -> T {
        guard let text = try text(c), let v = parse(text) else { throw StoreDamage("\(table).\(c) is missing or unreadable") }
        return v
    }

    package func optional<T>(_ c: String, _ parse: (String) -> T?) throws -> T? {
        guard let text = try text(c) else { return nil }
        guard let v = parse(text) else { throw StoreDamage("\(table).\(c) is unreadable: \(text)") }
        return v
    }

    package var token: Token {
        get throws {
            Token(id: try parsed("id", TokenID.init), receivableId: try parsed("receivable_id", TxID.init), parentId: try optional("parent_id", TokenID.init),
                  holderId: try parsed("holder_id", OrgID.init), amountFen: try int("amount_fen"), tier: try int("tier"),
                  status: try parsed("status", TokenStatus.init(rawValue:)), createdTx: try parsed("created_tx", TxID.init),
                  spentTx: try optional("spent_tx", TxID.init), createdOn: try parsed("created_on", BusinessDate.init))
        }
    }

    /// Read as the projection writes it (every column of `Projection.receivables`).
    package var receivable: Receivable {
        get throws { try projected(Projection.receivables, Projection.receivable) }
    }

    /// Read as the projection writes it (every column of `Projection.financings`).
    package var financing: Financing {
        get throws { try projected(Projection.financings, Projection.financing) }
    }

    /// Read as the projection writes it (every column of `Projection.earlyPayments`).
    package var earlyPayment: EarlyPayment {
        get throws { try projected(Projection.earlyPayments, Projection.earlyPayment) }
    }

    private func projected<T>(_ table: Projection.Table, _ read: ([Cell]) throws -> T) throws -> T {
        do {
            return try read(try Projection.cells(row, of: table))
        } catch let error as Projection.RowError {
            throw StoreDamage("\(self.table): \(error.description)")
        }
    }

    package var creditLine: CreditLine {
        get throws {
            CreditLine(id: try parsed("id", TxID.init), bankId: try parsed("bank_id", OrgID.init), coreId: try parsed("core_id", OrgID.init),
                       limitFen: try int("limit_fen"), usedFen: try int("used_fen"), rateBps: try int("rate_bps"),
                       expiresOn: try parsed("expires_on", BusinessDate.init), status: try parsed("status", CreditLineStatus.init(rawValue:)),
                       createdTx: try parsed("created_tx", TxID.init))
        }
    }

    /// `{id, name, role, creditCode, status, inDefault, defaultReason}`: what every signed-in org
    /// may know of another (a recorded default is public: it is disclosed, SPEC §5).
    package var org: JSON {
        get throws {
            ["id": .string(try parsed("id", { $0 })), "name": .string(try parsed("name", { $0 })), "role": .string(try parsed("role", { $0 })),
             "creditCode": .string(try parsed("credit_code", { $0 })), "status": .string(try parsed("status", { $0 })),
             "inDefault": .bool(try int("in_default") == 1), "defaultReason": try text("default_reason").map(JSON.string) ?? .null]
        }
    }
}

/// The database holds something the projections never write: reported, not hidden.
package struct StoreDamage: Error, CustomStringConvertible {
    package var description: String
    package init(_ description: String) { self.description = description }
}

extension Projection.Table {
    /// `t.a, t.b, …` for a SELECT.
    package func select(_ alias: String) -> String { columns.map { "\(alias).\($0)" }.joined(separator: ", ") }
}

extension SQLDatabase {
    /// The `total` column of the first row of `query` (a `SUM` in fen), 0 when there are no rows
    /// or the sum is NULL.
    package func totalFen(_ query: SQLQueryString) async throws -> Int64 {
        guard let row = try await raw(query).first(), !(try row.decodeNil(column: "total")) else { return 0 }
        return try row.decode(column: "total", as: Int64.self)
    }

    /// The height of the last stored block: genesis is 0, and -1 before it.
    package func storedHeight() async throws -> Int64 {
        let row = try await raw("SELECT MAX(height) AS height FROM blocks").first()
        return try row.flatMap { try $0.decodeNil(column: "height") ? nil : try $0.decode(column: "height", as: Int64.self) } ?? -1
    }
}
