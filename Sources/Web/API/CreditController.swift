import Core
import Foundation
import Ledger
import SQLKit
import Vapor

/// 授信: banks grant and change credit lines; a core enterprise sees the lines granted to it.
package enum CreditController {
    @Sendable package static func list(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        let page = try Page(req, keyCount: 1)
        let filter = CreditLineQueries.Filter(status: try req.queryEnum("status", CreditLineStatus.self),
                                              coreId: try req.queryId("coreId", OrgID.init, "an org id (a lowercase UUID)"),
                                              bankId: try req.queryId("bankId", OrgID.init, "an org id (a lowercase UUID)"))
        return try await CreditLineQueries.list(filter, visibleTo: viewer, page: page, on: req.application.sql).json(DTO.creditLine).response()
    }

    package static func find(_ req: Request, _ viewer: Viewer) async throws -> CreditLine {
        guard let line = try await CreditLineQueries.find(try req.txIdParameter(), visibleTo: viewer, on: req.application.sql) else {
            throw Problem(.notFound, "no such credit line")
        }
        return line
    }

    @Sendable package static func show(req: Request) async throws -> Response {
        DTO.creditLine(try await find(req, try await req.viewer())).response()
    }

    /// `POST /credit-lines {coreId, limitFen, rateBps, expiresOn}`.
    @Sendable package static func create(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        guard case .grantCredit(let coreId, let limitFen, let rateBps, let expiresOn) = try StrictBody(req, allowed: ["coreId", "limitFen", "rateBps", "expiresOn"])
            .payload(.grantCredit) else { throw StoreDamage("grantCredit payload") }
        let outcome = try await CreditService.grant(to: coreId, limitFen: limitFen, rateBps: rateBps, expiresOn: expiresOn, by: viewer.caller, app: req.application)
        return outcome.response(status: .created)
    }

    /// `PATCH /credit-lines/{id} {limitFen?, rateBps?, expiresOn?, status?}`.
    @Sendable package static func update(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        let id = try req.txIdParameter()
        let body = try StrictBody(req, allowed: ["limitFen", "rateBps", "expiresOn", "status"])
        guard !body.fields.isEmpty else { throw LedgerError.invalid("body", "must change at least one of limitFen, rateBps, expiresOn, status") }
        guard case .updateCredit(let change) = try body.payload(.updateCredit, adding: ["creditLineId": .string(id.description)]) else {
            throw StoreDamage("updateCredit payload")
        }
        return try await CreditService.update(change, by: viewer.caller, app: req.application).response()
    }
}
