import Crypto
import Foundation
import Ledger
import class Vapor.Application

/// Batch issue from an ERP export (SPEC §5): the core uploads a file, reads the report row by row,
/// then issues the valid rows together, each one exactly as a single issue would be (the same
/// service, rules and maker-checker). Uploading the same file again for the same credit line is
/// the same import, and a row is issued once.
package enum ImportService {
    /// How long one request holds an import while it issues its rows (a process killed meanwhile
    /// frees it when this has passed).
    package static let issueLeaseMs: Int64 = 15 * 60_000
    /// Rows submitted at once: enough for the writer to fill its blocks, few enough that other
    /// orgs' requests are not queued behind a whole batch.
    package static let rowsInFlight = 16

    /// Reads and judges `data`, and stores the import; `created` is false when the org imported
    /// this file for this line before (that import is the answer, its rows as they now stand).
    package static func upload(_ data: Data, fileName: String, creditLineId: TxID?, by viewer: Viewer, app: Application) async throws -> (import: ReceivableImport, created: Bool) {
        try viewer.require(.core, to: "import receivables")
        try viewer.caller.requirePreparer()
        let today = BusinessDate(epochMs: app.ledgerClock.nowMs())
        let line = try await creditLine(creditLineId, for: viewer, on: today, app: app)
        let sha = Hex.encode(Array(SHA256.hash(data: data)))
        if let id = try await ImportQueries.existing(core: viewer.orgId, fileSha256: sha, creditLineId: line.id, on: app.sql) {
            return (try await find(id, viewer: viewer, app: app), false)
        }
        let table = try ImportFile.read(data)
        let columns = try ImportRows.columns(table.header)
        let judged = try await judge(table.rows.map { ImportRows.line($0, columns: columns, table: table) }, line: line, today: today, fileName: fileName, app: app)
        let record = ReceivableImport(id: UUID().uuidString.lowercased(), coreId: viewer.orgId, fileSha256: sha, fileName: fileName, format: table.format.rawValue,
                                      creditLineId: line.id, uploadedBy: viewer.caller.userId, uploadedEmail: viewer.caller.email,
                                      uploadedMs: app.wallClock.nowMs(), rows: judged)
        guard try await ImportQueries.create(record, on: app.db) else {
            // The same file, uploaded twice at once: the other upload's import is the one.
            guard let id = try await ImportQueries.existing(core: viewer.orgId, fileSha256: sha, creditLineId: line.id, on: app.sql) else { throw StoreDamage("receivable_imports") }
            return (try await find(id, viewer: viewer, app: app), false)
        }
        return (record, true)
    }

    /// The line named, or the core's only usable one.
    static func creditLine(_ id: TxID?, for viewer: Viewer, on today: BusinessDate, app: Application) async throws -> CreditLine {
        if let id {
            guard let line = try await CreditLineQueries.find(id, visibleTo: viewer, on: app.sql), line.coreId == viewer.orgId else {
                throw LedgerError(.notFound, "credit line \(id) is not one of yours")
            }
            return line
        }
        let usable = try await CreditLineQueries.list(CreditLineQueries.Filter(), visibleTo: viewer, slice: Slice(limit: 1_000), on: app.sql)
            .filter { $0.coreId == viewer.orgId && $0.isUsable(on: today) }
        guard usable.count == 1 else {
            throw LedgerError.invalid("creditLineId", usable.isEmpty ? "you have no usable credit line to issue against"
                                                                     : "you have \(usable.count) usable credit lines: name the one the rows issue against")
        }
        return usable[0]
    }

    /// Each row against the platform as it stands: the supplier by its credit code, the policy's
    /// amounts and terms on today's business date, invoices used twice (in the file or by an open
    /// receivable) and the credit line, its room taken by the rows above. The ledger judges each
    /// again when it is issued.
    static func judge(_ lines: [Result<ImportLine, RowRefusal>], line: CreditLine, today: BusinessDate, fileName: String, app: Application) async throws -> [ImportRow] {
        let orgs = try await ImportQueries.orgsByCreditCode(on: app.sql)
        let policy = try await OrgQueries.policy(on: app.sql).map { try JSONDecoder().decode(Policy.self, from: Data($0.canonicalBytes)) } ?? Policy()
        let invoices = Set(lines.compactMap { try? $0.get().invoiceNumber })
        let open = try await ImportQueries.openInvoices(among: invoices, on: app.sql)
        var firstRowOf: [String: Int] = [:]
        var room = line.isUsable(on: today) ? line.availableFen : 0
        return lines.map { result in
            switch result {
            case .failure(let refusal):
                // ImportRows.line names the row it refuses.
                return refused(refusal)
            case .success(let l):
                var row = ImportRow(row: l.row, status: .valid)
                row.supplierCreditCode = l.supplierCreditCode
                row.faceFen = l.faceFen
                row.dueDate = l.dueDate
                row.invoiceNumber = l.invoiceNumber
                row.contractNumber = l.contractNumber
                row.memo = l.memo
                row.digest = digest(l, fileName: fileName)
                do {
                    guard let org = orgs[l.supplierCreditCode] else {
                        throw RowRefusal(.invalidCounterparty, "no organisation on the platform has the credit code \(l.supplierCreditCode)")
                    }
                    row.supplierId = org.id
                    guard org.role == OrgRole.supplier.rawValue else {
                        throw RowRefusal(.invalidCounterparty, "\(org.name) (\(l.supplierCreditCode)) is a \(org.role), not a supplier")
                    }
                    guard org.status == "active" else { throw RowRefusal(.orgSuspended, "\(org.name) (\(l.supplierCreditCode)) is suspended") }
                    guard l.faceFen >= policy.minPieceFen, l.faceFen <= policy.maxFaceFen else {
                        throw RowRefusal(.amountOutOfRange, "the amount \(Money.format(l.faceFen)) is outside \(Money.format(policy.minPieceFen)) to \(Money.format(policy.maxFaceFen))")
                    }
                    let term = today.days(until: l.dueDate)
                    guard term >= policy.minTermDays, term <= policy.maxTermDays else {
                        throw RowRefusal(.termOutOfRange, "due date \(l.dueDate) is \(term) days after today, \(today); it must be \(policy.minTermDays) to \(policy.maxTermDays) days")
                    }
                    if let first = firstRowOf[l.invoiceNumber] {
                        throw RowRefusal(.duplicateInvoice, "invoice \(l.invoiceNumber) is also on row \(first)")
                    }
                    firstRowOf[l.invoiceNumber] = l.row
                    if let other = open[l.invoiceNumber] {
                        throw RowRefusal(.duplicateInvoice, "invoice \(l.invoiceNumber) already backs receivable \(other.number)")
                    }
                    guard line.isUsable(on: today) else {
                        throw RowRefusal(.creditLineUnusable, "credit line \(line.id) is \(line.status == .frozen ? "frozen" : "expired since \(line.expiresOn)")")
                    }
                    guard l.faceFen <= room else {
                        throw RowRefusal(.insufficientCredit, "credit line \(line.id) has \(Money.format(room)) left after the rows above, less than \(Money.format(l.faceFen))")
                    }
                    room -= l.faceFen
                } catch let refusal as RowRefusal {
                    row.status = .refused
                    row.code = refusal.code.rawValue
                    row.message = refusal.message
                } catch {
                    row.status = .refused
                    row.code = ErrorCode.validationFailed.rawValue
                    row.message = "\(error)"
                }
                return row
            }
        }
    }

    static func refused(_ refusal: RowRefusal) -> ImportRow {
        var row = ImportRow(row: refusal.row ?? 0, status: .refused)
        row.code = refusal.code.rawValue
        row.message = refusal.message
        return row
    }

    /// The SHA-256 of the row's fields (RFC 8785): the hash its invoice and contract documents
    /// carry on the chain, so the row an issue came from can be checked against the ERP's.
    static func digest(_ l: ImportLine, fileName: String) -> String {
        var fields: [JSONKey: JSON] = ["file": .string(fileName), "row": .int(Int64(l.row)), "supplierCreditCode": .string(l.supplierCreditCode),
                                       "amountFen": .int(l.faceFen), "dueDate": .string(l.dueDate.description), "invoiceNumber": .string(l.invoiceNumber)]
        if let c = l.contractNumber { fields["contractNumber"] = .string(c) }
        if let m = l.memo { fields["memo"] = .string(m) }
        return Hex.encode(Array(SHA256.hash(data: JSON.object(fields).canonicalBytes)))
    }

    /// The import, with what checkers decided since about the rows they held.
    package static func find(_ id: String, viewer: Viewer, app: Application) async throws -> ReceivableImport {
        guard var found = try await ImportQueries.find(id, visibleTo: viewer, on: app.sql) else { throw LedgerError(.notFound, "no such import") }
        for (index, row) in found.rows.enumerated() where row.status == .valid {
            guard let approvalId = row.approvalId, let approval = try? await ApprovalQueries.find(approvalId, org: found.coreId, on: app.sql) else { continue }
            var decided = row
            switch approval.status {
            case .approved:
                guard let first = approval.transactionIds.first.flatMap(TxID.init) else { continue }
                decided.status = .issued
                decided.receivableId = first
            case .rejected, .withdrawn:
                decided.status = .refused
                decided.code = ErrorCode.forbidden.rawValue
                decided.message = approval.status == .rejected ? "the checker rejected it: \(approval.reason ?? "no reason given")" : "its maker withdrew it"
            case .pending, .approving:
                continue
            }
            try await ImportQueries.record(id, decided, on: app.sql)
            found.rows[index] = decided
        }
        return found
    }

    /// Issues every valid row not yet issued or waiting for a checker, each as a single issue
    /// would be; a row the ledger refuses is marked so, and the others stand.
    package static func issue(_ id: String, by viewer: Viewer, app: Application) async throws -> ReceivableImport {
        try viewer.require(.core, to: "issue receivables")
        try viewer.caller.requirePreparer()
        let found = try await find(id, viewer: viewer, app: app)
        guard found.coreId == viewer.orgId else { throw LedgerError(.notFound, "no such import") }
        let now = app.wallClock.nowMs()
        guard try await ImportQueries.claim(id, nowMs: now, untilMs: now + issueLeaseMs, on: app.sql) else {
            throw LedgerError(.idempotencyConflict, "this import's rows are being issued by another request; read the import again in a moment")
        }
        do {
            let waiting = found.rows.filter { $0.status == .valid && $0.approvalId == nil }
            for batch in waiting.chunked(rowsInFlight) {
                try await withThrowingTaskGroup(of: ImportRow.self) { group in
                    for row in batch { group.addTask { try await issueRow(row, of: found, by: viewer, app: app) } }
                    for try await done in group { try await ImportQueries.record(id, done, on: app.sql) }
                }
            }
        } catch {
            try? await ImportQueries.release(id, on: app.sql)
            throw error
        }
        try await ImportQueries.release(id, on: app.sql)
        return try await find(id, viewer: viewer, app: app)
    }

    static func issueRow(_ row: ImportRow, of i: ReceivableImport, by viewer: Viewer, app: Application) async throws -> ImportRow {
        guard let supplier = row.supplierId, let face = row.faceFen, let due = row.dueDate, let invoice = row.invoiceNumber, let digest = row.digest else {
            throw StoreDamage("receivable_import_rows \(i.id) \(row.row)")
        }
        let name = "\(i.fileName)#\(row.row)".prefix(Limits.maxFileNameLength)
        var documents = [Document(kind: .invoice, sha256: digest, number: invoice, fileName: String(name))]
        if let contract = row.contractNumber { documents.append(Document(kind: .contract, sha256: digest, number: contract, fileName: String(name))) }
        var done = row
        do {
            switch try await ReceivableService.issue(.init(supplierId: supplier, creditLineId: i.creditLineId, faceFen: face, dueDate: due, documents: documents, memo: row.memo),
                                                     by: viewer.caller, app: app) {
            case .done(let outcome):
                done.status = .issued
                done.receivableId = outcome.effects.receivableId
            case .pending(let approval):
                done.approvalId = approval.id
            }
        } catch let error as LedgerError {
            // Issued before a process was stopped between the ledger and this record: the invoice
            // now backs the core's own receivable for this very row.
            if error.code == .duplicateInvoice, let earlier = try await ImportQueries.openInvoices(among: [invoice], on: app.sql)[invoice], earlier.issuerId == i.coreId,
               let r = try await ReceivableQueries.find(earlier.id, visibleTo: viewer, on: app.sql),
               r.firstHolderId == supplier, r.faceFen == face, r.dueDate == due, r.documents.contains(where: { $0.sha256 == digest }) {
                done.status = .issued
                done.receivableId = r.id
                return done
            }
            done.status = .refused
            done.code = error.code.rawValue
            done.message = error.message
        }
        return done
    }
}
