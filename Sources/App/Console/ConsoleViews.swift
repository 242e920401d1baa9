import Foundation
import Ledger
import SQLKit
import Vapor

/// What every console page gets: the words of the user's language, who is signed in, the
/// navigation their role allows, the CSRF token for forms, and the page's own view model.
struct PageView<P: Encodable>: Encodable {
    var t: [String: String]
    var lang: String
    var otherLang: String
    var title: String
    var user: UserView?
    var nav: [NavItem]
    var csrf: String
    var notice: String?
    var error: String?
    /// While something runs in the background the page reloads itself (no script needed).
    var refresh: Bool
    var page: P
}

struct UserView: Encodable {
    var name: String
    var email: String
    var orgName: String
    var role: String
    var roleLabel: String
}

struct NavItem: Encodable {
    var href: String
    var label: String
    var current: Bool
}

struct Empty: Encodable {}

/// A table's page: `?page=N`, 50 rows a page; links to the neighbours keep the other query
/// parameters.
struct Pager: Encodable {
    static let size = 50
    var page: Int
    var prev: String?
    var next: String?

    /// The page asked for (1 to 10,000).
    static func number(_ req: Request) -> Int {
        guard let n = req.query[Int.self, at: "page"], (1...10_000).contains(n) else { return 1 }
        return n
    }

    static func sql(_ page: Int) -> SQLQueryString { " LIMIT \(literal: size + 1) OFFSET \(literal: (page - 1) * size)" }

    /// Cuts the extra row fetched to know whether there is a next page.
    static func make<T>(_ req: Request, _ page: Int, rows: [T]) -> ([T], Pager) {
        func link(_ n: Int) -> String {
            var items = (URLComponents(string: req.url.string)?.queryItems ?? []).filter { $0.name != "page" && $0.name != "done" }
            items.append(URLQueryItem(name: "page", value: String(n)))
            var c = URLComponents()
            c.path = req.url.path
            c.queryItems = items
            return c.string ?? req.url.path
        }
        return (Array(rows.prefix(size)), Pager(page: page, prev: page > 1 ? link(page - 1) : nil, next: rows.count > size ? link(page + 1) : nil))
    }
}

/// A form's state after a refused post: what was typed, and each field's error.
struct FormState: Encodable {
    var values: [String: String] = [:]
    var errors: [String: String] = [:]
    /// The refusal's HTTP status (403 for a role that may never, 409 for a rule, 422 for input).
    var status: UInt = 200

    var httpStatus: HTTPResponseStatus { HTTPResponseStatus(statusCode: Int(status)) }
}

struct TokenView: Encodable {
    var id: String
    var short: String
    var receivableId: String
    var receivableNumber: String
    var holderName: String
    var amount: String
    var amountFen: Int64
    var tier: Int64
    var status: String
    var statusLabel: String
    var dueDate: String
    var issuerName: String
}

struct ReceivableView: Encodable {
    var id: String
    var number: String
    var issuerName: String
    var firstHolderName: String
    var face: String
    var paid: String
    var issueDate: String
    var dueDate: String
    var status: String
    var statusLabel: String
    var memo: String
    var documents: [DocumentView]
}

struct DocumentView: Encodable {
    var kind: String
    var sha256: String
    var number: String
    var fileName: String
}

struct FinancingView: Encodable {
    var id: String
    var tokenId: String
    var supplierName: String
    var bankName: String
    var amount: String
    var rate: String
    var days: Int64
    var interest: String
    var payout: String
    var status: String
    var statusLabel: String
    var requestedOn: String
    var reference: String
}

struct CreditLineView: Encodable {
    var id: String
    var bankName: String
    var coreName: String
    var limit: String
    var used: String
    var available: String
    var rate: String
    var expiresOn: String
    var status: String
    var statusLabel: String
}

/// Turning ledger objects into what a page shows: amounts as ¥12,345.67, rates as 3.50%,
/// statuses with their label in the user's language.
struct Presenter {
    let req: Request
    let names: [String: String]

    static func make(_ req: Request) async throws -> Presenter {
        Presenter(req: req, names: try await ReceivableController.orgNames(on: req.application.sql))
    }

    func name(_ id: OrgID) -> String { names[id.description] ?? id.description }
    func status(_ s: String) -> String { req.tr("status_\(s)") }
    static func rate(_ bps: Int64) -> String { String(format: "%d.%02d%%", bps / 100, bps % 100) }

