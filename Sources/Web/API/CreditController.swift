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
        var query: SQLQueryString = "SELECT \(unsafeRaw: Projection.creditLines.columns.joined(separator: ", ")) FROM credit_lines WHERE "
        query += try CreditLineQueries.visible(viewer)
        if let status = try req.queryEnum("status", CreditLineStatus.self) { query += " AND status = \(bind: status.rawValue)" }
        if let core = try req.queryId("coreId", OrgID.init, "an org id (a lowercase UUID)") { query += " AND core_id = \(bind: core.description)" }
        if let bank = try req.queryId("bankId", OrgID.init, "an org id (a lowercase UUID)") { query += " AND bank_id = \(bind: bank.description)" }
        return try await page.run(query, keys: ["id"], on: req.application.sql) { row in
            let line = try RowReader(row, "credit_lines").creditLine
            return (DTO.creditLine(line), [.string(line.id.description)])
        }.response()
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
