import FluentKit
import Foundation
import Ledger
import NIOConcurrencyHelpers
import SQLKit
import class Vapor.Application
import protocol Vapor.StorageKey

/// The actions an org may have wait for a checker (四眼原则): a bank's approving a financing,
/// confirming a payout, granting or changing a credit line; a core enterprise's issuing and
/// settling. `changeRules` is not configurable: loosening an org's rules waits for a checker
/// whenever the org has any, so that nobody switches the four eyes off alone.
package enum ApprovalAction: String, CaseIterable, Sendable {
    case approveFinancing, confirmPayout, grantCredit, updateCredit, issue, settle, changeRules
    /// Making someone a checker or an admin: always waits, for a second admin of the org or the
    /// operator (four eyes over who holds the four eyes).
    case grantRole
    /// A core's early-payment program made to spend more of its cash (switched on, a lower
    /// hurdle, a larger budget): not configurable, it waits whenever the org has any rule.
    case changeProgram

    /// The actions an org of `role` can have wait for a checker.
    package static func configurable(for role: OrgRole) -> [ApprovalAction] {
        switch role {
        case .bank: [.approveFinancing, .confirmPayout, .grantCredit, .updateCredit]
        case .core: [.issue, .settle]
        default: []
        }
    }
}

/// One rule: `action` waits for a checker when its amount is at least `minAmountFen` (0: always).
package struct ApprovalRule: Sendable, Equatable {
    package var action: ApprovalAction
    package var minAmountFen: Int64

    package init(action: ApprovalAction, minAmountFen: Int64) {
        self.action = action
        self.minAmountFen = minAmountFen
    }

    package var json: JSON { ["action": .string(action.rawValue), "minAmountFen": .int(minAmountFen)] }
}

/// What a maker asked for, kept until a checker approves it: a ledger payload (an issue's date
/// is set again when it is performed), a settlement of every payable piece, or new rules.
package enum PreparedOperation: Sendable {
    case ledger(Payload)
    case settleAll(receivableId: TxID, reference: String)
    case rules([ApprovalRule])
    /// A person of the org given the checker or the admin role.
    case role(userId: String, email: String, role: UserRole)
    /// The core's early-payment program, loosened.
    case program(EarlyPaymentProgram)

    package var json: JSON {
        switch self {
        case .ledger(let p): ["kind": "ledger", "type": .string(p.type.rawValue), "payload": p.json]
        case .settleAll(let r, let reference): ["kind": "settleAll", "receivableId": .string(r.description), "reference": .string(reference)]
        case .rules(let rules): ["kind": "rules", "rules": .array(rules.map(\.json))]
        case .role(let user, let email, let role): ["kind": "role", "userId": .string(user), "email": .string(email), "role": .string(role.rawValue)]
        case .program(let p): ["kind": "program", "program": p.json]
        }
    }

    package init(json: JSON) throws {
        switch json["kind"]?.stringValue {
        case "ledger":
            guard let type = json["type"]?.stringValue.flatMap(TxType.init(rawValue:)) else { throw StoreDamage("approval operation type") }
            self = .ledger(try Payload(type: type, json: json["payload"]))
        case "settleAll":
            guard let r = json["receivableId"]?.stringValue.flatMap(TxID.init), let reference = json["reference"]?.stringValue else { throw StoreDamage("approval settlement") }
            self = .settleAll(receivableId: r, reference: reference)
        case "rules":
            guard case .array(let items)? = json["rules"] else { throw StoreDamage("approval rules") }
            self = .rules(try items.map {
                guard let a = $0["action"]?.stringValue.flatMap(ApprovalAction.init(rawValue:)), case .int(let min)? = $0["minAmountFen"] else { throw StoreDamage("approval rule") }
                return ApprovalRule(action: a, minAmountFen: min)
            })
        case "role":
            guard let user = json["userId"]?.stringValue, let email = json["email"]?.stringValue,
                  let role = json["role"]?.stringValue.flatMap(UserRole.init(rawValue:)) else { throw StoreDamage("approval role") }
            self = .role(userId: user, email: email, role: role)
        case "program":
            guard let p = json["program"], case .bool(let active)? = p["active"], case .int(let hurdle)? = p["hurdleBps"],
                  case .int(let budget)? = p["dailyBudgetFen"], let cutoff = p["cutoffTime"]?.stringValue else { throw StoreDamage("approval program") }
            self = .program(EarlyPaymentProgram(active: active, hurdleBps: hurdle, dailyBudgetFen: budget, cutoffTime: cutoff))
        default: throw StoreDamage("approval operation kind")
        }
    }

    /// The action whose rule decides whether it waits; nil for rules, which wait when they loosen.
    package var action: ApprovalAction? {
        switch self {
        case .ledger(.approveFinancing): .approveFinancing
        case .ledger(.confirmPayout): .confirmPayout
        case .ledger(.grantCredit): .grantCredit
        case .ledger(.updateCredit): .updateCredit
        case .ledger(.issue): .issue
        case .ledger(.settle), .settleAll: .settle
        case .ledger, .rules, .role, .program: nil
        }
    }

    /// Settles pieces: the answer lists every transaction and token, as `POST …/settle` does.
    package var isSettlement: Bool {
        if case .settleAll = self { return true }
        if case .ledger(.settle) = self { return true }
        return false
    }
}