    func token(_ t: Token, receivable: Receivable?) -> TokenView {
        TokenView(id: t.id.description, short: String(t.id.description.prefix(8)), receivableId: t.receivableId.description,
                  receivableNumber: receivable?.number ?? "", holderName: name(t.holderId), amount: Money.format(t.amountFen), amountFen: t.amountFen,
                  tier: t.tier, status: t.status.rawValue, statusLabel: status(t.status.rawValue), dueDate: receivable?.dueDate.description ?? "",
                  issuerName: receivable.map { name($0.issuerId) } ?? "")
    }

    func receivable(_ r: Receivable) -> ReceivableView {
        ReceivableView(id: r.id.description, number: r.number, issuerName: name(r.issuerId), firstHolderName: name(r.firstHolderId),
                       face: Money.format(r.faceFen), paid: Money.format(r.paidFen), issueDate: r.issueDate.description, dueDate: r.dueDate.description,
                       status: r.status.rawValue, statusLabel: status(r.status.rawValue), memo: r.memo ?? "",
                       documents: r.documents.map { DocumentView(kind: req.tr("doc_\($0.kind.rawValue)"), sha256: $0.sha256, number: $0.number ?? "", fileName: $0.fileName ?? "") })
    }

    func financing(_ f: Financing) -> FinancingView {
        FinancingView(id: f.id.description, tokenId: f.tokenId.description, supplierName: name(f.supplierId), bankName: name(f.bankId),
                      amount: Money.format(f.amountFen), rate: Self.rate(f.rateBps), days: f.days, interest: Money.format(f.interestFen),
                      payout: Money.format(f.payoutFen), status: f.status.rawValue, statusLabel: status(f.status.rawValue),
                      requestedOn: f.requestedOn.description, reference: f.payoutReference ?? "")
    }

    func creditLine(_ l: CreditLine) -> CreditLineView {
        CreditLineView(id: l.id.description, bankName: name(l.bankId), coreName: name(l.coreId), limit: Money.format(l.limitFen), used: Money.format(l.usedFen),
                       available: Money.format(l.availableFen), rate: Self.rate(l.rateBps), expiresOn: l.expiresOn.description, status: l.status.rawValue,
                       statusLabel: status(l.status.rawValue))
    }
}

