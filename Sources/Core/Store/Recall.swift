import Foundation
import Ledger
import SQLKit

/// Reading ledger objects back from their projection rows: what a live state recalls when a
/// transaction refers to something it retired. The inverse of `Projection.row`.
extension Projection {
    package struct RowError: Error, CustomStringConvertible {
        package var description: String
    }

    package struct Reader {
        package let table: Table
        package let row: [Cell]

        package func cell(_ column: String) throws -> Cell {
            guard let i = table.columns.firstIndex(of: column), i < row.count else { throw RowError(description: "\(table.name) has no column \(column)") }
            return row[i]
        }
        package func text(_ column: String) throws -> String {
            guard case .text(let s) = try cell(column) else { throw RowError(description: "\(table.name).\(column) is not text") }
            return s
        }
        package func optionalText(_ column: String) throws -> String? {
            if case .null = try cell(column) { return nil }
            return try text(column)
        }
        package func flag(_ column: String) throws -> Bool {
            switch try int(column) {
            case 0: return false
            case 1: return true
            case let n: throw RowError(description: "\(table.name).\(column) holds \(n), not 0 or 1")
            }
        }
        package func int(_ column: String) throws -> Int64 {
            guard case .int(let n) = try cell(column) else { throw RowError(description: "\(table.name).\(column) is not an integer") }
            return n
        }
        package func parsed<T>(_ column: String, _ make: (String) -> T?) throws -> T {
            let s = try text(column)
            guard let value = make(s) else { throw RowError(description: "\(table.name).\(column) holds \(s)") }
            return value
        }
        package func optional<T>(_ column: String, _ make: (String) -> T?) throws -> T? {
            try optionalText(column) == nil ? nil : try parsed(column, make)
        }
    }

    package static func token(_ row: [Cell]) throws -> Token {
        let r = Reader(table: tokens, row: row)
        return Token(id: try r.parsed("id", TokenID.init), receivableId: try r.parsed("receivable_id", TxID.init),
                     parentId: try r.optional("parent_id", TokenID.init), holderId: try r.parsed("holder_id", OrgID.init),
                     amountFen: try r.int("amount_fen"), tier: try r.int("tier"), status: try r.parsed("status", TokenStatus.init),
                     createdTx: try r.parsed("created_tx", TxID.init), spentTx: try r.optional("spent_tx", TxID.init),
                     createdOn: try r.parsed("created_on", BusinessDate.init))
    }

    package static func receivable(_ row: [Cell]) throws -> Receivable {
        let r = Reader(table: receivables, row: row)
        let documents = try r.parsed("documents") { text -> [Document]? in
            guard case .array(let items)? = try? JSON.parse(text) else { return nil }
            let parsed = items.compactMap { d -> Document? in
                guard let kind = d["kind"]?.stringValue.flatMap(DocumentKind.init), let sha = d["sha256"]?.stringValue else { return nil }
                return Document(kind: kind, sha256: sha, number: d["number"]?.stringValue, fileName: d["fileName"]?.stringValue)
            }
            return parsed.count == items.count ? parsed : nil
        }
        return Receivable(id: try r.parsed("id", TxID.init), number: try r.text("number"), issuerId: try r.parsed("issuer_id", OrgID.init),
                          firstHolderId: try r.parsed("first_holder_id", OrgID.init), creditLineId: try r.parsed("credit_line_id", TxID.init),
                          faceFen: try r.int("face_fen"), paidFen: try r.int("paid_fen"), issueDate: try r.parsed("issue_date", BusinessDate.init),
                          dueDate: try r.parsed("due_date", BusinessDate.init), documents: documents, memo: try r.optionalText("memo"),
                          status: try r.parsed("status", ReceivableStatus.init), firstTokenId: try r.parsed("first_token_id", TokenID.init),
                          termReview: try r.flag("term_review"), overdueOn: try r.optional("overdue_on", BusinessDate.init))
    }

    package static func financing(_ row: [Cell]) throws -> Financing {
        let r = Reader(table: financings, row: row)
        return Financing(id: try r.parsed("id", TxID.init), tokenId: try r.parsed("token_id", TokenID.init),
                         receivableId: try r.parsed("receivable_id", TxID.init), supplierId: try r.parsed("supplier_id", OrgID.init),
                         bankId: try r.parsed("bank_id", OrgID.init), creditLineId: try r.parsed("credit_line_id", TxID.init),
                         amountFen: try r.int("amount_fen"), rateBps: try r.int("rate_bps"), days: try r.int("days"),
                         interestFen: try r.int("interest_fen"), payoutFen: try r.int("payout_fen"),
                         status: try r.parsed("status", FinancingStatus.init), requestedOn: try r.parsed("requested_on", BusinessDate.init),
                         bankTokenId: try r.optional("bank_token_id", TokenID.init), payoutReference: try r.optionalText("payout_reference"),
                         recourse: try r.flag("recourse"), filing: try filing(r), termReview: try r.optionalText("term_review_reason"))
    }

