import Core
import Foundation
import Ledger
import SQLKit
import Vapor

/// Early payment from the core's own cash: a supplier's offer, the core's decisions, its program
/// and its daily market.
package enum EarlyPaymentController {
    @Sendable package static func list(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        let page = try Page(req, keyCount: 2)
        let issuer = try req.queryId("issuerId", OrgID.init, "an org id")
        return try await EarlyPaymentQueries.list(status: try req.queryEnum("status", EarlyPaymentStatus.self), issuer: issuer, visibleTo: viewer, page: page, on: req.application.sql)
            .json(DTO.earlyPayment).response()
    }

    /// `GET /early-payments/{id}`, with the payments the rail made for it.
    @Sendable package static func show(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        guard let e = try await EarlyPaymentQueries.find(try req.txIdParameter(), visibleTo: viewer, on: req.application.sql) else {
            throw Problem(.notFound, "no such early payment")
        }
        var json = DTO.earlyPayment(e).objectValue ?? [:]
        json["payments"] = .array(try await PaymentQueries.paying(e.id, kind: .earlyPayment, visibleTo: viewer, on: req.application.sql).map { $0.json() })
        return JSON.object(json).response()
    }

    /// `POST /early-payments {tokenId, rateBps}`: the discount and the payout are fixed now.
    @Sendable package static func create(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        let payload = try StrictBody(req, allowed: ["tokenId", "rateBps"]).payload(.requestEarlyPayment)
        guard case .requestEarlyPayment(let tokenId, let rate) = payload else { throw StoreDamage("requestEarlyPayment payload") }
        return DTO.outcome(try await EarlyPaymentService.request(tokenId, rateBps: rate, by: viewer.caller, app: req.application)).response(status: .created)
    }

    static func decide(_ req: Request, _ decision: @Sendable (TxID, Caller, Application) async throws -> Outcome) async throws -> Response {
        let viewer = try await req.viewer()
        _ = try StrictBody(req, allowed: [])
        return DTO.outcome(try await decision(try req.txIdParameter(), viewer.caller, req.application)).response()
    }

    @Sendable package static func approve(req: Request) async throws -> Response { try await decide(req) { try await EarlyPaymentService.approve($0, by: $1, app: $2) } }
    @Sendable package static func reject(req: Request) async throws -> Response { try await decide(req) { try await EarlyPaymentService.reject($0, by: $1, app: $2) } }
    @Sendable package static func cancel(req: Request) async throws -> Response { try await decide(req) { try await EarlyPaymentService.cancel($0, by: $1, app: $2) } }

    /// `POST /early-payments/{id}/confirm {reference}`: by hand, where no rail pays it.
    @Sendable package static func confirm(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        let id = try req.txIdParameter()
        let reference = try StrictBody(req, allowed: ["reference"]).string("reference", maxLength: Limits.maxReferenceLength)!
        return DTO.outcome(try await EarlyPaymentService.confirm(id, reference: reference, by: viewer.caller, app: req.application)).response()
    }

    // MARK: - Program and market

    @Sendable package static func program(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        return try await EarlyPaymentService.program(of: try req.orgIdParameter(), visibleTo: viewer, app: req.application).json.response()
    }

    /// `PUT /orgs/{id}/early-payment-program {active, hurdleBps, dailyBudgetFen, cutoffTime}`:
    /// tightening takes effect at once (`200`); loosening waits for a checker (`202 {approval}`)
    /// where the core has approval rules.
    @Sendable package static func setProgram(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        let org = try req.orgIdParameter()
        let program = try EarlyPaymentService.parseProgram(try StrictBody(req, allowed: ["active", "hurdleBps", "dailyBudgetFen", "cutoffTime"]))
        switch try await EarlyPaymentService.setProgram(program, of: org, by: viewer, app: req.application, address: req.remoteAddress?.ipAddress) {
        case .pending(let approval): return ApprovalController.held(approval)
        case .done(let p): return p.json.response()
        }
    }

    /// `GET /early-payments/market?issuerId=`: `{issuerId, active, hurdleBps, budgetLeftFen, clearingRateBps, …}`.
    @Sendable package static func market(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        guard let issuer = try req.queryId("issuerId", OrgID.init, "an org id") ?? (viewer.role == .core ? viewer.orgId : nil) else {
            throw LedgerError.invalid("issuerId", "names the core enterprise whose market to read")
        }
        return try await EarlyPaymentService.market(of: issuer, visibleTo: viewer, app: req.application).json.response()
    }

    /// `POST /early-payments/clear`: `{approved: [...], clearingRateBps, budgetLeftFen, active}`.
    @Sendable package static func clear(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        _ = try StrictBody(req, allowed: [])
        let c = try await EarlyPaymentService.clear(by: viewer, app: req.application, address: req.remoteAddress?.ipAddress)
        return JSON.object(["approved": .array(c.approved.map(DTO.earlyPayment)), "clearingRateBps": c.clearingRateBps.map(JSON.int) ?? .null,
                            "budgetLeftFen": .int(c.budgetLeftFen), "active": .bool(c.active)]).response()
    }
}
