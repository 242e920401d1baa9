import Foundation
import Ledger
import SQLKit
import Vapor

/// The operator's administration: registering orgs, people, the policy, the audit log; and the
/// regulator's overview by core enterprise and bank.
extension ConsolePages {
    @Sendable static func registerOrg(req: Request) async throws -> Response {
        let viewer = try await viewer(req)
        let values = form(req)
        do {
            var fields: [JSONKey: JSON] = [:]
            for key in ["name", "role", "creditCode"] { fields[key] = .string(values[key] ?? "") }
            var admin: NewUser?
            if let email = values["adminEmail"], !email.isEmpty {
                admin = try NewUser(StrictBody(fields: ["email": .string(email), "name": .string(values["adminName"] ?? ""), "password": .string(values["adminPassword"] ?? "")],
                                               path: "admin", allowed: ["email", "name", "password"]))
            }
            _ = try await OnboardingService.register(StrictBody(fields: fields, path: "", allowed: ["name", "role", "creditCode"]), admin: admin, by: viewer,
                                                     app: req.application, address: req.remoteAddress?.ipAddress)
            return redirect("/orgs", notice: "registered")
        } catch {
            var (message, state) = try formError(req, error, values: values.filter { $0.key != "adminPassword" },
                                                 fieldNames: ["payload.creditCode": "creditCode", "creditCode": "creditCode", "payload.name": "name", "admin.email": "adminEmail",
                                                              "admin.name": "adminName", "admin.password": "adminPassword", "email": "adminEmail"])
            if state.errors.isEmpty, (error as? LedgerError)?.code == .validationFailed { state.errors["creditCode"] = (error as? LedgerError)?.message }
            return try await orgsPage(req, form: state, error: message)
        }
    }

    // MARK: - People

    struct UserRow: Encodable {
        var email: String
        var name: String
        var role: String
        var createdAt: String
    }

    struct UsersPage: Encodable {
        var orgId: String
        var orgName: String
        var users: [UserRow]
        var form: FormState
    }

    @Sendable static func users(req: Request) async throws -> Response { try await usersPage(req, form: FormState(), error: nil) }

    static func usersPage(_ req: Request, form: FormState, error: String?) async throws -> Response {
        let viewer = try await viewer(req)
        let org = try req.orgIdParameter()
        try UserController.requireAdmin(of: org, viewer)
        let name = try await OrgController.find(org, on: req.application.sql)["name"]?.stringValue ?? ""
        let users = try await req.application.sql.raw("SELECT email, name, role, created_ms FROM users WHERE org_id = \(bind: org.description) ORDER BY email").all().map {
            UserRow(email: try $0.decode(column: "email", as: String.self), name: try $0.decode(column: "name", as: String.self),
                    role: req.tr("user_\(try $0.decode(column: "role", as: String.self))"), createdAt: Time.local(try $0.decode(column: "created_ms", as: Int64.self)))
        }
        return try await render(req, "operator/users", title: "users_title", page: UsersPage(orgId: org.description, orgName: name, users: users, form: form),
                                status: error == nil ? .ok : form.httpStatus, notice: notice(req), error: error)
    }

    @Sendable static func addUser(req: Request) async throws -> Response {
        let viewer = try await viewer(req)
        let org = try req.orgIdParameter()
        let values = form(req)
        do {
            try UserController.requireAdmin(of: org, viewer)
            var fields: [JSONKey: JSON] = [:]
            for key in ["email", "name", "password", "role"] { fields[key] = .string(values[key] ?? "") }
            _ = try await NewUser(StrictBody(fields: fields, path: "", allowed: ["email", "name", "password", "role"])).create(in: org, by: viewer, app: req.application, address: req.remoteAddress?.ipAddress)
            return redirect("/orgs/\(org)/users", notice: "user_added")
        } catch {
            let (message, state) = try formError(req, error, values: values.filter { $0.key != "password" })
            return try await usersPage(req, form: state, error: message)
        }
    }

    // MARK: - Policy

    struct PolicyField: Encodable {
        var key: String
        var label: String
        var value: String
        var error: String?
    }

    struct PolicyPage: Encodable {
        var fields: [PolicyField]
        var editable: Bool
    }

    static let policyKeys = ["maxTermDays", "minTermDays", "minPieceFen", "maxFaceFen", "maxTier", "acceptanceWindowDays", "financingCutoffDays", "graceDays"]

    @Sendable static func policy(req: Request) async throws -> Response { try await policyPage(req, form: FormState(), error: nil) }

