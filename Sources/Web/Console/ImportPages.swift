import Core
import Foundation
import Ledger
import Vapor

/// Batch issue from an ERP export, in the console: upload a file, read its report, issue the
/// valid rows. The same service as `POST /api/v1/receivables/imports`.
package enum ImportPages: ConsoleArea {
    package struct ImportSummary: Encodable {
        package var id: String
        package var fileName: String
        package var uploadedBy: String
        package var uploadedAt: String
        package var total: Int
        package var valid: Int
        package var refused: Int
        package var issued: Int
    }

    package struct ImportsPage: Encodable {
        package var imports: [ImportSummary]
        package var lines: [ReceivablePages.LineOption]
        package var canUpload: Bool
        package var maxRows: Int
        package var columns: [ColumnView]
    }

    package struct ColumnView: Encodable {
        package var english: String
        package var chinese: String
    }

    package struct RowView: Encodable {
        package var row: Int
        package var status: String
        package var statusLabel: String
        package var supplier: String
        package var amount: String
        package var dueDate: String
        package var invoiceNumber: String
        package var problem: String
        package var receivableId: String
        package var approvalId: String
    }

    package struct ImportPage: Encodable {
        package var summary: ImportSummary
        package var rows: [RowView]
        package var shown: Int
        package var filter: String
        package var canIssue: Bool
        package var waiting: Int
    }

    /// Rows shown at once (a 10,000-row report is read refused rows first, by filter).
    package static let shownRows = 500

    @Sendable package static func list(req: Request) async throws -> Response {
        try await listPage(req, error: nil, status: .ok)
    }

    static func listPage(_ req: Request, error: String?, status: HTTPResponseStatus) async throws -> Response {
        let viewer = try await viewer(req)
        guard viewer.role == .core || viewer.seesAll else { throw Problem(.forbidden, "only a core enterprise imports receivables") }
        let imports = try await ImportQueries.list(visibleTo: viewer, limit: 100, on: req.application.sql).map { i, counts in
            summary(i, total: counts.values.reduce(0, +), valid: counts["valid"] ?? 0, refused: counts["refused"] ?? 0, issued: counts["issued"] ?? 0)
        }
        var lines: [ReceivablePages.LineOption] = []
        if viewer.role == .core {
            let today = req.application.businessDate
            lines = try await CreditLineQueries.list(.init(status: .active, coreId: viewer.orgId), visibleTo: viewer, slice: Slice(limit: 500), on: req.application.sql)
                .filter { $0.isUsable(on: today) }
                .map { .init(id: $0.id.description, label: "\($0.id.description.prefix(8))… \(Money.format($0.availableFen))") }
        }
        let page = ImportsPage(imports: imports, lines: lines, canUpload: viewer.role == .core && viewer.caller.userRole.prepares, maxRows: ImportFile.maxRows,
                               columns: ImportColumn.allCases.map { ColumnView(english: $0.rawValue, chinese: $0.chinese) })
        return try await render(req, "core/imports", title: "nav_imports", page: page, status: status, notice: notice(req), error: error)
    }

    static func summary(_ i: ReceivableImport, total: Int, valid: Int, refused: Int, issued: Int) -> ImportSummary {
        ImportSummary(id: i.id, fileName: i.fileName, uploadedBy: i.uploadedEmail, uploadedAt: Time.local(i.uploadedMs), total: total, valid: valid, refused: refused, issued: issued)
    }

    @Sendable package static func upload(req: Request) async throws -> Response {
        let viewer = try await viewer(req)
        do {
            let (data, name, line) = try ImportController.upload(req)
            let (found, _) = try await ImportService.upload(data, fileName: name, creditLineId: line, by: viewer, app: req.application)
            return redirect("/receivables/imports/\(found.id)", notice: "imported")
        } catch {
            let (message, state) = try formError(req, error, values: [:])
            return try await listPage(req, error: message + (state.errors.values.first.map { " — " + $0 } ?? ""), status: state.httpStatus)
        }
    }

    @Sendable package static func show(req: Request) async throws -> Response {
        let viewer = try await viewer(req)
        let found = try await ImportService.find(try ImportController.id(req), viewer: viewer, app: req.application)
        return try await render(req, "core/import", title: "nav_imports", page: try await model(req, found, viewer: viewer), notice: notice(req))
    }

    static func model(_ req: Request, _ found: ReceivableImport, viewer: Viewer) async throws -> ImportPage {
        let p = try await Presenter.make(req)
        let filter = req.query[String.self, at: "status"].flatMap(ImportRow.Status.init(rawValue:))
        let rows = found.rows.filter { filter == nil || $0.status == filter }
        let views = rows.prefix(shownRows).map { r in
            RowView(row: r.row, status: r.status.rawValue, statusLabel: p.tr("import_status_\(r.status.rawValue)"),
                    supplier: r.supplierId.map(p.name) ?? r.supplierCreditCode ?? "", amount: r.faceFen.map(Money.format) ?? "",
                    dueDate: r.dueDate?.description ?? "", invoiceNumber: r.invoiceNumber ?? "",
                    problem: r.code.map { p.tr("error_\($0)") + " — " + (r.message ?? "") } ?? "",
                    receivableId: r.receivableId?.description ?? "", approvalId: r.approvalId ?? "")
        }
        let waiting = found.rows.filter { $0.status == .valid && $0.approvalId == nil }.count
        return ImportPage(summary: summary(found, total: found.rows.count, valid: found.count(.valid), refused: found.count(.refused), issued: found.count(.issued)),
                          rows: Array(views), shown: rows.count, filter: filter?.rawValue ?? "",
                          canIssue: viewer.role == .core && viewer.caller.userRole.prepares && waiting > 0, waiting: waiting)
    }

    @Sendable package static func issue(req: Request) async throws -> Response {
        let viewer = try await viewer(req)
        let id = try ImportController.id(req)
        do {
            _ = try await ImportService.issue(id, by: viewer, app: req.application)
            return redirect("/receivables/imports/\(id)", notice: "import_issued")
        } catch {
            let (message, state) = try formError(req, error, values: [:])
            let found = try await ImportService.find(id, viewer: viewer, app: req.application)
            return try await render(req, "core/import", title: "nav_imports", page: try await model(req, found, viewer: viewer), status: state.httpStatus, error: message)
        }
    }
}
