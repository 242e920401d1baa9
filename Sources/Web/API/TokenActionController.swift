import Core
import Foundation
import Ledger
import SQLKit
import Vapor

/// `POST /tokens/{id}/accept|reject|transfer|split`.
package enum TokenActionController {
    @Sendable package static func accept(req: Request) async throws -> Response {
        _ = try StrictBody(req, allowed: [])
        return DTO.outcome(try await TokenService.accept(try req.tokenIdParameter(), by: try req.auth.require(Caller.self), app: req.application)).response()
    }

    @Sendable package static func reject(req: Request) async throws -> Response {
        _ = try StrictBody(req, allowed: [])
        return DTO.outcome(try await TokenService.reject(try req.tokenIdParameter(), by: try req.auth.require(Caller.self), app: req.application)).response()
    }

    @Sendable package static func transfer(req: Request) async throws -> Response {
        let body = try StrictBody(req, allowed: ["toOrgId", "amountFen", "memo"])
        let outcome = try await TokenService.transfer(try req.tokenIdParameter(), to: try body.orgId("toOrgId"), amountFen: try body.int("amountFen"),
                                                      memo: try body.string("memo", maxLength: Limits.maxMemoLength, optional: true),
                                                      by: try req.auth.require(Caller.self), app: req.application)
        return DTO.outcome(outcome).response(status: .created)
    }

    @Sendable package static func split(req: Request) async throws -> Response {
        let body = try StrictBody(req, allowed: ["amountsFen"])
        let outcome = try await TokenService.split(try req.tokenIdParameter(), into: try body.amounts("amountsFen"), by: try req.auth.require(Caller.self), app: req.application)
        return DTO.outcome(outcome).response(status: .created)
    }
}
