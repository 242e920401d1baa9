import Foundation
import Ledger
import SQLKit

/// A JSON request body read strictly: only the named fields, each of its type.
package struct StrictBody {
    package var fields: [JSONKey: JSON]
    /// Where this object sits in the request (`""` for the body itself): errors name `path.field`.
    package var path = ""

    package init(fields: [JSONKey: JSON], path: String, allowed: Set<String>) throws {
        self.fields = fields
        self.path = path
        // Keys compare by their scalars: "\u{212A}" (the Kelvin sign) is not the letter K here.
        let known: Set<JSONKey> = Set(allowed.map { JSONKey($0) })
        let unknown: [JSONKey] = fields.keys.filter { !known.contains($0) }
        if let first = unknown.min() { throw LedgerError.invalid(name(first.string), "is not a known field") }
    }

    package func name(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    package func int(_ key: String) throws -> Int64 {
        guard let v = fields[key] else { throw LedgerError.invalid(name(key), "is required") }
        guard case .int(let n) = v else { throw LedgerError.invalid(name(key), "must be an integer number of fen") }
        return n
    }

    package func string(_ key: String, maxLength: Int, optional: Bool = false) throws -> String? {
        guard let v = fields[key], v != .null || !optional else {
            if optional { return nil }
            throw LedgerError.invalid(name(key), "is required")
        }
        guard case .string(let s) = v else { throw LedgerError.invalid(name(key), "must be a string of 1 to \(maxLength) characters") }
        try Limits.checkText(s, field: name(key), maxLength: maxLength)
        return s
    }

    package func object(_ key: String, optional: Bool = false) throws -> [JSONKey: JSON]? {
        guard let v = fields[key], v != .null || !optional else {
            if optional { return nil }
            throw LedgerError.invalid(name(key), "is required")
        }
        guard case .object(let o) = v else { throw LedgerError.invalid(name(key), "must be an object") }
        return o
    }

    package func orgId(_ key: String) throws -> OrgID {
        guard let id = OrgID(try string(key, maxLength: 36)!) else { throw LedgerError.invalid(name(key), "must be an org id (a lowercase UUID)") }
        return id
    }

    /// The body's fields, with what the server fills in (`extra`), read as a `type` payload by
    /// the ledger's own strict reader; errors name the request's fields.
    package func payload(_ type: TxType, adding extra: [JSONKey: JSON] = [:]) throws -> Payload {
        var merged = fields
        for (k, v) in extra { merged[k] = v }
        do {
            return try Payload(type: type, json: .object(merged), text: .new)
        } catch {
            throw error.fieldsRelative(to: "payload.")
        }
    }

    package func amounts(_ key: String) throws -> [Int64] {
        guard case .array(let items)? = fields[key] else { throw LedgerError.invalid(key, "must be an array of integers") }
        guard (Limits.minSplitPieces...Limits.maxSplitPieces).contains(items.count) else {
            throw LedgerError.invalid(key, "must have \(Limits.minSplitPieces) to \(Limits.maxSplitPieces) amounts")
        }
        return try items.enumerated().map { i, item in
            guard case .int(let n) = item else { throw LedgerError.invalid("\(key)[\(i)]", "must be an integer number of fen") }
            return n
        }
    }
}