/// A service's answer to a maker: done, or waiting for a checker.
package enum Prepared<Done: Sendable>: Sendable {
    case done(Done)
    case pending(Approval)
}

extension Prepared {
    /// The approval it waits for, if it does.
    package var held: Approval? {
        if case .pending(let approval) = self { return approval }
        return nil
    }
}

/// What an approved operation became: its transactions' outcomes, in order (several for a
/// settlement of many pieces), or the rules now in force.
package struct Performed: Sendable {
    package var outcomes: [Outcome] = []
    package var rules: [ApprovalRule]?
    /// The payments a settlement instructed on the core's rail.
    package var payments: [Payment] = []
    /// The person whose role changed, as the API shows a person.
    package var person: JSON?
    /// The early-payment program now in force.
    package var program: EarlyPaymentProgram?
}

package enum ApprovalStatus: String, CaseIterable, Sendable {
    case pending, approving, approved, rejected, withdrawn
}

/// An operation prepared by one person of an org, for another with the checker role.
package struct Approval: Sendable {
    package var id: String
    package var orgId: OrgID
    package var action: ApprovalAction
    package var status: ApprovalStatus
    package var operation: PreparedOperation
    package var amountFen: Int64
    package var subjectId: String
    package var summary: String
    package var summaryZh: String
    package var preparedBy: String
    package var preparedEmail: String
    package var preparedMs: Int64
    package var decidedBy: String?
    package var decidedEmail: String?
    package var decidedMs: Int64?
    package var reason: String?
    package var transactionIds: [String]
    package var lastError: String?

    package static let columns = "id, org_id, action, status, operation, amount_fen, subject_id, summary, summary_zh, prepared_by, prepared_email, prepared_ms, decided_by, decided_email, decided_ms, reason, transaction_ids, last_error"

    package init(row: any SQLRow) throws {
        func text(_ c: String) throws -> String { try row.decode(column: c, as: String.self) }
        guard let org = OrgID(try text("org_id")), let action = ApprovalAction(rawValue: try text("action")),
              let status = ApprovalStatus(rawValue: try text("status")) else { throw StoreDamage("approval row") }
        id = try text("id"); orgId = org; self.action = action; self.status = status
        operation = try PreparedOperation(json: try JSON.parse(Array(try text("operation").utf8)))
        amountFen = try row.decode(column: "amount_fen", as: Int64.self)
        subjectId = try text("subject_id"); summary = try text("summary"); summaryZh = try text("summary_zh")
        preparedBy = try text("prepared_by"); preparedEmail = try text("prepared_email"); preparedMs = try row.decode(column: "prepared_ms", as: Int64.self)
        decidedBy = try row.decode(column: "decided_by", as: String?.self); decidedEmail = try row.decode(column: "decided_email", as: String?.self)
        decidedMs = try row.decode(column: "decided_ms", as: Int64?.self); reason = try row.decode(column: "reason", as: String?.self)
        guard case .array(let ids) = try JSON.parse(Array(try text("transaction_ids").utf8)) else { throw StoreDamage("approval transactions") }
        transactionIds = ids.compactMap(\.stringValue)
        lastError = try row.decode(column: "last_error", as: String?.self)
    }

    package var json: JSON {
        func person(_ id: String?, _ email: String?) -> JSON { id.map { ["id": .string($0), "email": .string(email ?? "")] } ?? .null }
        return ["id": .string(id), "orgId": .string(orgId.description), "action": .string(action.rawValue), "status": .string(status.rawValue),
                "amountFen": .int(amountFen), "subjectId": .string(subjectId), "summary": .string(summary), "summaryZh": .string(summaryZh),
                "preparedBy": person(preparedBy, preparedEmail), "preparedAt": .string(Time.rfc3339(preparedMs)),
                "decidedBy": person(decidedBy, decidedEmail), "decidedAt": decidedMs.map { .string(Time.rfc3339($0)) } ?? .null,
                "reason": reason.map(JSON.string) ?? .null, "transactionIds": .array(transactionIds.map(JSON.string)),
                "lastError": lastError.map(JSON.string) ?? .null]
    }
}

