import Core
import Foundation
import Ledger
import SQLKit
import Vapor

/// Financing: quotes, requests, and the bank's decisions.
package enum FinancingController {
    @Sendable package static func list(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        let page = try Page(req, keyCount: 2)
        return try await FinancingQueries.list(status: try req.queryEnum("status", FinancingStatus.self), visibleTo: viewer, page: page, on: req.application.sql)
            .json(DTO.financing).response()
    }

    package static func find(_ id: TxID, _ viewer: Viewer, on sql: any SQLDatabase) async throws -> Financing {
        guard let f = try await FinancingQueries.find(id, visibleTo: viewer, on: sql) else { throw Problem(.notFound, "no such financing") }
        return f
    }

    @Sendable package static func show(req: Request) async throws -> Response {
        DTO.financing(try await find(try req.txIdParameter(), try await req.viewer(), on: req.application.sql)).response()
    }

    /// `POST /financings {tokenId, bankId, recourse?}`: rate, days, interest and payout are fixed now.
    @Sendable package static func create(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        let payload = try StrictBody(req, allowed: ["tokenId", "bankId", "recourse"]).payload(.requestFinancing)
        guard case .requestFinancing(let tokenId, let bankId, let recourse) = payload else { throw StoreDamage("requestFinancing payload") }
        return DTO.outcome(try await FinancingService.request(tokenId, from: bankId, recourse: recourse, by: viewer.caller, app: req.application))
            .response(status: .created)
    }

    package static func decide(_ req: Request, _ decision: (TxID, Caller, Application) async throws -> Prepared<Outcome>) async throws -> Response {
        let viewer = try await req.viewer()
        _ = try StrictBody(req, allowed: [])
        return try await decision(try req.txIdParameter(), viewer.caller, req.application).response()
    }

    /// `POST /financings/{id}/approve {filing?: {number, filedOn}, termReview?: {reason}, otp?}`: the
    /// bank's 中登网 filing and term review (77号), read by the ledger's own reader; `otp`, the
    /// approver's code, for an e-CNY payout above the threshold.
    @Sendable package static func approve(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        let id = try req.txIdParameter()
        var body = try StrictBody(req, allowed: ["otp", "filing", "termReview"])
        let otp = try body.string("otp", maxLength: 32, optional: true)
        body.fields["otp"] = nil
        guard case .approveFinancing(_, let filing, let termReview) = try body.payload(.approveFinancing, adding: ["financingId": .string(id.description)]) else {
            throw StoreDamage("approveFinancing payload")
        }
        return try await FinancingService.approve(id, filing: filing, termReview: termReview, by: viewer.caller, otp: otp, app: req.application).response()
    }
    @Sendable package static func reject(req: Request) async throws -> Response { try await decide(req) { .done(try await FinancingService.reject($0, by: $1, app: $2)) } }
    @Sendable package static func cancel(req: Request) async throws -> Response { try await decide(req) { .done(try await FinancingService.cancel($0, by: $1, app: $2)) } }
    @Sendable package static func confirmPayout(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        let id = try req.txIdParameter()
        let reference = try StrictBody(req, allowed: ["reference"]).string("reference", maxLength: Limits.maxReferenceLength)!
        return try await FinancingService.confirmPayout(id, reference: reference, by: viewer.caller, app: req.application).response()
    }

    /// `GET /tokens/{id}/quotes`: each bank's offer for this token today, from the lines it
    /// granted the token's issuer — the numbers a request would fix.
    @Sendable package static func quotes(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        let token = try await TokenController.visibleToken(req)
        guard token.holderId == viewer.orgId else { throw Problem(.notHolder, "only the holder of a token asks for quotes on it") }
        let items: [JSON] = try await FinancingService.quotes(for: token, app: req.application).map { q, name in
            ["bankId": .string(q.bankId.description), "bankName": .string(name), "creditLineId": .string(q.creditLineId.description),
             "rateBps": .int(q.rateBps), "days": .int(q.days), "amountFen": .int(q.amountFen), "interestFen": .int(q.interestFen), "payoutFen": .int(q.payoutFen)]
        }
        return JSON.object(["items": .array(items)]).response()
    }
}
