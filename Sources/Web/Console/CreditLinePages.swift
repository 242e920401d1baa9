import Core
import Foundation
import Ledger
import Leaf
import SQLKit
import Vapor

/// Credit lines: the bank's grants, the core's lines.
package enum CreditLinePages: ConsoleArea {
    package struct CreditLinesPage: Encodable {
        package var lines: [CreditLineView]
        package var isBank: Bool
        package var cores: [OrgOption]
        package var form: FormState
    }

    @Sendable package static func creditLines(req: Request) async throws -> Response {
        try await creditLinesPage(req, form: FormState(), error: nil)
    }

    package static func creditLinesPage(_ req: Request, form: FormState, error: String?) async throws -> Response {
        let viewer = try await viewer(req)
        let p = try await Presenter.make(req)
        let sql = req.application.sql
        let lines = try await CreditLineQueries.list(.init(), visibleTo: viewer, slice: Slice(limit: 500), on: sql)
        let cores = viewer.role == .bank ? try await orgOptions(.core, activeOnly: false, on: sql) : []
        return try await render(req, "bank/credit-lines", title: "nav_credit_lines", page: model(lines, isBank: viewer.role == .bank, cores: cores, form: form, presenter: p),
                                status: error == nil ? .ok : form.httpStatus, notice: notice(req), error: error)
    }

    /// The lines a bank granted or a core holds; a bank also gets the form to grant one.
    package static func model(_ lines: [CreditLine], isBank: Bool, cores: [OrgOption], form: FormState, presenter p: Presenter) -> CreditLinesPage {
        CreditLinesPage(lines: lines.map(p.creditLine), isBank: isBank, cores: cores, form: form)
    }

    @Sendable package static func grant(req: Request) async throws -> Response {
        try await actOrHold(req, action: "grant", next: "/credit-lines", done: "granted", fieldNames: ["payload.expiresOn": "expiresOn"],
                            page: { try await creditLinesPage(req, form: $0, error: $1) }) { viewer, v in
            guard let core = v["coreId"].flatMap(OrgID.init) else { throw LedgerError.invalid("coreId", "choose a core enterprise") }
            guard let rate = v["rate"].flatMap({ Decimal(string: $0) }), rate >= 0, rate <= 100 else { throw LedgerError.invalid("rate", "must be a yearly rate in percent, e.g. 3.50") }
            guard let expires = v["expiresOn"].flatMap(BusinessDate.init) else { throw LedgerError.invalid("expiresOn", "must be a date YYYY-MM-DD") }
            let bps = NSDecimalNumber(decimal: rate * 100).int64Value
            return try await CreditService.grant(to: core, limitFen: try fen(v, "limit"), rateBps: bps, expiresOn: expires, by: viewer.caller, app: req.application).held
        }
    }
}