/// The approval being performed by this task: the transactions it submits are noted on it first,
/// and they need no preparer (a checker approved them).
package struct ApprovalInFlight: Sendable {
    package let id: String
    package let sql: any SQLDatabase

    @TaskLocal package static var current: ApprovalInFlight?

    /// Appends `transaction` to the approval's list before it is submitted: a restart then learns
    /// whether it was committed instead of performing the operation twice.
    package func note(_ transaction: TxID) async throws {
        try await ApprovalRecords.note(transaction, in: id, on: sql)
    }
}

/// Maker-checker: holding an operation for a checker when the org's rules say so, and a
/// checker's approving (the operation is signed and submitted only then) or rejecting it.
/// The chain does not change: approvals live in the database and the audit log.
package enum ApprovalService {
    /// Holds `operation` for a checker if the caller's org has it wait; nil when it goes ahead now
    /// (no rule for it, or an amount under the rule's). Under a rule, an operation that names
    /// nothing live of the caller's org is refused here: it never reaches the ledger unapproved,
    /// not even in a race with what it names. Only makers and admins prepare.
    package static func hold(_ operation: PreparedOperation, by caller: Caller, app: Application, address: String? = nil) async throws -> Approval? {
        if ApprovalInFlight.current != nil { return nil }
        try caller.requirePreparer()
        let sql = app.sql
        let rules = try await ApprovalQueries.rules(of: caller.orgId, on: sql)
        if let action = operation.action, !rules.contains(where: { $0.action == action }) { return nil }
        guard let subject = try await describe(operation, org: caller.orgId, rules: rules, app: app) else { return nil }
        if ![.changeRules, .grantRole, .changeProgram].contains(subject.action) {
            guard let rule = rules.first(where: { $0.action == subject.action }), subject.amountFen >= rule.minAmountFen else { return nil }
        }
        // Nothing the ledger would refuse today waits for a checker: its refusal is the answer now.
        try await trial(operation, by: caller, app: app)
        let id = UUID().uuidString.lowercased(), now = app.wallClock.nowMs()
        try await ApprovalRecords.prepare(id, operation: operation.json, subject: subject, by: caller, nowMs: now, on: sql)
        try await audit(caller, "approval.prepare", id, subject.summary, app: app, address: address)
        let approval = try await ApprovalQueries.find(id, org: caller.orgId, on: sql)
        await WebhookService.approvalWaiting(approval, app: app)
        return approval
    }

    /// Asks the ledger whether it would take the operation now (a settlement of every piece: its
    /// first transaction), committing nothing.
    package static func trial(_ operation: PreparedOperation, by caller: Caller, app: Application) async throws {
        switch operation {
        case .ledger(let payload):
            try await LedgerService.trial(payload, by: caller, app: app)
        case .settleAll(let receivableId, let reference):
            let chunk = try await ReceivableQueries.payableIds(of: receivableId, after: nil, limit: Limits.maxSettleTokens, on: app.sql)
            guard !chunk.isEmpty else { throw LedgerError(.tokenNotActive, "receivable \(receivableId) has no active or locked piece to pay") }
            try await LedgerService.trial(.settle(receivableId: receivableId, tokenIds: chunk, reference: reference), by: caller, app: app)
        case .rules, .role, .program:
            return
        }
    }

    package struct Subject {
        package var action: ApprovalAction
        package var amountFen: Int64
        package var id: String
        package var summary: String
        package var summaryZh: String
    }

    /// What the operation is about, from the live state; nil for rules that only tighten. Naming
    /// nothing live of the caller's org, or in a state its step does not apply to, it is refused.
    package static func describe(_ operation: PreparedOperation, org: OrgID, rules: [ApprovalRule], app: Application) async throws -> Subject? {
        let y = Money.format
        if case .rules(let new) = operation {
            // Tightening takes effect at once; loosening (a rule dropped, a threshold raised) waits.
            let loosens = rules.contains { old in new.first { $0.action == old.action }.map { $0.minAmountFen > old.minAmountFen } ?? true }
            guard loosens else { return nil }
            let text = new.isEmpty ? "none" : new.map { "\($0.action.rawValue) from \(y($0.minAmountFen))" }.joined(separator: ", ")
            return Subject(action: .changeRules, amountFen: 0, id: org.description, summary: "Loosen the approval rules to: \(text)",
                           summaryZh: "放宽复核规则为：\(new.isEmpty ? "无" : new.map { "\($0.action.rawValue) 自 \(y($0.minAmountFen))" }.joined(separator: "，"))")
        }
        if case .program(let p) = operation {
            // Only a loosening waits, and only where the core has rules at all.
            let before = try await EarlyPaymentQueries.program(of: org, on: app.sql) ?? .none
            guard !rules.isEmpty, p.loosens(from: before) else { return nil }
            return Subject(action: .changeProgram, amountFen: p.dailyBudgetFen, id: org.description,
                           summary: "Early-payment program: \(p.active ? "on" : "off"), hurdle \(percent(p.hurdleBps)), \(y(p.dailyBudgetFen)) a day, cut-off \(p.cutoffTime)",
                           summaryZh: "提前付款计划：\(p.active ? "开启" : "关闭")，最低年化 \(percent(p.hurdleBps))，每日 \(y(p.dailyBudgetFen))，截止 \(p.cutoffTime)")
        }
        if case .role(let user, let email, let role) = operation {
            return Subject(action: .grantRole, amountFen: 0, id: user, summary: "Make \(email) \(role == .admin ? "an admin" : "a checker")",
                           summaryZh: "将 \(email) 设为\(role == .admin ? "管理员" : "复核岗")")
        }
        return try await app.requireSequencer().read { state -> Subject? in
            func name(_ id: OrgID) -> String { state.orgs[id]?.name ?? id.description }
            switch operation {
            case .ledger(.approveFinancing(let id, let filing, let termReview)):
                guard let f = state.financings[id], f.bankId == org else { throw LedgerError(.notFound, "no such financing at this bank") }
                guard f.status == .requested else { throw LedgerError(.financingNotOpen, "financing \(id) is \(f.status.rawValue): only a requested one is approved") }
                let filed = filing.map { (" 中登网 \($0.number) of \($0.filedOn)", "，中登网登记 \($0.number)（\($0.filedOn)）") } ?? ("", "")
                let reviewed = termReview.map { ("; term review: \($0)", "；期限审查：\($0)") } ?? ("", "")
                return Subject(action: .approveFinancing, amountFen: f.amountFen, id: id.description,
                               summary: "Approve financing of \(y(f.amountFen)) for \(name(f.supplierId)) (payout \(y(f.payoutFen)), \(f.days) days at \(percent(f.rateBps)))\(filed.0)\(reviewed.0)",
                               summaryZh: "批准 \(name(f.supplierId)) 的融资 \(y(f.amountFen))（放款 \(y(f.payoutFen))，\(f.days) 天，年利率 \(percent(f.rateBps))）\(filed.1)\(reviewed.1)")
            case .ledger(.confirmPayout(let id, let reference)):
                guard let f = state.financings[id], f.bankId == org else { throw LedgerError(.notFound, "no such financing at this bank") }
                guard f.status == .approved else { throw LedgerError(.financingNotOpen, "financing \(id) is \(f.status.rawValue): only an approved one is paid out") }
                return Subject(action: .confirmPayout, amountFen: f.payoutFen, id: id.description,
                               summary: "Confirm the payout of \(y(f.payoutFen)) to \(name(f.supplierId)), reference \(reference)",
                               summaryZh: "确认向 \(name(f.supplierId)) 放款 \(y(f.payoutFen))，付款流水 \(reference)")
            case .ledger(.grantCredit(let core, let limit, let rate, let expires)):
                guard state.orgs[core]?.role == .core else { throw LedgerError(.invalidCounterparty, "coreId: \(core) is not a core enterprise") }
                return Subject(action: .grantCredit, amountFen: limit, id: core.description,
                               summary: "Grant \(name(core)) a credit line of \(y(limit)) at \(percent(rate)), until \(expires)",
                               summaryZh: "向 \(name(core)) 授信 \(y(limit))，年利率 \(percent(rate))，至 \(expires)")
            case .ledger(.updateCredit(let c)):
                guard let line = state.creditLines[c.creditLineId], line.bankId == org else { throw LedgerError(.notFound, "no such credit line of this bank") }
                var en: [String] = [], zh: [String] = []
                if let l = c.limitFen { en.append("limit \(y(l))"); zh.append("额度 \(y(l))") }
                if let r = c.rateBps { en.append("rate \(percent(r))"); zh.append("年利率 \(percent(r))") }
                if let e = c.expiresOn { en.append("expiry \(e)"); zh.append("到期 \(e)") }
                if let s = c.status { en.append("status \(s.rawValue)"); zh.append("状态 \(s.rawValue)") }
                return Subject(action: .updateCredit, amountFen: c.limitFen ?? line.limitFen, id: line.id.description,
                               summary: "Change the credit line to \(name(line.coreId)): \(en.joined(separator: ", "))",
                               summaryZh: "调整对 \(name(line.coreId)) 的授信：\(zh.joined(separator: "，"))")
            case .ledger(.issue(let p)):
                guard let line = state.creditLines[p.creditLineId], line.coreId == org else { throw LedgerError(.noCreditLine, "creditLineId: no such credit line granted to this core enterprise") }
                guard state.orgs[p.supplierId]?.role == .supplier else { throw LedgerError(.invalidCounterparty, "supplierId: \(p.supplierId) is not a supplier") }
                return Subject(action: .issue, amountFen: p.faceFen, id: p.creditLineId.description,
                               summary: "Issue \(y(p.faceFen)) to \(name(p.supplierId)), due \(p.dueDate)",
                               summaryZh: "向 \(name(p.supplierId)) 签发 \(y(p.faceFen))，到期日 \(p.dueDate)")
            case .ledger(.settle(let rid, let tokenIds, let reference)):
                guard let r = state.receivables[rid], r.issuerId == org else { throw LedgerError(.tokenNotActive, "receivable \(rid) has nothing left to pay") }
                let amount = tokenIds.reduce(Int64(0)) { $0 &+ (state.tokens[$1]?.amountFen ?? 0) }
                return Subject(action: .settle, amountFen: amount, id: rid.description,
                               summary: "Pay \(tokenIds.count) piece(s) of receivable \(r.number): \(y(amount)), reference \(reference)",
                               summaryZh: "兑付凭证 \(r.number) 的 \(tokenIds.count) 笔：\(y(amount))，付款流水 \(reference)")
            case .settleAll(let rid, let reference):
                guard let r = state.receivables[rid], r.issuerId == org else { throw LedgerError(.tokenNotActive, "receivable \(rid) has nothing left to pay") }
                let amount = r.faceFen - r.paidFen
                return Subject(action: .settle, amountFen: amount, id: rid.description,
                               summary: "Pay receivable \(r.number) to every holder: \(y(amount)), reference \(reference)",
                               summaryZh: "向全部持有人兑付凭证 \(r.number)：\(y(amount))，付款流水 \(reference)")
            default:
                return nil
            }
        }
    }

    /// The approval as `viewer` may read it: its own org's, or any for the regulator and the operator.
    package static func find(_ id: String, visibleTo viewer: Viewer, app: Application) async throws -> Approval {
        guard UUID(uuidString: id) != nil, id == id.lowercased() else { throw LedgerError.invalid("id", "must be an approval id (a lowercase UUID)") }
        return try await resolved(try await ApprovalQueries.find(id, org: viewer.seesAll ? nil : viewer.orgId, on: app.sql), app: app)
    }

    /// Only a checker of the approval's own org decides it, and never on what they prepared. Who
    /// is made a checker or an admin is decided by a second admin of the org, or the operator.
    package static func requireChecker(_ approval: Approval, _ viewer: Viewer) throws {
        if approval.action == .grantRole {
            guard viewer.role == .operator || (viewer.orgId == approval.orgId && viewer.caller.isAdmin) else {
                throw LedgerError(.forbidden, "a second admin of the organisation, or the operator, decides who becomes a checker or an admin")
            }
            guard approval.preparedBy != viewer.caller.userId else {
                throw LedgerError(.forbidden, "you prepared this; a second admin of the organisation, or the operator, decides it")
            }
            return
        }
        guard viewer.orgId == approval.orgId else { throw LedgerError(.forbidden, "only a checker of the organisation decides its approvals") }
        guard viewer.caller.userRole == .checker else {
            throw LedgerError(.forbidden, "only a person with the checker role approves or rejects; you are a \(viewer.caller.userRole.rawValue)")
        }
        guard approval.preparedBy != viewer.caller.userId else {
            throw LedgerError(.forbidden, "you prepared this; another person with the checker role decides it")
        }
    }

    /// A checker approves: the operation is performed now (signed and submitted) and its usual
    /// answer returned. Two checkers at once: one performs it, the other hears it is decided.
    /// If the ledger refuses it, it stays pending with the refusal noted, and the error is the answer.
    /// `otp`: the checker's second-factor code, when the payment it instructs needs one.
    package static func approve(_ id: String, by viewer: Viewer, otp: String? = nil, app: Application, address: String?) async throws -> (Approval, Performed) {
        let sql = app.sql
        let approval = try await find(id, visibleTo: viewer, app: app)
        try requireChecker(approval, viewer)
        // In flight before it is claimed: a reader never takes it for one a stopped process left.
        let inFlight = app.approvalsInFlight
        guard inFlight.withLockedValue({ $0.insert(id).inserted }) else {
            throw LedgerError(.approvalNotPending, "approval \(id) is being approved by another request now")
        }
        defer { inFlight.withLockedValue { _ = $0.remove(id) } }
        try await claim(approval, status: "approving", by: viewer, reason: nil, app: app)
        let performed: Performed
        do {
            performed = try await ApprovalInFlight.$current.withValue(ApprovalInFlight(id: id, sql: sql)) {
                try await perform(approval.operation, org: approval.orgId, by: viewer, otp: otp, app: app)
            }
        } catch let error as Unavailable {
            // Nothing submitted yet (a rail out of reach before signing): pending again at once.
            // Submitted: its fate is unknown, and it stays `approving` until the writer can say.
            if try await ApprovalQueries.find(id, org: nil, on: sql).transactionIds.isEmpty { _ = try await settleAfterRefusal(id, because: error.description, app: app) }
            throw error
        } catch {
            let settled = try await settleAfterRefusal(id, because: String(describing: error), app: app)
            if settled.status == .approved { try await audit(viewer.caller, "approval.approve", id, "\(settled.summary) (in part: \(error))", app: app, address: address) }
            throw error
        }
        try await ApprovalRecords.approved(id, on: sql)
        try await audit(viewer.caller, "approval.approve", id, "\(approval.summary), prepared by \(approval.preparedEmail)", app: app, address: address)
        return (try await ApprovalQueries.find(id, org: nil, on: sql), performed)
    }

    /// A checker rejects, with a reason; nothing is signed.
    package static func reject(_ id: String, reason: String, by viewer: Viewer, app: Application, address: String?) async throws -> Approval {
        let approval = try await find(id, visibleTo: viewer, app: app)
        try requireChecker(approval, viewer)
        try await claim(approval, status: "rejected", by: viewer, reason: reason, app: app)
        try await audit(viewer.caller, "approval.reject", id, "\(approval.summary), prepared by \(approval.preparedEmail): \(reason)", app: app, address: address)
        return try await ApprovalQueries.find(id, org: nil, on: app.sql)
    }

    /// The maker takes back an operation they prepared, while it still waits for a checker: it
    /// is never performed. Nobody else withdraws it; a checker rejects instead.
    package static func withdraw(_ id: String, by viewer: Viewer, app: Application, address: String?) async throws -> Approval {
        let approval = try await find(id, visibleTo: viewer, app: app)
        try requireWithdrawer(approval, viewer)
        try await claim(approval, status: ApprovalStatus.withdrawn.rawValue, by: viewer, reason: nil, app: app)
        try await audit(viewer.caller, "approval.withdraw", id, approval.summary, app: app, address: address)
        return try await ApprovalQueries.find(id, org: nil, on: app.sql)
    }

    /// Only the person who prepared an operation withdraws it.
    package static func requireWithdrawer(_ approval: Approval, _ viewer: Viewer) throws {
        guard approval.orgId == viewer.orgId, approval.preparedBy == viewer.caller.userId else {
            throw LedgerError(.forbidden, "only the person who prepared an operation withdraws it; a checker rejects it")
        }
    }

    /// Moves a pending approval on, atomically: of two deciding at once, one wins.
    package static func claim(_ approval: Approval, status: String, by viewer: Viewer, reason: String?, app: Application) async throws {
        guard try await ApprovalRecords.claim(approval.id, status: status, by: viewer.caller, reason: reason, nowMs: app.wallClock.nowMs(), on: app.sql) else {
            let now = try await ApprovalQueries.find(approval.id, org: nil, on: app.sql)
            throw LedgerError(.approvalNotPending, "approval \(approval.id) is \(now.status.rawValue)\(now.decidedEmail.map { " by \($0)" } ?? ""): only a pending approval is decided")
        }
    }

    /// Performs an approved operation as its org; a checker approved it, so no preparer is needed.
    package static func perform(_ operation: PreparedOperation, org: OrgID, by viewer: Viewer, otp: String?, app: Application) async throws -> Performed {
        switch operation {
        case .ledger(.settle(let receivableId, let tokenIds, let reference)):
            let settlement = try await ReceivableService.perform(receivableId, tokenIds: tokenIds, reference: reference, by: viewer, app: app)
            return Performed(outcomes: settlement.outcomes, payments: settlement.payments)
        case .settleAll(let receivableId, let reference):
            let settlement = try await ReceivableService.perform(receivableId, tokenIds: nil, reference: reference, by: viewer, app: app)
            return Performed(outcomes: settlement.outcomes, payments: settlement.payments)
        case .ledger(.issue(var p)):
            p.issueDate = app.businessDate
            return Performed(outcomes: [try await LedgerService.submit(.issue(p), by: viewer.caller, app: app)])
        case .ledger(let payload) where payload.type == .approveFinancing:
            return Performed(outcomes: [try await FinancingService.performApproval(payload, by: viewer.caller, otp: otp, app: app)])
        case .ledger(let payload):
            return Performed(outcomes: [try await LedgerService.submit(payload, by: viewer.caller, app: app)])
        case .rules(let rules):
            try await ApprovalRecords.replaceRules(org, with: rules, on: app.db)
            return Performed(rules: rules)
        case .role(let user, _, let role):
            return Performed(person: try await PeopleService.applyRole(user, role, in: org, by: viewer, app: app))
        case .program(let p):
            try await EarlyPaymentQueries.save(p, of: org, by: viewer.caller.email, nowMs: app.wallClock.nowMs(), on: app.sql)
            return Performed(program: p)
        }
    }

    /// After a refusal: if some of its transactions were committed (a settlement refused part-way),
    /// it is approved with the refusal noted; otherwise it is pending again, the refusal noted.
    package static func settleAfterRefusal(_ id: String, because reason: String, app: Application) async throws -> Approval {
        let sql = app.sql
        let approval = try await ApprovalQueries.find(id, org: nil, on: sql)
        let committed = try await ChainQueries.stored(approval.transactionIds, on: sql)
        if committed.isEmpty {
            try await ApprovalRecords.reopen(id, because: reason, on: sql)
        } else {
            try await ApprovalRecords.approvedInPart(id, committed: committed, because: reason, on: sql)
        }
        return try await ApprovalQueries.find(id, org: nil, on: sql)
    }

    /// An approval left `approving` by a request that ended without finishing (the process was
    /// killed, or the database went away) is settled from what was committed once that is certain.
    package static func resolved(_ approval: Approval, app: Application) async throws -> Approval {
        guard approval.status == .approving, !app.approvalsInFlight.withLockedValue({ $0.contains(approval.id) }) else { return approval }
        guard let sequencer = app.sequencer, await sequencer.recovering == nil, await sequencer.broken == nil else { return approval }
        return try await settleAfterRefusal(approval.id, because: "the server stopped while performing it", app: app)
    }

    /// At start-up: every approval a previous process left `approving`.
    package static func recover(_ app: Application) async throws {
        for approval in try await ApprovalQueries.approving(on: app.sql) {
            let settled = try await resolved(approval, app: app)
            app.logger.notice("approval \(settled.id) was being performed when the server stopped: now \(settled.status.rawValue)")
        }
    }

    /// An admin of the org sets its rules, soon after giving their password. Tightening takes effect
    /// at once; loosening waits for a checker when the org has any rule.
    package static func setRules(_ rules: [ApprovalRule], of org: OrgID, by viewer: Viewer, app: Application, address: String?) async throws -> Prepared<[ApprovalRule]> {
        try viewer.caller.requireRecentSignIn(nowMs: app.wallClock.nowMs())
        guard viewer.orgId == org, viewer.caller.isAdmin else { throw LedgerError(.forbidden, "only an admin of the organisation sets its approval rules") }
        let detail = rules.isEmpty ? "none" : rules.map { "\($0.action.rawValue) from \($0.minAmountFen) fen" }.joined(separator: ", ")
        if let approval = try await hold(.rules(rules), by: viewer.caller, app: app, address: address) { return .pending(approval) }
        try await ApprovalRecords.replaceRules(org, with: rules, on: app.db)
        try await OnboardingService.audit(viewer, "approval.rules", org, "rules set to: \(detail)", app: app, address: address)
        return .done(rules)
    }

    package static func audit(_ caller: Caller, _ action: String, _ approvalId: String, _ detail: String, app: Application, address: String?) async throws {
        try await AuditLog.record(AuditLog.Entry(action: action, orgId: caller.orgId, userId: caller.userId, email: caller.email, address: address,
                                                 detail: "approval \(approvalId): \(detail)"), nowMs: app.wallClock.nowMs(), on: app.sql)
    }
}