    static func policyPage(_ req: Request, form: FormState, error: String?) async throws -> Response {
        let viewer = try await viewer(req)
        let current = try await req.application.requireSequencer().read(\.policy).json
        let fields = policyKeys.map { key in
            PolicyField(key: key, label: req.tr("policy_\(key)"), value: form.values[key] ?? String(current[key]?.intValue ?? 0), error: form.errors[key])
        }
        return try await render(req, "operator/policy", title: "policy_title", page: PolicyPage(fields: fields, editable: viewer.role == .operator),
                                status: error == nil ? .ok : form.httpStatus, notice: notice(req), error: error)
    }

    @Sendable static func setPolicy(req: Request) async throws -> Response {
        let viewer = try await viewer(req)
        let values = form(req)
        do {
            var fields: [JSONKey: JSON] = [:]
            for key in policyKeys {
                guard let n = values[key].flatMap({ Int64($0.trimmingCharacters(in: .whitespaces)) }) else { throw LedgerError.invalid(key, "must be a whole number") }
                fields[key] = .int(n)
            }
            _ = try await OnboardingService.setPolicy(fields, by: viewer, app: req.application, address: req.remoteAddress?.ipAddress)
            return redirect("/policy", notice: "policy_set")
        } catch {
            var fieldNames: [String: String] = [:]
            for key in policyKeys { fieldNames["payload.policy.\(key)"] = key }
            let (message, state) = try formError(req, error, values: values, fieldNames: fieldNames)
            return try await policyPage(req, form: state, error: message)
        }
    }

    // MARK: - Audit log (operator, regulator)

    struct AuditRow: Encodable {
        var time: String
        var action: String
        var email: String
        var address: String
        var detail: String
    }

    struct AuditPage: Encodable {
        var rows: [AuditRow]
        var action: String
        var actions: [String]
        var pager: Pager
    }

    @Sendable static func audit(req: Request) async throws -> Response {
        let viewer = try await viewer(req)
        guard viewer.seesAll else { throw Problem(.forbidden, "the audit log is for the operator and the regulator") }
        let action = try req.queryText("action", maxLength: 40, emptyIsAbsent: true) ?? ""
        var query: SQLQueryString = "SELECT time_ms, action, email, address, detail FROM audit_log"
        if !action.isEmpty { query += " WHERE action = \(bind: action)" }
        let number = Pager.number(req)
        query += " ORDER BY seq DESC"
        query += Pager.sql(number)
        func text(_ row: any SQLRow, _ c: String) throws -> String { try row.decodeNil(column: c) ? "" : try row.decode(column: c, as: String.self) }
        let (rows, pager) = Pager.make(req, number, rows: try await req.application.sql.raw(query).all().map {
            AuditRow(time: Time.local(try $0.decode(column: "time_ms", as: Int64.self)), action: try text($0, "action"), email: try text($0, "email"),
                     address: try text($0, "address"), detail: try text($0, "detail"))
        })
        let actions = try await req.application.sql.raw("SELECT DISTINCT action FROM audit_log ORDER BY action").all().map { try $0.decode(column: "action", as: String.self) }
        return try await render(req, "operator/audit", title: "audit_title", page: AuditPage(rows: rows, action: action, actions: actions, pager: pager))
    }

    // MARK: - The regulator's overview

    struct ExposureRow: Encodable {
        var name: String
        var outstanding: String
        var financed: String
        var cost: String
    }

    struct OverviewPage: Encodable {
        var byCore: [ExposureRow]
        var byBank: [ExposureRow]
        var byCoreChart: String
    }

    @Sendable static func overview(req: Request) async throws -> Response {
        let viewer = try await viewer(req)
        guard viewer.seesAll else { throw Problem(.forbidden, "the overview is for the regulator and the operator") }
        let sql = req.application.sql
        let names = try await ReceivableController.orgNames(on: sql)
        let byCore = try await sql.raw("""
            SELECT r.issuer_id AS org, CAST(SUM(CASE WHEN t.status IN ('pending', 'active', 'locked') THEN t.amount_fen ELSE 0 END) AS BIGINT) AS outstanding
            FROM receivables r JOIN tokens t ON t.receivable_id = r.id GROUP BY r.issuer_id ORDER BY r.issuer_id
            """).all().map { (try $0.decode(column: "org", as: String.self), try $0.decode(column: "outstanding", as: Int64.self)) }
        // Average financing cost: interest over amount, annualised by days, weighted by amount.
        let byBank = try await sql.raw("""
            SELECT bank_id AS org, CAST(SUM(amount_fen) AS BIGINT) AS financed, CAST(SUM(amount_fen * rate_bps) AS BIGINT) AS weighted
            FROM financings WHERE status IN ('approved', 'paid') GROUP BY bank_id ORDER BY bank_id
            """).all().map { (try $0.decode(column: "org", as: String.self), try $0.decode(column: "financed", as: Int64.self), try $0.decode(column: "weighted", as: Int64.self)) }
        let page = OverviewPage(
            byCore: byCore.map { ExposureRow(name: names[$0.0] ?? $0.0, outstanding: Money.format($0.1), financed: "", cost: "") },
            byBank: byBank.map { ExposureRow(name: names[$0.0] ?? $0.0, outstanding: "", financed: Money.format($0.1), cost: $0.1 > 0 ? Presenter.rate($0.2 / $0.1) : "") },
            byCoreChart: Charts.bars(byCore.map { (String((names[$0.0] ?? $0.0).prefix(8)), $0.1) }, caption: req.tr("overview_by_core")))
        return try await render(req, "regulator/overview", title: "overview_title", page: page)
    }
}

