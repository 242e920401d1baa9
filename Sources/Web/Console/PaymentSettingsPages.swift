import Core
import Foundation
import Ledger
import Vapor

/// 收付款账户: the org's bank account and e-CNY wallet, and the rail it pays by. Every member
/// reads them; its admins change them (after their password, as for people and keys).
package enum PaymentSettingsPages: ConsoleArea {
    package struct AccountView: Encodable {
        package var rail: String
        package var label: String
        package var account: String
        package var accountName: String
        package var agent: String
        package var agentOrgId: String
        package var isSet: Bool
    }

    package struct Page: Encodable {
        package var accounts: [AccountView]
        package var paysBy: String
        package var rails: [Choice]
        package var banks: [OrgOption]
        package var canEdit: Bool
        package var form: FormState
        /// The account form the refusal is about ("" when none).
        package var refusedRail: String
    }

    @Sendable package static func settings(req: Request) async throws -> Response {
        try await settingsPage(req, form: FormState(), error: nil)
    }

    package static func settingsPage(_ req: Request, form: FormState, error: String?, refusedRail: String = "") async throws -> Response {
        let viewer = try await viewer(req)
        guard [.core, .supplier, .bank].contains(viewer.role) else { throw Problem(.notFound, "no such page") }
        let sql = req.application.sql
        var accounts: [String: PaymentAccount] = [:]
        for rail in ["bank", "ecny"] { accounts[rail] = try await PaymentAccounts.find(viewer.orgId, rail: rail, on: sql) }
        let page = model(accounts: accounts, paysBy: try await PaymentAccounts.choice(of: viewer.orgId, on: sql), banks: try await orgOptions(.bank, activeOnly: true, on: sql),
                         canEdit: viewer.caller.isAdmin, form: form, refusedRail: refusedRail, presenter: try await Presenter.make(req))
        return try await render(req, "common/payment_settings", title: "nav_payment_settings", page: page,
                                status: error == nil ? .ok : form.httpStatus, notice: notice(req), error: error)
    }

    /// `POST /payment-settings/rail {rail}`: `either` for no choice.
    /// An org's account on each rail (by rail name) and the rail it chose to pay by.
    package static func model(accounts: [String: PaymentAccount], paysBy: PaysBy?, banks: [OrgOption], canEdit: Bool, form: FormState, refusedRail: String,
                              presenter p: Presenter) -> Page {
        let views = ["bank", "ecny"].map { rail in
            let a = accounts[rail]
            return AccountView(rail: rail, label: p.tr("rail_\(rail)"), account: a?.account ?? "", accountName: a?.accountName ?? "",
                               agent: a?.agent ?? "", agentOrgId: a?.agentOrgId?.description ?? "", isSet: a != nil)
        }
        return Page(accounts: views, paysBy: paysBy?.rawValue ?? "either", rails: ["either", "ecny", "bank", "manual"].map { Choice(value: $0, label: p.tr("pays_by_\($0)")) },
                    banks: banks, canEdit: canEdit, form: form, refusedRail: refusedRail)
    }

    @Sendable package static func chooseRail(req: Request) async throws -> Response {
        try await act(req, action: "rail", next: "/payment-settings", done: "payment_rail_set", page: { try await settingsPage(req, form: $0, error: $1) }) { viewer, v in
            let text = v["rail"] ?? ""
            guard text == "either" || PaysBy(rawValue: text) != nil else { throw LedgerError.invalid("rail", "must be either, ecny, bank or manual") }
            try await PaymentSettingsService.choose(PaysBy(rawValue: text), for: viewer.orgId, by: viewer, app: req.application, address: req.remoteAddress?.ipAddress)
        }
    }

    /// `POST /payment-settings/accounts/{bank|ecny} {account, accountName, agent, agentOrgId}`.
    @Sendable package static func setAccount(req: Request) async throws -> Response {
        let rail = req.parameters.get("rail") ?? ""
        return try await act(req, action: "account", next: "/payment-settings", done: "payment_account_set",
                             page: { try await settingsPage(req, form: $0, error: $1, refusedRail: rail) }) { viewer, v in
            let input = PaymentSettingsService.AccountInput(account: v["account"] ?? "", accountName: v["accountName"] ?? "", agent: v["agent"] ?? "",
                                                            agentOrgId: v["agentOrgId"].flatMap { $0.isEmpty ? nil : $0 })
            _ = try await PaymentSettingsService.setAccount(input, rail: rail, of: viewer.orgId, by: viewer, app: req.application, address: req.remoteAddress?.ipAddress)
        }
    }
}