    package static func earlyPayment(_ row: [Cell]) throws -> EarlyPayment {
        let r = Reader(table: earlyPayments, row: row)
        return EarlyPayment(id: try r.parsed("id", TxID.init), tokenId: try r.parsed("token_id", TokenID.init),
                            receivableId: try r.parsed("receivable_id", TxID.init), supplierId: try r.parsed("supplier_id", OrgID.init),
                            issuerId: try r.parsed("issuer_id", OrgID.init), amountFen: try r.int("amount_fen"), rateBps: try r.int("rate_bps"),
                            days: try r.int("days"), discountFen: try r.int("discount_fen"), payoutFen: try r.int("payout_fen"),
                            status: try r.parsed("status", EarlyPaymentStatus.init), requestedOn: try r.parsed("requested_on", BusinessDate.init),
                            reference: try r.optionalText("reference"))
    }

    private static func filing(_ r: Reader) throws -> Filing? {
        guard let number = try r.optionalText("filing_number") else { return nil }
        return Filing(number: number, filedOn: try r.parsed("filed_on", BusinessDate.init))
    }

    /// A stored row's cells, in the table's column order.
    package static func cells(_ row: any SQLRow, of table: Table) throws -> [Cell] {
        try table.columns.map { column -> Cell in
            if try row.decodeNil(column: column) { return .null }
            return table.isInteger.contains(column) ? .int(try row.decode(column: column, as: Int64.self))
                : .text(try row.decode(column: column, as: String.self))
        }
    }
}

extension LedgerStore {
    /// The rows of `table` whose first column is one of `keys`, made by a transaction (`madeBy`)
    /// in a block up to `height`: a state at that height recalls nothing the chain made later.
    package func rows(of table: Projection.Table, keys: [String], madeBy: String, upTo height: Int64) async throws -> [[Cell]] {
        var out: [[Cell]] = []
        let columns = table.columns.map { "o." + $0 }.joined(separator: ", ")
        for chunk in keys.chunked(500) {
            let list = SQLList(chunk.map { SQLBind($0) })
            let rows = try await sql.raw("""
                SELECT \(unsafeRaw: columns) FROM \(ident: table.name) o JOIN transactions x ON x.id = o.\(unsafeRaw: madeBy)
                WHERE o.\(unsafeRaw: table.columns[0]) IN (\(list)) AND x.block_height <= \(bind: height)
                """).all()
            out += try rows.map { try Projection.cells($0, of: table) }
        }
        return out
    }

    /// What the database holds of what a live state at block `height` asks for. A retired object
    /// no longer changes (it is spent, settled or closed), so its row is as it stood then.
    package func recall(_ asked: Recall, upTo height: Int64) async throws -> Recalled {
        var found = Recalled()
        found.tokens = try await rows(of: Projection.tokens, keys: asked.tokens.map(\.description), madeBy: "created_tx", upTo: height).map(Projection.token)
        found.receivables = try await rows(of: Projection.receivables, keys: asked.receivables.map(\.description), madeBy: "id", upTo: height).map(Projection.receivable)
        found.financings = try await rows(of: Projection.financings, keys: asked.financings.map(\.description), madeBy: "id", upTo: height).map(Projection.financing)
        found.earlyPayments = try await rows(of: Projection.earlyPayments, keys: asked.earlyPayments.map(\.description), madeBy: "id", upTo: height)
            .map(Projection.earlyPayment)
        for chunk in Array(asked.transactionIds).chunked(500) {
            let list = SQLList(chunk.map { SQLBind($0.description) })
            found.transactionIds += try await sql.raw("SELECT id FROM transactions WHERE id IN (\(list)) AND block_height <= \(bind: height)").all()
                .compactMap { TxID(try $0.decode(column: "id", as: String.self)) }
        }
        return found
    }

    /// Recalls into `state` everything `transactions` refer to that it retired, following what
    /// recalled objects refer to in turn, until nothing new is asked for.
    package func prepare(_ state: inout LedgerState, at height: Int64, for transactions: [Transaction]) async throws {
        guard state.isLive else { return }
        var asked = Recall()
        while let fresh = state.missing(for: transactions).fresh(after: &asked) {
            state.recall(try await recall(fresh, upTo: height))
        }
    }
}
