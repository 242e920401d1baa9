import Core
import Foundation
import Ledger
import SQLKit
import Vapor

/// Turning ledger objects into what a page shows: amounts as ¥12,345.67, rates as 3.50%,
/// statuses with their label in the user's language.
package struct Presenter {
    /// The page's language (`zh` or `en`) and its words.
    package let lang: String
    package let table: [String: String]
    /// Every org's name by id.
    package let names: [String: String]

    package init(lang: String, table: [String: String], names: [String: String]) {
        self.lang = lang
        self.table = table
        self.names = names
    }

    package static func make(_ req: Request) async throws -> Presenter {
        Presenter(lang: req.language, table: req.application.translations.table(req.language), names: try await ReceivableQueries.orgNames(on: req.application.sql))
    }

    package var chinese: Bool { lang == "zh" }

    package func tr(_ key: String) -> String { table[key] ?? key }

    package func name(_ id: OrgID) -> String { names[id.description] ?? id.description }
    package func status(_ s: String) -> String { tr("status_\(s)") }
    package static func rate(_ bps: Int64) -> String { String(format: "%d.%02d%%", bps / 100, bps % 100) }

    package func token(_ t: Token, receivable: Receivable?) -> TokenView {
        TokenView(id: t.id.description, short: String(t.id.description.prefix(8)), receivableId: t.receivableId.description,
                  receivableNumber: receivable?.number ?? "", holderName: name(t.holderId), amount: Money.format(t.amountFen), amountFen: t.amountFen,
                  tier: t.tier, status: t.status.rawValue, statusLabel: status(t.status.rawValue), dueDate: receivable?.dueDate.description ?? "",
                  issuerName: receivable.map { name($0.issuerId) } ?? "")
    }

    package func receivable(_ r: Receivable) -> ReceivableView {
        ReceivableView(id: r.id.description, number: r.number, issuerName: name(r.issuerId), firstHolderName: name(r.firstHolderId),
                       face: Money.format(r.faceFen), paid: Money.format(r.paidFen), issueDate: r.issueDate.description, dueDate: r.dueDate.description,
                       status: r.status.rawValue, statusLabel: status(r.status.rawValue), memo: r.memo ?? "",
                       documents: r.documents.map { DocumentView(kind: tr("doc_\($0.kind.rawValue)"), sha256: $0.sha256, number: $0.number ?? "", fileName: $0.fileName ?? "") })
    }

    package func financing(_ f: Financing) -> FinancingView {
        FinancingView(id: f.id.description, tokenId: f.tokenId.description, supplierName: name(f.supplierId), bankName: name(f.bankId),
                      amount: Money.format(f.amountFen), rate: Self.rate(f.rateBps), days: f.days, interest: Money.format(f.interestFen),
                      payout: Money.format(f.payoutFen), status: f.status.rawValue, statusLabel: status(f.status.rawValue),
                      requestedOn: f.requestedOn.description, reference: f.payoutReference ?? "",
                      manual: f.status == .paid && !(f.payoutReference ?? "").hasPrefix("RAIL-"), recourse: f.recourse,
                      filing: f.filing.map { "\($0.number) (\($0.filedOn))" } ?? "")
    }

    package func earlyPayment(_ e: EarlyPayment) -> EarlyPaymentView {
        EarlyPaymentView(id: e.id.description, tokenId: e.tokenId.description, receivableId: e.receivableId.description, supplierName: name(e.supplierId),
                         issuerName: name(e.issuerId), amount: Money.format(e.amountFen), rate: Self.rate(e.rateBps), days: e.days,
                         discount: Money.format(e.discountFen), payout: Money.format(e.payoutFen), status: e.status.rawValue,
                         statusLabel: status(e.status.rawValue), requestedOn: e.requestedOn.description, reference: e.reference ?? "",
                         manual: e.status == .paid && !(e.reference ?? "").hasPrefix("RAIL-"))
    }

    package func creditLine(_ l: CreditLine) -> CreditLineView {
        CreditLineView(id: l.id.description, bankName: name(l.bankId), coreName: name(l.coreId), limit: Money.format(l.limitFen), used: Money.format(l.usedFen),
                       available: Money.format(l.availableFen), rate: Self.rate(l.rateBps), expiresOn: l.expiresOn.description, status: l.status.rawValue,
                       statusLabel: status(l.status.rawValue))
    }
}
