import Core
import Foundation
import Ledger
import Vapor

extension Page {
    /// `?limit=` and `?cursor=` of the request.
    package init(_ req: Request, keyCount: Int) throws {
        var limit = Self.defaultLimit
        if let text = try req.queryText("limit", maxLength: 10) {
            guard text.utf8.allSatisfy({ (0x30...0x39).contains($0) }), let n = Int(text), (1...Self.maxLimit).contains(n) else {
                throw LedgerError.invalid("limit", "must be an integer from 1 to \(Self.maxLimit)")
            }
            limit = n
        }
        try self.init(limit: limit, cursor: try req.queryText("cursor", maxLength: 400), keyCount: keyCount)
    }
}