/// "Verify my receipt": anyone pastes an inclusion proof and sees it checked — the audit path
/// leads to the block's Merkle root, the header hashes to the block hash, the operator signed
/// it — and whether this node's own copy of that block is the same.
extension ConsolePages {
    struct ReceiptPage: Encodable {
        var proof: String
        var checked: Bool
        var ok: Bool
        var problem: String
        var matchesChain: Bool
        var height: Int64
        var transactionId: String
    }

    @Sendable static func receiptForm(req: Request) async throws -> Response {
        try await receiptPage(req, ReceiptPage(proof: "", checked: false, ok: false, problem: "", matchesChain: false, height: 0, transactionId: ""))
    }

    static func receiptPage(_ req: Request, _ page: ReceiptPage, status: HTTPResponseStatus = .ok) async throws -> Response {
        try await withPreSession(req) { try await render(req, "common/receipt", title: "receipt_title", page: page, status: status) }
    }

    @Sendable static func checkReceipt(req: Request) async throws -> Response {
        let text = String((form(req)["proof"] ?? "").prefix(64 * 1024))
        var page = ReceiptPage(proof: text, checked: true, ok: false, problem: "", matchesChain: false, height: 0, transactionId: "")
        let proof: InclusionProof
        do {
            proof = try InclusionProof(json: try JSON.parse(Array(text.utf8)))
        } catch {
            page.problem = req.tr("receipt_unreadable") + " (\(error))"
            return try await receiptPage(req, page, status: .unprocessableEntity)
        }
        page.height = proof.blockHeight
        page.transactionId = proof.transactionId
        let sql = req.application.sql
        guard let op = try await sql.raw("SELECT public_key FROM orgs WHERE role = 'operator'").first(),
              let key = Base64.decode(try op.decode(column: "public_key", as: String.self)) else {
            page.problem = req.tr("receipt_no_chain")
            return try await receiptPage(req, page)
        }
        if let problem = proof.problem(sealerPublicKey: key) {
            page.problem = problem
        } else {
            page.ok = true
        }
        let stored = try await sql.raw("SELECT hash FROM blocks WHERE height = \(bind: proof.blockHeight)").first().map { try $0.decode(column: "hash", as: String.self) }
        page.matchesChain = stored == proof.hash
        return try await receiptPage(req, page)
    }
}

extension ConsolePages {
    struct ExposureLine: Encodable {
        var name: String
        var amount: String
        var payout: String
        var count: Int64
    }

    struct ExposurePage: Encodable {
        var name: String
        var roleLabel: String
        var holdings: [ExposureLine]
        var financed: [ExposureLine]
        var issuedOutstanding: String
    }

    /// An org's exposure, for the regulator, the operator and the org itself.
    @Sendable static func exposure(req: Request) async throws -> Response {
        let viewer = try await viewer(req)
        let org = try req.orgIdParameter()
        guard viewer.seesAll || viewer.orgId == org else { throw Problem(.forbidden, "an org's exposure is shown to itself, the regulator and the operator") }
        let e = try await ExposureController.exposure(of: org, on: req.application.sql)
        let names = try await ReceivableController.orgNames(on: req.application.sql)
        let page = ExposurePage(
            name: e.org["name"]?.stringValue ?? "", roleLabel: req.tr("role_\(e.org["role"]?.stringValue ?? "")"),
            holdings: e.holdings.map { ExposureLine(name: names[$0.coreId] ?? $0.coreId, amount: Money.format($0.outstandingFen), payout: "", count: $0.tokens) },
            financed: e.financedAsSupplier.map { ExposureLine(name: names[$0.bankId] ?? $0.bankId, amount: Money.format($0.amountFen), payout: Money.format($0.payoutFen), count: $0.count) }
                + e.financedAsBank.map { ExposureLine(name: names[$0.supplierId] ?? $0.supplierId, amount: Money.format($0.amountFen), payout: Money.format($0.payoutFen), count: $0.count) },
            issuedOutstanding: Money.format(e.issuedOutstandingFen))
        return try await render(req, "regulator/exposure", title: "exposure_title", page: page)
    }
}
