import Core
import Foundation
import Ledger
import SQLKit
import Vapor

/// `GET /payments`, `GET /payments/{id}`: the payments the platform instructed, for their payer,
/// their payee, the regulator and the operator. `POST /rails/bank/notifications`: a bank's
/// camt.054. `GET /orgs/{id}/payment-accounts`, `PUT /orgs/{id}/payment-accounts/{rail}`: where an
/// org pays and is paid.
package enum PaymentController {
    /// `?status=&kind=&financingId=&receivableId=`, newest first.
    @Sendable package static func list(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        let page = try Page(req, keyCount: 2)
        let filter = PaymentQueries.Filter(status: try req.queryEnum("status", PaymentStatus.self), kind: try req.queryEnum("kind", PaymentKind.self),
                                           financingId: try req.queryId("financingId", TxID.init, "a financing id (64 lowercase hex)"),
                                           receivableId: try req.queryId("receivableId", TxID.init, "a receivable id (64 lowercase hex)"))
        return try await PaymentQueries.list(filter, visibleTo: viewer, page: page, on: req.application.sql).json { $0.json() }.response()
    }

    @Sendable package static func show(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        guard let id = req.parameters.get("id"), id.count == 32, Hex.isLowercaseHex(id, length: 32) else {
            throw LedgerError.invalid("id", "must be a payment id (32 lowercase hex characters)")
        }
        guard let payment = try await PaymentQueries.find(id, visibleTo: viewer, on: req.application.sql) else {
            throw Problem(.notFound, "no such payment")
        }
        return try payment.json(history: try await PaymentStore.history(of: id, on: req.application.sql)).response()
    }

    /// `POST /payments/{id}/retry`: `201` with the new attempt.
    @Sendable package static func retry(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        _ = try StrictBody(req, allowed: [])
        guard let id = req.parameters.get("id"), Hex.isLowercaseHex(id, length: 32) else { throw LedgerError.invalid("id", "must be a payment id (32 lowercase hex characters)") }
        return try await PaymentService.retry(id, by: viewer, app: req.application, address: req.remoteAddress?.ipAddress).json().response(status: .created)
    }

    /// A bank posts a `camt.054.001.08` document (`application/xml`): `{messageId, entries}`, each
    /// entry saying whether it moved a payment of the bank's.
    @Sendable package static func bankNotification(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        guard viewer.role == .bank else { throw Problem(.forbidden, "a bank posts the notifications of the accounts it keeps") }
        try viewer.caller.requirePreparer()
        guard let rail = req.application.rails["bank"] else { throw Problem(.notFound, "the bank-transfer rail is not connected on this server") }
        guard let body = req.body.data, body.readableBytes > 0 else { throw LedgerError.invalid("document", "send a camt.054.001.08 document as the body") }
        let taken = try await PaymentService.take(Array(body.readableBytesView), rail: rail, from: viewer.orgId, app: req.application)
        return JSON.object(["messageId": .string(taken.messageId), "entries": .array(taken.entries)]).response()
    }

    /// `GET /rails/bank/instructions`: the pain.001 files for a bank that takes them through the
    /// API rather than a host-to-host folder, newest first.
    @Sendable package static func instructions(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        let page = try Page(req, keyCount: 2)
        return try await PaymentQueries.instructions(visibleTo: viewer, page: page, on: req.application.sql).json { i in
            ["id": .string(i.id), "kind": .string(i.kind), "payerId": i.payerId.map(JSON.string) ?? .null, "createdAt": .string(Time.rfc3339(i.createdMs)),
             "deliveredAt": i.deliveredMs.map { .string(Time.rfc3339($0)) } ?? .null, "href": .string("/api/v1/rails/bank/instructions/\(i.id)")]
        }.response()
    }

    /// `GET /rails/bank/instructions/{id}`: the pain.001.001.09 document itself, as it was made.
    @Sendable package static func instruction(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        guard let id = req.parameters.get("id"), id.count <= 35, id.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }) else {
            throw LedgerError.invalid("id", "must be an instruction's message id (up to 35 letters and digits)")
        }
        guard let body = try await PaymentQueries.instructionBody(id, visibleTo: viewer, on: req.application.sql) else { throw Problem(.notFound, "no such instruction") }
        var headers = HTTPHeaders()
        headers.replaceOrAdd(name: .contentType, value: "application/xml; charset=utf-8")
        headers.replaceOrAdd(name: .contentDisposition, value: "attachment; filename=\"\(id).xml\"")
        return Response(status: .ok, headers: headers, body: .init(string: body))
    }

    /// `?date=YYYY-MM-DD`, today's business date by default: the viewer's own org's payments, every
    /// org's for the regulator and the operator.
    package static func report(_ req: Request) async throws -> Reconciliation.Report {
        let viewer = try await req.viewer()
        let date: BusinessDate
        if let text = try req.queryText("date", maxLength: 10) {
            guard let d = BusinessDate(text) else { throw LedgerError.invalid("date", "must be a date YYYY-MM-DD") }
            date = d
        } else {
            date = req.application.businessDate
        }
        return try await ReconciliationQueries.report(on: date, for: viewer.seesAll ? nil : viewer.orgId, sql: req.application.sql)
    }

    @Sendable package static func reconciliation(req: Request) async throws -> Response {
        Reconciliation.json(try await report(req)).response()
    }

    /// The same report as CSV, UTF-8 with a byte-order mark: the totals, then every difference.
    @Sendable package static func reconciliationCSV(req: Request) async throws -> Response {
        let r = try await report(req)
        let names = try await ReceivableQueries.orgNames(on: req.application.sql)
        var body = ByteBuffer(bytes: [0xEF, 0xBB, 0xBF])
        func add(_ cells: [String]) { var l = ExportController.line(cells); body.writeBuffer(&l) }
        add(["日期 date", "类别 category", "笔数 count", "金额(元) amount", "付款方 payer", "收款方 payee", "付款 payment", "交易 transaction", "说明 detail"])
        for status in ["instructed", "settled", "returned", "failed"] {
            let t = r.rail[status] ?? Reconciliation.Totals()
            add([r.date.description, "rail \(status)", String(t.count), ExportController.yuan(t.amountFen), "", "", "", "", ""])
        }
        add([r.date.description, "ledger via rail", String(r.ledgerViaRail.count), ExportController.yuan(r.ledgerViaRail.amountFen), "", "", "", "", ""])
        add([r.date.description, "ledger manual", String(r.ledgerManual.count), ExportController.yuan(r.ledgerManual.amountFen), "", "", "", "", ""])
        for d in r.differences {
            add([r.date.description, "difference: \(d.kind)", "1", ExportController.yuan(d.amountFen), names[d.payerId] ?? d.payerId, names[d.payeeId] ?? d.payeeId,
                 d.paymentId ?? "", d.transactionId ?? "", d.detail])
        }
        var headers = HTTPHeaders()
        headers.replaceOrAdd(name: .contentType, value: "text/csv; charset=utf-8")
        headers.replaceOrAdd(name: .contentDisposition, value: "attachment; filename=\"reconciliation-\(r.date).csv\"")
        return Response(status: .ok, headers: headers, body: .init(buffer: body))
    }

    /// `POST /rails/ecny/callbacks`: the wallet service's signed, sealed callback. One whose
    /// signature does not verify is refused (401), logged, and changes nothing.
    @Sendable package static func ecnyCallback(req: Request) async throws -> Response {
        guard let rail = req.application.rails["ecny"] else { throw Problem(.notFound, "the e-CNY rail is not connected on this server") }
        let body = req.body.data.map { Array($0.readableBytesView) } ?? []
        let folded = Array("\(req.headers.first(name: "X-Wallet-Timestamp") ?? "")\n\(req.headers.first(name: "X-Wallet-Signature") ?? "")\n".utf8) + body
        do {
            let taken = try await PaymentService.take(folded, rail: rail, from: nil, app: req.application)
            return JSON.object(["entries": .array(taken.entries)]).response()
        } catch let error as LedgerError where error.code.httpStatus == 401 {
            req.logger.warning("e-CNY callback refused from \(req.remoteAddress?.ipAddress ?? "?"): \(error.message)")
            try await AuditLog.record(AuditLog.Entry(action: "rail.callback.refused", address: req.remoteAddress?.ipAddress, detail: "e-CNY callback: \(error.message)"),
                                      nowMs: req.application.wallClock.nowMs(), on: req.application.sql)
            throw error
        }
    }

    @Sendable package static func accounts(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        let org = try req.orgIdParameter()
        guard viewer.seesAll || viewer.orgId == org else { throw Problem(.notFound, "no such organisation") }
        var items: [JSON] = []
        for rail in ["bank", "ecny"] { if let a = try await PaymentAccounts.find(org, rail: rail, on: req.application.sql) { items.append(a.json) } }
        let paysBy = try await PaymentAccounts.choice(of: org, on: req.application.sql)
        return JSON.object(["items": .array(items), "paysBy": paysBy.map { .string($0.rawValue) } ?? .null]).response()
    }

    /// `PUT /orgs/{id}/payment-rail {rail: "ecny"|"bank"|"manual"|null}`: the rail the org pays by.
    @Sendable package static func setPaysBy(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        let org = try req.orgIdParameter()
        let body = try StrictBody(req, allowed: ["rail"])
        let choice: PaysBy?
        if body.fields["rail"] == .null {
            choice = nil
        } else {
            let text = try body.string("rail", maxLength: 8)!  // missing: "is required"
            guard let c = PaysBy(rawValue: text) else { throw LedgerError.invalid("rail", "must be ecny, bank, manual or null") }
            choice = c
        }
        try await PaymentSettingsService.choose(choice, for: org, by: viewer, app: req.application, address: req.remoteAddress?.ipAddress)
        return JSON.object(["orgId": .string(org.description), "paysBy": choice.map { .string($0.rawValue) } ?? .null]).response()
    }

    /// `PUT /orgs/{id}/payment-accounts/{bank|ecny} {account, accountName, agent, agentOrgId?}`.
    @Sendable package static func setAccount(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        let org = try req.orgIdParameter()
        let rail = req.parameters.get("rail") ?? ""
        guard rail == "bank" || rail == "ecny" else { throw Problem(.notFound, "no such rail: bank (a bank account) or ecny (an e-CNY wallet)") }
        let body = try StrictBody(req, allowed: ["account", "accountName", "agent", "agentOrgId"])
        let input = PaymentSettingsService.AccountInput(account: try body.string("account", maxLength: 34)!, accountName: try body.string("accountName", maxLength: 140)!,
                                                        agent: try body.string("agent", maxLength: 12, optional: rail == "ecny") ?? "",
                                                        agentOrgId: try body.string("agentOrgId", maxLength: 36, optional: true))
        return try await PaymentSettingsService.setAccount(input, rail: rail, of: org, by: viewer, app: req.application, address: req.remoteAddress?.ipAddress).json.response()
    }
}