/// Each org's rules (which actions wait for a checker, from which amount) as they start and as an admin sends them; stored by `ApprovalRecords`, read by `ApprovalQueries.rules`.
package enum ApprovalRules {
    /// What a new org starts with: a bank, every bank action waiting for a checker.
    package static func defaults(for role: OrgRole) -> [ApprovalRule] {
        role == .bank ? ApprovalAction.configurable(for: .bank).map { ApprovalRule(action: $0, minAmountFen: 0) } : []
    }

    /// `{rules: [{action, minAmountFen}]}` as an admin sends it: known actions of the org's role,
    /// each once, amounts from 0 to the ledger's largest.
    package static func parse(_ body: StrictBody, role: OrgRole) throws -> [ApprovalRule] {
        guard case .array(let items)? = body.fields["rules"] else { throw LedgerError.invalid("rules", "must be an array of {action, minAmountFen}") }
        let allowed = ApprovalAction.configurable(for: role)
        var rules: [ApprovalRule] = []
        for (i, item) in items.enumerated() {
            let field = "rules[\(i)]"
            guard case .object(let fields) = item else { throw LedgerError.invalid(field, "must be an object {action, minAmountFen}") }
            let rule = try StrictBody(fields: fields, path: field, allowed: ["action", "minAmountFen"])
            let text = try rule.string("action", maxLength: 40)!
            guard let action = ApprovalAction(rawValue: text), allowed.contains(action) else {
                throw LedgerError.invalid("\(field).action", allowed.isEmpty ? "this organisation has no action that waits for a checker"
                                          : "must be one of \(allowed.map(\.rawValue).joined(separator: ", "))")
            }
            guard !rules.contains(where: { $0.action == action }) else { throw LedgerError.invalid("\(field).action", "is listed twice") }
            let min = try rule.int("minAmountFen")
            guard (0...Limits.maxAmountFen).contains(min) else { throw LedgerError(.amountOutOfRange, "\(field).minAmountFen: must be 0 to \(Limits.maxAmountFen) fen") }
            rules.append(ApprovalRule(action: action, minAmountFen: min))
        }
        return rules.sorted { $0.action.rawValue < $1.action.rawValue }
    }
}

/// A yearly rate in basis points as people read it: 350 is 3.50%.
private func percent(_ bps: Int64) -> String { "\(bps / 100).\(String(format: "%02d", bps % 100))%" }

extension Application {
    private struct ApprovalsInFlightKey: StorageKey { typealias Value = NIOLockedValueBox<Set<String>> }

    /// The approvals this process is performing now; one `approving` in the database and not in
    /// here was left by a process that stopped. Set up once, in `configure`, before any request.
    package var approvalsInFlight: NIOLockedValueBox<Set<String>> {
        get { storage[ApprovalsInFlightKey.self]! }
        set { storage[ApprovalsInFlightKey.self] = newValue }
    }
}
