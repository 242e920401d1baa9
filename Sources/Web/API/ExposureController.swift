import Core
import Foundation
import Ledger
import SQLKit
import Vapor

/// 穿透式监管: what an org holds, who owes it (by core enterprise), what it financed and with whom.
package enum ExposureController {
    /// `GET /orgs/{id}/exposure`: the regulator and the operator see any org's; an org its own.
    @Sendable package static func show(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        let org = try req.orgIdParameter()
        let e = try await ExposureQueries.exposure(of: org, for: viewer, on: req.application.sql)
        return JSON.object([
            "org": e.org, "issuedOutstandingFen": .int(e.issuedOutstandingFen), "contingentFen": .int(e.contingentFen),
            "holdings": .array(e.holdings.map { ["coreId": .string($0.coreId), "outstandingFen": .int($0.outstandingFen), "tokens": .int($0.tokens)] }),
            "financedAsSupplier": .array(e.financedAsSupplier.map { financed($0, as: "bankId") }),
            "financedAsBank": .array(e.financedAsBank.map { financed($0, as: "supplierId") }),
        ]).response()
    }

    static func financed(_ f: ExposureQueries.Financed, as counterparty: JSONKey) -> JSON {
        [counterparty: .string(f.counterparty), "amountFen": .int(f.amountFen), "withRecourseFen": .int(f.recourseFen),
         "withoutRecourseFen": .int(f.withoutRecourseFen), "payoutFen": .int(f.payoutFen), "count": .int(f.count)]
    }
}