/// Pictures drawn on the server: a receivable's token tree and bar charts, as SVG.
enum Charts {
    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
            .replacingOccurrences(of: "\"", with: "&quot;")
    }

    static let statusColour: [String: String] = [
        "pending": "#b7791f", "active": "#2f855a", "locked": "#2b6cb0", "spent": "#a0aec0", "settled": "#4a5568", "expired": "#c53030",
    ]

    /// Each token a box (holder, amount, status), children under their parent, one row per
    /// generation; each node carries `data-token-id`.
    /// `hidden` counts, under a piece, the children left out of `tokens` and their amount: each
    /// becomes one grey box (`more(count, fen)` its caption) beside the children drawn.
    static func tree(_ tokens: [Token], hidden: [TokenID: (count: Int64, amountFen: Int64)] = [:], names: [String: String], label: (String) -> String,
                     more: (Int64, Int64) -> String = { n, _ in "+\(n)" }) -> String {
        let byParent = Dictionary(grouping: tokens, by: { $0.parentId })
        let ids = Set(tokens.map(\.id))
        let roots = tokens.filter { $0.parentId == nil || !ids.contains($0.parentId!) }
        var positions: [TokenID: (x: Int, depth: Int)] = [:]
        var summaries: [(parent: TokenID, x: Int, depth: Int)] = []
        var nextX = 0
        var maxDepth = 0
        func place(_ t: Token, depth: Int) {
            maxDepth = max(maxDepth, depth)
            let children = byParent[t.id] ?? []
            let summarised = hidden[t.id] != nil
            if children.isEmpty && !summarised {
                positions[t.id] = (nextX, depth)
                nextX += 1
                return
            }
            for c in children { place(c, depth: depth + 1) }
            var xs = children.compactMap { positions[$0.id]?.x }
            if summarised {
                summaries.append((t.id, nextX, depth + 1))
                xs.append(nextX)
                maxDepth = max(maxDepth, depth + 1)
                nextX += 1
            }
            positions[t.id] = ((xs.min()! + xs.max()!) / 2, depth)
        }
        for r in roots { place(r, depth: 0) }
        let boxW = 170, boxH = 58, gapX = 16, gapY = 36
        let width = max(1, nextX) * (boxW + gapX) + gapX, height = (maxDepth + 1) * (boxH + gapY) + gapY
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"tree\" role=\"img\" viewBox=\"0 0 \(width) \(height)\" width=\"\(width)\" height=\"\(height)\">"
        func origin(_ id: TokenID) -> (Int, Int)? {
            positions[id].map { (gapX + $0.x * (boxW + gapX), gapY / 2 + $0.depth * (boxH + gapY)) }
        }
        for t in tokens {
            guard let parent = t.parentId, let (px, py) = origin(parent), let (x, y) = origin(t.id) else { continue }
            svg += "<line x1=\"\(px + boxW / 2)\" y1=\"\(py + boxH)\" x2=\"\(x + boxW / 2)\" y2=\"\(y)\" stroke=\"#a0aec0\" stroke-width=\"1.5\"/>"
        }
        for t in tokens {
            guard let (x, y) = origin(t.id) else { continue }
            let colour = statusColour[t.status.rawValue] ?? "#4a5568"
            svg += "<g class=\"node\" data-token-id=\"\(t.id)\"><a href=\"/tokens/\(t.id)\">"
            svg += "<rect x=\"\(x)\" y=\"\(y)\" width=\"\(boxW)\" height=\"\(boxH)\" rx=\"6\" fill=\"#fff\" stroke=\"\(colour)\" stroke-width=\"2\"/>"
            svg += "<text x=\"\(x + 8)\" y=\"\(y + 18)\" font-size=\"12\" fill=\"#1a202c\">\(escape(String((names[t.holderId.description] ?? "").prefix(12))))</text>"
            svg += "<text x=\"\(x + 8)\" y=\"\(y + 35)\" font-size=\"13\" font-weight=\"600\" fill=\"#1a202c\">\(escape(Money.format(t.amountFen)))</text>"
            svg += "<text x=\"\(x + 8)\" y=\"\(y + 51)\" font-size=\"11\" fill=\"\(colour)\">T\(t.tier) · \(escape(label(t.status.rawValue)))</text>"
            svg += "</a></g>"
        }
        for s in summaries {
            guard let (px, py) = origin(s.parent), let (count, fen) = hidden[s.parent] else { continue }
            let x = gapX + s.x * (boxW + gapX), y = gapY / 2 + s.depth * (boxH + gapY)
            svg += "<line x1=\"\(px + boxW / 2)\" y1=\"\(py + boxH)\" x2=\"\(x + boxW / 2)\" y2=\"\(y)\" stroke=\"#cbd5e0\" stroke-width=\"1.5\" stroke-dasharray=\"4 3\"/>"
            svg += "<g class=\"more\"><rect x=\"\(x)\" y=\"\(y)\" width=\"\(boxW)\" height=\"\(boxH)\" rx=\"6\" fill=\"#f7fafc\" stroke=\"#a0aec0\" stroke-dasharray=\"4 3\"/>"
            svg += "<text x=\"\(x + 8)\" y=\"\(y + 33)\" font-size=\"12\" fill=\"#4a5568\">\(escape(more(count, fen)))</text></g>"
        }
        return svg + "</svg>"
    }

    /// Horizontal bars: one per label, scaled to the largest value, the amount written beside.
    static func bars(_ rows: [(label: String, fen: Int64)], caption: String) -> String {
        let barMax = 320, rowH = 26, labelW = 110
        let top = rows.map(\.fen).max() ?? 0
        let height = max(1, rows.count) * rowH + 10
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" role=\"img\" aria-label=\"\(escape(caption))\" viewBox=\"0 0 \(labelW + barMax + 140) \(height)\">"
        for (i, row) in rows.enumerated() {
            let w = top > 0 ? Int(Double(row.fen) / Double(top) * Double(barMax)) : 0
            let y = i * rowH + 5
            svg += "<text x=\"0\" y=\"\(y + 15)\" font-size=\"12\" fill=\"#4a5568\">\(escape(row.label))</text>"
            svg += "<rect x=\"\(labelW)\" y=\"\(y + 3)\" width=\"\(max(w, 1))\" height=\"16\" rx=\"3\" fill=\"#2c5282\"/>"
            svg += "<text x=\"\(labelW + max(w, 1) + 6)\" y=\"\(y + 15)\" font-size=\"12\" fill=\"#1a202c\">\(escape(Money.format(row.fen)))</text>"
        }
        return svg + "</svg>"
    }
}
