import Core
import Foundation
import Ledger
import SQLKit
import Vapor

/// CSV exports, UTF-8 with a byte-order mark so spreadsheet software shows Chinese correctly,
/// streamed a page of rows at a time so a large export never sits in memory whole. Each export
/// shows what its caller may see, as the lists do.
package enum ExportController {
    package static let pageSize = 1_000

    package static func cell(_ s: String) -> String {
        // Quote every field; a leading = + - @, tab or carriage return is defused so a spreadsheet
        // never runs it as a formula (OWASP's CSV injection advice).
        var v = s.replacingOccurrences(of: "\"", with: "\"\"")
        if let first = v.unicodeScalars.first, "=+-@\t\r".unicodeScalars.contains(first), Int64(v) == nil { v = "'" + v }
        return "\"" + v + "\""
    }

    package static func line(_ cells: [String]) -> ByteBuffer { ByteBuffer(string: cells.map(cell).joined(separator: ",") + "\r\n") }

    package static func yuan(_ fen: Int64) -> String { String(Money.format(fen).dropFirst()).replacingOccurrences(of: ",", with: "") }

    /// Streams `header`, then the rows of `query` (which ends in a WHERE clause) in pages ordered by `key`.
    package static func stream(_ req: Request, name: String, header: [String], query: SQLQueryString, key: String, integerKey: Bool = false,
                       row: @escaping @Sendable (any SQLRow, [String: String]) throws -> [String]) async throws -> Response {
        let sql = req.application.sql
        let names = try await ReceivableQueries.orgNames(on: sql)
        var headers = HTTPHeaders()
        headers.replaceOrAdd(name: .contentType, value: "text/csv; charset=utf-8")
        headers.replaceOrAdd(name: .contentDisposition, value: "attachment; filename=\"\(name)\"")
        let keyColumn = key.split(separator: ".").last.map(String.init) ?? key
        return Response(status: .ok, headers: headers, body: .init(managedAsyncStream: { writer in
            try await writer.writeBuffer(ByteBuffer(bytes: [0xEF, 0xBB, 0xBF]))
            try await writer.writeBuffer(line(header))
            var after: (any Encodable & Sendable)?
            while true {
                var q = query
                if let after { q += " AND \(unsafeRaw: key) > \(bind: after)" }
                q += " ORDER BY \(unsafeRaw: key) LIMIT \(literal: pageSize)"
                let rows = try await sql.raw(q).all()
                var chunk = ByteBuffer()
                for r in rows {
                    var l = line(try row(r, names))
                    chunk.writeBuffer(&l)
                }
                if chunk.readableBytes > 0 { try await writer.writeBuffer(chunk) }
                guard rows.count == pageSize, let last = rows.last else { return }
                after = integerKey ? try last.decode(column: keyColumn, as: Int64.self) : try last.decode(column: keyColumn, as: String.self)
            }
        }, count: -1))
    }

    @Sendable package static func receivables(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        var query: SQLQueryString = "SELECT \(unsafeRaw: ReceivableQueries.columns) FROM receivables r WHERE "
        query += ReceivableQueries.visible(viewer)
        return try await stream(req, name: "receivables.csv",
                                header: ["编号 number", "开立方 issuer", "首位持有方 first holder", "票面金额(元) face", "已兑付(元) paid", "开立日 issue date", "到期日 due date", "状态 status", "发票 invoices", "备注 memo", "id"],
                                query: query, key: "r.id") { row, names in
            let r = try RowReader(row, "receivables").receivable
            return [r.number, names[r.issuerId.description] ?? "", names[r.firstHolderId.description] ?? "", yuan(r.faceFen), yuan(r.paidFen), r.issueDate.description,
                    r.dueDate.description, r.status.rawValue, r.documents.compactMap(\.number).joined(separator: " "), r.memo ?? "", r.id.description]
        }
    }

    @Sendable package static func tokens(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        var query: SQLQueryString = "SELECT \(unsafeRaw: Projection.tokens.select("t")), r.number AS number FROM tokens t JOIN receivables r ON r.id = t.receivable_id WHERE "
        query += viewer.seesAll ? "1 = 1" : "t.holder_id = \(bind: viewer.orgId.description)"
        return try await stream(req, name: "tokens.csv",
                                header: ["凭证 token", "应收账款 receivable", "持有方 holder", "金额(元) amount", "层级 tier", "状态 status", "上级 parent", "创建日 created", "创建交易 created tx"],
                                query: query, key: "t.id") { row, names in
            let t = try RowReader(row, "tokens").token
            return [t.id.description, try row.decode(column: "number", as: String.self), names[t.holderId.description] ?? "", yuan(t.amountFen), String(t.tier),
                    t.status.rawValue, t.parentId?.description ?? "", t.createdOn.description, t.createdTx.description]
        }
    }

    @Sendable package static func financings(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        var query: SQLQueryString = "SELECT \(unsafeRaw: FinancingQueries.columns) FROM financings f WHERE "
        query += FinancingQueries.visible(viewer)
        return try await stream(req, name: "financings.csv",
                                header: ["融资 financing", "供应商 supplier", "银行 bank", "金额(元) amount", "年化利率 rate", "天数 days", "利息(元) interest", "到账(元) payout", "状态 status", "申请日 requested", "放款流水 reference"],
                                query: query, key: "f.id") { row, names in
            let f = try RowReader(row, "financings").financing
            return [f.id.description, names[f.supplierId.description] ?? "", names[f.bankId.description] ?? "", yuan(f.amountFen), Presenter.rate(f.rateBps), String(f.days),
                    yuan(f.interestFen), yuan(f.payoutFen), f.status.rawValue, f.requestedOn.description, f.payoutReference ?? ""]
        }
    }

    /// The clearing list of one receivable: who is to be paid how much at maturity.
    @Sendable package static func clearing(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        let r = try await ReceivableController.find(req, viewer)
        var query: SQLQueryString = "SELECT \(unsafeRaw: Projection.tokens.columns.joined(separator: ", ")) FROM tokens WHERE receivable_id = \(bind: r.id.description) AND status IN ('pending', 'active', 'locked', 'settled')"
        if !(viewer.seesAll || r.issuerId == viewer.orgId) { query += " AND holder_id = \(bind: viewer.orgId.description)" }
        let number = r.number, due = r.dueDate.description
        return try await stream(req, name: "clearing-\(r.number).csv", header: ["应收账款 receivable", "到期日 due", "凭证 token", "持有方 holder", "层级 tier", "金额(元) amount", "状态 status"],
                                query: query, key: "id") { row, names in
            let t = try RowReader(row, "tokens").token
            return [number, due, t.id.description, names[t.holderId.description] ?? "", String(t.tier), yuan(t.amountFen), t.status.rawValue]
        }
    }

    /// Approved financings in the fields the PBoC credit reference centre's movable-property
    /// financing registry (动产融资统一登记公示系统) asks for about an assignment of receivables:
    /// the assignor and assignee with their credit codes, the amount, the term, and a
    /// description of the receivable. One row a financing.
    @Sendable package static func registry(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        guard viewer.seesAll || viewer.role == .bank else { throw Problem(.forbidden, "the registry filing is for the financing bank, the regulator and the operator") }
        var query: SQLQueryString = """
            SELECT f.id AS id, f.amount_fen, f.requested_on, f.rate_bps, f.days, f.status, s.name AS supplier_name, s.credit_code AS supplier_code,
                   b.name AS bank_name, b.credit_code AS bank_code, c.name AS core_name, c.credit_code AS core_code, r.number, r.due_date, r.face_fen, r.documents
            FROM financings f JOIN orgs s ON s.id = f.supplier_id JOIN orgs b ON b.id = f.bank_id JOIN receivables r ON r.id = f.receivable_id JOIN orgs c ON c.id = r.issuer_id
            WHERE f.status IN ('approved', 'paid') AND
            """
        query += viewer.role == .bank ? " f.bank_id = \(bind: viewer.orgId.description)" : " 1 = 1"
        return try await stream(req, name: "registry-filing.csv",
                                header: ["登记类型 registration type", "出质人/转让人 assignor", "转让人统一社会信用代码 assignor credit code", "受让人 assignee", "受让人统一社会信用代码 assignee credit code",
                                         "主合同金额(元) amount", "登记期限起 term start", "登记期限止 term end", "应收账款债务人 debtor", "债务人统一社会信用代码 debtor credit code",
                                         "财产描述 description", "融资编号 financing"],
                                query: query, key: "f.id") { row, _ in
            func s(_ c: String) throws -> String { try row.decode(column: c, as: String.self) }
            let invoices = (try? JSON.parse(try s("documents")))?.arrayValue?.compactMap { $0["number"]?.stringValue }.joined(separator: " ") ?? ""
            let description = "应收账款转让（保理）：\(try s("core_name")) 开立的应收账款债权凭证 \(try s("number"))，票面 \(yuan(try row.decode(column: "face_fen", as: Int64.self))) 元，"
                + "\(try s("due_date")) 到期" + (invoices.isEmpty ? "" : "，发票 \(invoices)")
            return ["应收账款转让", try s("supplier_name"), try s("supplier_code"), try s("bank_name"), try s("bank_code"), yuan(try row.decode(column: "amount_fen", as: Int64.self)),
                    try s("requested_on"), try s("due_date"), try s("core_name"), try s("core_code"), description, try s("id")]
        }
    }

    /// The audit log: all of it for the operator and the regulator, its own org's for an org's
    /// admin (what the operator did to the org included). `?action=` filters.
    @Sendable package static func audit(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        var query: SQLQueryString = "SELECT seq, time_ms, action, org_id, user_id, email, address, detail FROM audit_log WHERE "
        query += try viewer.auditScope()
        if let action = try req.queryText("action", maxLength: 40) { query += " AND action = \(bind: action)" }
        return try await stream(req, name: "audit-log.csv", header: ["序号 seq", "时间 time (UTC+8)", "操作 action", "机构 org", "邮箱 email", "地址 address", "详情 detail"],
                                query: query, key: "seq", integerKey: true) { row, names in
            func s(_ c: String) throws -> String { try row.decodeNil(column: c) ? "" : try row.decode(column: c, as: String.self) }
            return [String(try row.decode(column: "seq", as: Int64.self)), Time.local(try row.decode(column: "time_ms", as: Int64.self)), try s("action"), names[try s("org_id")] ?? "", try s("email"), try s("address"), try s("detail")]
        }
    }
}
