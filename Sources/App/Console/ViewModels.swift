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
    /// A maker or an admin: offered the forms that prepare operations (a viewer and a checker are not).
    var prepares: Bool
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
/// One option of a select: the value a form sends, the label a person reads.
struct Choice: Encodable {
    var value: String
    var label: String
}

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
    /// Paid out by the bank's own confirmation, not recorded from a rail's report.
    var manual: Bool
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
