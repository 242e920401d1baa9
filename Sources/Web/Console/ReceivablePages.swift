import Core
import Foundation
import Ledger
import Leaf
import SQLKit
import Vapor

/// The core enterprise's receivables: the list, issuing, one receivable with its clearing list and tree, settlement.
package enum ReceivablePages: ConsoleArea {
    package struct ReceivablesPage: Encodable {
        package var receivables: [ReceivableView]
        package var isCore: Bool
        package var pager: Pager
    }

    @Sendable package static func receivables(req: Request) async throws -> Response {
        let viewer = try await viewer(req)
        let p = try await Presenter.make(req)
        let number = Pager.number(req)
        let (rows, pager) = Pager.make(req, number, rows: try await ReceivableQueries.list(.init(), visibleTo: viewer, slice: Pager.slice(number), on: req.application.sql))
        return try await render(req, "core/receivables", title: "nav_receivables", page: model(rows, isCore: viewer.role == .core, pager: pager, presenter: p),
                                notice: notice(req))
    }

    /// A page of the receivables the viewer sees.
    package static func model(_ receivables: [Receivable], isCore: Bool, pager: Pager, presenter p: Presenter) -> ReceivablesPage {
        ReceivablesPage(receivables: receivables.map(p.receivable), isCore: isCore, pager: pager)
    }

    package struct LineOption: Encodable {
        package var id: String
        package var label: String
    }

    package struct IssuePage: Encodable {
        package var suppliers: [OrgOption]
        package var lines: [LineOption]
        package var earliest: String
        package var latest: String
        package var maxTermDays: Int64
        package var form: FormState
        /// 77号: the last due date without the bank's term review ("" when the rule is off), and
        /// why the core may not issue now ("" when it may).
        package var reviewAfter: String
        package var inDefault: String
    }

    @Sendable package static func issueForm(req: Request) async throws -> Response {
        try await issuePage(req, form: FormState(), error: nil)
    }

    package static func issuePage(_ req: Request, form: FormState, error: String?) async throws -> Response {
        let viewer = try await viewer(req)
        guard viewer.role == .core else { throw Problem(.forbidden, "only a core enterprise issues receivables") }
        let sql = req.application.sql
        let p = try await Presenter.make(req)
        let suppliers = try await orgOptions(.supplier, activeOnly: true, on: sql)
        let lines = try await CreditLineQueries.list(.init(status: .active, coreId: viewer.orgId), visibleTo: viewer, slice: Slice(limit: 500), on: sql)
        let (policy, today, inDefault) = try await req.application.requireSequencer().read { state in
            (state.policy, req.application.businessDate, state.policy.defaultCheckOn ? state.defaultReason(of: viewer.orgId) : nil)
        }
        return try await render(req, "core/issue", title: "nav_issue", page: issueModel(suppliers: suppliers, lines: lines, policy: policy, today: today, form: form,
                                                                                         inDefault: inDefault, presenter: p),
                                status: error == nil ? .ok : form.httpStatus, error: error)
    }

    /// The issue form: the suppliers, the core's active lines with what each has left, and the
    /// due dates the policy allows from `today`.
    package static func issueModel(suppliers: [OrgOption], lines: [CreditLine], policy: Policy, today: BusinessDate, form: FormState, inDefault: String? = nil,
                                   presenter p: Presenter) -> IssuePage {
        IssuePage(suppliers: suppliers,
                  lines: lines.map {
                      LineOption(id: $0.id.description, label: "\(p.name($0.bankId)) · \(Presenter.rate($0.rateBps)) · \(p.tr("available")) \(Money.format($0.availableFen)) · \(p.tr("expires")) \($0.expiresOn)")
                  },
                  earliest: today.adding(days: policy.minTermDays).description, latest: today.adding(days: policy.maxTermDays).description,
                  maxTermDays: policy.maxTermDays, form: form, reviewAfter: policy.reviewTermDays.map { today.adding(days: $0).description } ?? "",
                  inDefault: inDefault ?? "")
    }

    /// The issue form, posted as multipart so the document travels with it.
    package struct IssueForm: Content {
        package var supplierId: String?
        package var creditLineId: String?
        package var face: String?
        package var dueDate: String?
        package var documentSha256: String?
        package var invoiceNumber: String?
        package var fileName: String?
        package var memo: String?
        package var file: File?
    }

    @Sendable package static func issue(req: Request) async throws -> Response {
        let viewer = try await viewer(req)
        let posted = (try? req.content.decode(IssueForm.self)) ?? IssueForm()
        var values: [String: String] = [:]
        for (key, value) in [("supplierId", posted.supplierId), ("creditLineId", posted.creditLineId), ("face", posted.face), ("dueDate", posted.dueDate),
                             ("documentSha256", posted.documentSha256), ("invoiceNumber", posted.invoiceNumber), ("fileName", posted.fileName), ("memo", posted.memo)] {
            if let value { values[key] = value }
        }
        let now = req.application.ledgerClock.nowMs()
        do {
            // The file, if one came, is kept by its hash; the hash is what goes on the chain.
            if viewer.role == .core, let file = posted.file, file.data.readableBytes > 0 {
                guard file.data.readableBytes <= DocumentController.maxBytes else { throw LedgerError.invalid("documentSha256", "a document may be at most 10 MB") }
                let name = file.filename
                try Limits.checkText(name, field: "fileName", maxLength: Limits.maxFileNameLength)
                let kind = (values["invoiceNumber"] ?? "").isEmpty ? "contract" : "invoice"
                let sha = try await DocumentController.store(Data(file.data.readableBytesView), kind: kind, number: values["invoiceNumber"].flatMap { $0.isEmpty ? nil : $0 },
                                                             fileName: name, contentType: file.contentType?.serialize() ?? "application/octet-stream", by: viewer.orgId, app: req.application)
                if let typed = values["documentSha256"], !typed.isEmpty, typed != sha {
                    throw LedgerError.invalid("documentSha256", "the file's SHA-256 is \(sha), not the one given")
                }
                values["documentSha256"] = sha
                values["fileName"] = name
            }
            guard let supplier = values["supplierId"].flatMap(OrgID.init) else { throw LedgerError.invalid("supplierId", "choose a supplier") }
            guard let line = values["creditLineId"].flatMap(TxID.init) else { throw LedgerError.invalid("creditLineId", "choose a credit line") }
            guard let due = values["dueDate"].flatMap(BusinessDate.init) else { throw LedgerError.invalid("dueDate", "must be a date YYYY-MM-DD") }
            var documents: [Document] = []
            if let sha = values["documentSha256"], !sha.isEmpty {
                guard Hex.isLowercaseHex(sha, length: 64) else { throw LedgerError.invalid("documentSha256", "must be 64 lowercase hex characters") }
                // Empty fields are absent; anything else is the ledger's to judge, never cut here.
                let number = values["invoiceNumber"].flatMap { $0.isEmpty ? nil : $0 }
                documents.append(Document(kind: number == nil ? .contract : .invoice, sha256: sha, number: number, fileName: values["fileName"].flatMap { $0.isEmpty ? nil : $0 }))
            }
            let issue = ReceivableService.Issue(supplierId: supplier, creditLineId: line, faceFen: try fen(values, "face"), dueDate: due, documents: documents,
                                                memo: values["memo"].flatMap { $0.isEmpty ? nil : $0 })
            let prepared = try await ReceivableService.issue(issue, by: viewer.caller, app: req.application)
            guard case .done(let outcome) = prepared else { return redirect("/approvals/\(prepared.held?.id ?? "")", notice: "held") }
            return redirect("/receivables/\(outcome.effects.receivableId?.description ?? "")", notice: "issued")
        } catch {
            let fieldFor: [String: String] = ["faceFen": "face", "dueDate": "dueDate", "memo": "memo", "documents[0].number": "invoiceNumber",
                                              "documents[0].fileName": "fileName"]
            var (message, state) = try formError(req, error, values: values, fieldNames: fieldFor)
            if let code = (error as? LedgerError)?.code {
                switch code {
                case .termOutOfRange: state.errors["dueDate"] = req.tr("error_term_out_of_range")
                case .amountOutOfRange: state.errors["face"] = req.tr("error_amount_out_of_range")
                case .insufficientCredit, .creditLineUnusable: state.errors["creditLineId"] = req.tr("error_\(code.rawValue)")
                case .duplicateInvoice: state.errors["invoiceNumber"] = req.tr("error_duplicate_invoice")
                case .invalidCounterparty, .orgSuspended: state.errors["supplierId"] = req.tr("error_\(code.rawValue)")
                default: break
                }
            }
            return try await issuePage(req, form: state, error: message)
        }
    }

    package struct ClearingRow: Encodable {
        package var tokenId: String
        package var holderName: String
        package var amount: String
        package var tier: Int64
        package var status: String
        package var statusLabel: String
    }

    package struct ReceivablePage: Encodable {
        package var receivable: ReceivableView
        package var clearing: [ClearingRow]
        package var pager: Pager
        package var tree: String
        package var canSettle: Bool
        package var payable: String
        package var form: FormState
        /// The receivable's early payments, as the viewer may see them.
        package var earlyPayments: [EarlyPaymentView] = []
    }

    @Sendable package static func receivable(req: Request) async throws -> Response {
        try await receivablePage(req, form: FormState(), error: nil)
    }

    /// One receivable: its clearing list a page at a time, the amount still to pay, and its tree
    /// as a picture can hold it (the rest summarised), however many pieces it has.
    package static func receivablePage(_ req: Request, form: FormState, error: String?) async throws -> Response {
        let viewer = try await viewer(req)
        let r = try await ReceivableController.find(req, viewer)
        let p = try await Presenter.make(req)
        let sql = req.application.sql
        let issuerView = viewer.seesAll || r.issuerId == viewer.orgId
        let number = Pager.number(req)
        let (rows, pager) = Pager.make(req, number, rows: try await TokenQueries.clearing(of: r, visibleTo: viewer, slice: Pager.slice(number), on: sql))
        var page = model(r, clearing: rows, pager: pager, payableFen: try await TokenQueries.payableFen(of: r.id, on: sql),
                         tree: issuerView ? try await TokenQueries.treeSlice(of: r.id, on: sql) : nil,
                         issuerSettles: viewer.role == .core && r.issuerId == viewer.orgId, form: form, presenter: p)
        page.earlyPayments = try await EarlyPaymentQueries.of(receivable: r.id, visibleTo: viewer, on: sql).map(p.earlyPayment)
        return try await render(req, "core/receivable", title: "receivable_title", page: page, status: error == nil ? .ok : form.httpStatus,
                                notice: notice(req), error: error)
    }

    /// One receivable: a page of its clearing list, what settling it still pays, and its tree
    /// (for who may see it whole) as a picture can hold it.
    package static func model(_ r: Receivable, clearing rows: [Token], pager: Pager, payableFen: Int64, tree slice: TokenQueries.TreeSlice?, issuerSettles: Bool,
                              form: FormState, presenter p: Presenter) -> ReceivablePage {
        let clearing = rows.map {
            ClearingRow(tokenId: $0.id.description, holderName: p.name($0.holderId), amount: Money.format($0.amountFen), tier: $0.tier, status: $0.status.rawValue,
                        statusLabel: p.status($0.status.rawValue))
        }
        let tree = slice.map { slice in
            Charts.tree(slice.tokens, hidden: slice.hidden, names: p.names, label: { p.status($0) },
                        more: { count, fen in p.tr("tree_more").replacingOccurrences(of: "{count}", with: String(count)).replacingOccurrences(of: "{amount}", with: Money.format(fen)) })
        } ?? ""
        return ReceivablePage(receivable: p.receivable(r), clearing: clearing, pager: pager, tree: tree, canSettle: issuerSettles && payableFen > 0,
                              payable: Money.format(payableFen), form: form)
    }

    @Sendable package static func settle(req: Request) async throws -> Response {
        let id = try req.txIdParameter()
        var instructed = false
        let response = try await actOrHold(req, action: "settle", next: "/receivables/\(id)", done: "settled", fieldNames: ["reference": "reference"],
                                           page: { try await receivablePage(req, form: $0, error: $1) }) { viewer, v in
            guard let reference = v["reference"], !reference.isEmpty else { throw LedgerError.invalid("reference", "give the payment's reference") }
            let prepared = try await ReceivableService.settle(id, tokenIds: nil, reference: reference, by: viewer, app: req.application)
            if case .done(let settlement) = prepared, !settlement.payments.isEmpty { instructed = true }
            return prepared.held
        }
        // Through the core's rail: paid, and settled on the ledger, as each holder's payment arrives.
        return instructed ? redirect("/receivables/\(id)", notice: "settle_instructed") : response
    }
}
