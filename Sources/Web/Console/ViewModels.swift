import Core
import Foundation
import Ledger
import SQLKit
import Vapor

/// What every console page gets: the words of the user's language, who is signed in, the
/// navigation their role allows, the CSRF token for forms, and the page's own view model.
package struct PageView<P: Encodable>: Encodable {
    package var t: [String: String]
    package var lang: String
    package var otherLang: String
    package var title: String
    package var user: UserView?
    package var nav: [NavItem]
    package var csrf: String
    package var notice: String?
    package var error: String?
    /// While something runs in the background the page reloads itself (no script needed).
    package var refresh: Bool
    package var page: P
}

/// Who a page is for, and where: what its frame (header, navigation, language switch, form
/// token) is built from. A test makes one without a request.
package struct PageFrame: Sendable {
    package var lang: String
    package var table: [String: String]
    package var path: String
    package var csrf: String
    package var user: UserView?
    package var role: OrgRole?
    package var isAdmin = false
    package var orgId: OrgID?

    package init(lang: String, table: [String: String], path: String, csrf: String) {
        self.lang = lang
        self.table = table
        self.path = path
        self.csrf = csrf
    }

    package func tr(_ key: String) -> String { table[key] ?? key }

    /// The person signed in, of an org with `role` (nil for an org the chain does not know).
    package mutating func signedIn(_ caller: Caller, orgName: String, role: OrgRole?) {
        self.role = role
        isAdmin = caller.isAdmin
        orgId = caller.orgId
        user = UserView(name: caller.name, email: caller.email, orgName: orgName, role: role?.rawValue ?? "",
                        roleLabel: tr("role_\(role?.rawValue ?? "")"), prepares: caller.userRole.prepares)
    }
}

package struct UserView: Encodable, Sendable {
    package var name: String
    package var email: String
    package var orgName: String
    package var role: String
    package var roleLabel: String
    /// A maker or an admin: offered the forms that prepare operations (a viewer and a checker are not).
    package var prepares: Bool
}

package struct NavItem: Encodable {
    package var href: String
    package var label: String
    package var current: Bool
}

package struct Empty: Encodable {}

/// A table's page: `?page=N`, 50 rows a page; links to the neighbours keep the other query
/// parameters.
package struct Pager: Encodable {
    package static let size = 50
    package var page: Int
    package var prev: String?
    package var next: String?

    /// The page asked for (1 to 10,000).
    package static func number(_ req: Request) -> Int {
        guard let n = req.query[Int.self, at: "page"], (1...10_000).contains(n) else { return 1 }
        return n
    }

    /// The rows of page `page`, and one more to know whether there is a next page.
    package static func slice(_ page: Int) -> Slice { Slice(limit: size + 1, offset: (page - 1) * size) }

    /// Cuts the extra row fetched to know whether there is a next page.
    package static func make<T>(_ req: Request, _ page: Int, rows: [T]) -> ([T], Pager) {
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
package struct Choice: Encodable {
    package var value: String
    package var label: String
}

package struct FormState: Encodable {
    package var values: [String: String] = [:]
    package var errors: [String: String] = [:]
    /// The refusal's HTTP status (403 for a role that may never, 409 for a rule, 422 for input).
    package var status: UInt = 200

    package var httpStatus: HTTPResponseStatus { HTTPResponseStatus(statusCode: Int(status)) }
}

package struct TokenView: Encodable {
    package var id: String
    package var short: String
    package var receivableId: String
    package var receivableNumber: String
    package var holderName: String
    package var amount: String
    package var amountFen: Int64
    package var tier: Int64
    package var status: String
    package var statusLabel: String
    package var dueDate: String
    package var issuerName: String
}

package struct ReceivableView: Encodable {
    package var id: String
    package var number: String
    package var issuerName: String
    package var firstHolderName: String
    package var face: String
    package var paid: String
    package var issueDate: String
    package var dueDate: String
    package var status: String
    package var statusLabel: String
    package var memo: String
    package var documents: [DocumentView]
}

package struct DocumentView: Encodable {
    package var kind: String
    package var sha256: String
    package var number: String
    package var fileName: String
}

package struct FinancingView: Encodable {
    package var id: String
    package var tokenId: String
    package var supplierName: String
    package var bankName: String
    package var amount: String
    package var rate: String
    package var days: Int64
    package var interest: String
    package var payout: String
    package var status: String
    package var statusLabel: String
    package var requestedOn: String
    package var reference: String
    /// Paid out by the bank's own confirmation, not recorded from a rail's report.
    package var manual: Bool
    /// 77号: with recourse; the receivable's term needs the bank's review; the filing recorded.
    package var recourse = false
    package var needsReview = false
    package var filing = ""
}

package struct EarlyPaymentView: Encodable {
    package var id: String
    package var tokenId: String
    package var receivableId: String
    package var supplierName: String
    package var issuerName: String
    package var amount: String
    package var rate: String
    package var days: Int64
    package var discount: String
    package var payout: String
    package var status: String
    package var statusLabel: String
    package var requestedOn: String
    package var reference: String
    /// Paid by the core's own confirmation, not recorded from a rail's report.
    package var manual: Bool
    /// In the core's ranking of today's offers: its place, and whether the market would take it now.
    package var rank = 0
    package var wouldClear = false
}

package struct CreditLineView: Encodable {
    package var id: String
    package var bankName: String
    package var coreName: String
    package var limit: String
    package var used: String
    package var available: String
    package var rate: String
    package var expiresOn: String
    package var status: String
    package var statusLabel: String
}
