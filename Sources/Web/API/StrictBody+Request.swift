import Foundation
import Ledger
import Vapor
import Core

extension StrictBody {
    /// The request's JSON body, read strictly.
    package init(_ req: Request, allowed: Set<String>) throws {
        guard let buffer = req.body.data, buffer.readableBytes > 0 else {
            try self.init(fields: [:], path: "", allowed: allowed)
            return
        }
        guard buffer.readableBytes <= TransactionController.maxBodyBytes else { throw Problem(.payloadTooLarge, "the body is too large") }
        let json: JSON
        // A request body is not signed: `100.0` for an integer field is the integer 100, as JSON
        // Schema (and so the OpenAPI document) counts integers. The chain's own text stays strict.
        do { json = try JSON.parse(Array(buffer.readableBytesView), numbers: .integral) } catch { throw error.refusal(under: "") }
        guard case .object(let f) = json else { throw LedgerError.invalid("body", "must be a JSON object") }
        try self.init(fields: f, path: "", allowed: allowed)
    }
}
