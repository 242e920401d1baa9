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

    /// Streams `header`, then every row the query gives, a page of `pageSize` at a time.
    package static func stream<Row>(_ req: Request, name: String, header: [String],
                                    pages: @escaping @Sendable (Page) async throws -> Page.Rows<Row>,
                                    row: @escaping @Sendable (Row, [String: String]) throws -> [String]) async throws -> Response {
        let names = try await ReceivableQueries.orgNames(on: req.application.sql)
        var headers = HTTPHeaders()
        headers.replaceOrAdd(name: .contentType, value: "text/csv; charset=utf-8")
        headers.replaceOrAdd(name: .contentDisposition, value: "attachment; filename=\"\(name)\"")
        return Response(status: .ok, headers: headers, body: .init(managedAsyncStream: { writer in
            try await writer.writeBuffer(ByteBuffer(bytes: [0xEF, 0xBB, 0xBF]))
            try await writer.writeBuffer(line(header))
            var page: Page? = Page(limit: pageSize)
            while let current = page {
                let rows = try await pages(current)
                var chunk = ByteBuffer()
                for r in rows.items {
                    var l = line(try row(r, names))
                    chunk.writeBuffer(&l)
                }
                if chunk.readableBytes > 0 { try await writer.writeBuffer(chunk) }
                page = rows.next(limit: pageSize)
            }
        }, count: -1))
    }

    @Sendable package static func receivables(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        let sql = req.application.sql
        return try await stream(req, name: "receivables.csv",
                                header: ["编号 number", "开立方 issuer", "首位持有方 first holder", "票面金额(元) face", "已兑付(元) paid", "开立日 issue date", "到期日 due date", "状态 status", "发票 invoices", "备注 memo", "id"],
                                pages: { try await ReceivableQueries.all(visibleTo: viewer, page: $0, on: sql) }) { r, names in
            [r.number, names[r.issuerId.description] ?? "", names[r.firstHolderId.description] ?? "", yuan(r.faceFen), yuan(r.paidFen), r.issueDate.description,
                    r.dueDate.description, r.status.rawValue, r.documents.compactMap(\.number).joined(separator: " "), r.memo ?? "", r.id.description]
        }
    }

    @Sendable package static func tokens(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        let sql = req.application.sql
        return try await stream(req, name: "tokens.csv",
                                header: ["凭证 token", "应收账款 receivable", "持有方 holder", "金额(元) amount", "层级 tier", "状态 status", "上级 parent", "创建日 created", "创建交易 created tx"],
                                pages: { try await TokenQueries.all(visibleTo: viewer, page: $0, on: sql) }) { item, names in
            let t = item.token
            return [t.id.description, item.number, names[t.holderId.description] ?? "", yuan(t.amountFen), String(t.tier),
                    t.status.rawValue, t.parentId?.description ?? "", t.createdOn.description, t.createdTx.description]
        }
    }

    @Sendable package static func financings(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        let sql = req.application.sql
        return try await stream(req, name: "financings.csv",
                                header: ["融资 financing", "供应商 supplier", "银行 bank", "金额(元) amount", "年化利率 rate", "天数 days", "利息(元) interest", "到账(元) payout", "状态 status", "申请日 requested", "放款流水 reference"],
                                pages: { try await FinancingQueries.all(visibleTo: viewer, page: $0, on: sql) }) { f, names in
            [f.id.description, names[f.supplierId.description] ?? "", names[f.bankId.description] ?? "", yuan(f.amountFen), Presenter.rate(f.rateBps), String(f.days),
                    yuan(f.interestFen), yuan(f.payoutFen), f.status.rawValue, f.requestedOn.description, f.payoutReference ?? ""]
        }
    }

    /// The clearing list of one receivable: who is to be paid how much at maturity.
    @Sendable package static func clearing(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        let r = try await ReceivableController.find(req, viewer)
        let sql = req.application.sql
        let number = r.number, due = r.dueDate.description
        return try await stream(req, name: "clearing-\(r.number).csv", header: ["应收账款 receivable", "到期日 due", "凭证 token", "持有方 holder", "层级 tier", "金额(元) amount", "状态 status"],
                                pages: { try await TokenQueries.clearingById(of: r, visibleTo: viewer, page: $0, on: sql) }) { t, names in
            [number, due, t.id.description, names[t.holderId.description] ?? "", String(t.tier), yuan(t.amountFen), t.status.rawValue]
        }
    }

    /// Approved financings in the fields the PBoC credit reference centre's movable-property
    /// financing registry (动产融资统一登记公示系统) asks for about an assignment of receivables:
    /// the assignor and assignee with their credit codes, the amount, the term, and a
    /// description of the receivable. One row a financing.
    @Sendable package static func registry(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        let sql = req.application.sql
        // Refused before the stream begins, so that the refusal is a 403, not a 200 cut short.
        _ = try FinancingQueries.registryScope(viewer)
        return try await stream(req, name: "registry-filing.csv",
                                header: ["登记类型 registration type", "出质人/转让人 assignor", "转让人统一社会信用代码 assignor credit code", "受让人 assignee", "受让人统一社会信用代码 assignee credit code",
                                         "主合同金额(元) amount", "登记期限起 term start", "登记期限止 term end", "应收账款债务人 debtor", "债务人统一社会信用代码 debtor credit code",
                                         "财产描述 description", "融资编号 financing", "登记证明编号 filing number", "登记日期 filed on",
                                         "追索权 recourse", "期限审查 term review"],
                                pages: { try await FinancingQueries.registryFiling(visibleTo: viewer, page: $0, on: sql) }) { f, _ in
            let description = "应收账款转让（保理）：\(f.coreName) 开立的应收账款债权凭证 \(f.number)，票面 \(yuan(f.faceFen)) 元，"
                + "\(f.dueDate) 到期" + (f.invoices.isEmpty ? "" : "，发票 \(f.invoices.joined(separator: " "))")
            return ["应收账款转让", f.supplierName, f.supplierCode, f.bankName, f.bankCode, yuan(f.amountFen),
                    f.requestedOn, f.dueDate, f.coreName, f.coreCode, description, f.id, f.filingNumber ?? "", f.filedOn ?? "",
                    f.recourse ? "有追索权 with recourse" : "无追索权 without recourse", f.termReview ?? ""]
        }
    }

    /// The audit log: all of it for the operator and the regulator, its own org's for an org's
    /// admin (what the operator did to the org included). `?action=` filters.
    @Sendable package static func audit(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        let action = try req.queryText("action", maxLength: 40)
        let sql = req.application.sql
        // Refused before the stream begins, so that the refusal is a 403, not a 200 cut short.
        _ = try viewer.auditScope()
        return try await stream(req, name: "audit-log.csv", header: ["序号 seq", "时间 time (UTC+8)", "操作 action", "机构 org", "邮箱 email", "地址 address", "详情 detail"],
                                pages: { try await AuditLog.entries(action: action, visibleTo: viewer, page: $0, on: sql) }) { e, names in
            [String(e.seq), Time.local(e.timeMs), e.action, names[e.orgId ?? ""] ?? "", e.email ?? "", e.address ?? "", e.detail]
        }
    }
}
