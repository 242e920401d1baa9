import Foundation
import Ledger
import SQLKit
import Vapor

/// A JSON request body read strictly: only the named fields, each of its type.
struct StrictBody {
    var fields: [JSONKey: JSON]
    /// Where this object sits in the request (`""` for the body itself): errors name `path.field`.
    var path = ""

    init(_ req: Request, allowed: Set<String>) throws {
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

    init(fields: [JSONKey: JSON], path: String, allowed: Set<String>) throws {
        self.fields = fields
        self.path = path
        // Keys compare by their scalars: "\u{212A}" (the Kelvin sign) is not the letter K here.
        let known: Set<JSONKey> = Set(allowed.map { JSONKey($0) })
        let unknown: [JSONKey] = fields.keys.filter { !known.contains($0) }
        if let first = unknown.min() { throw LedgerError.invalid(name(first.string), "is not a known field") }
    }

    func name(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func int(_ key: String) throws -> Int64 {
        guard let v = fields[key] else { throw LedgerError.invalid(name(key), "is required") }
        guard case .int(let n) = v else { throw LedgerError.invalid(name(key), "must be an integer number of fen") }
        return n
    }

    func string(_ key: String, maxLength: Int, optional: Bool = false) throws -> String? {
        guard let v = fields[key], v != .null || !optional else {
            if optional { return nil }
            throw LedgerError.invalid(name(key), "is required")
        }
        guard case .string(let s) = v else { throw LedgerError.invalid(name(key), "must be a string of 1 to \(maxLength) characters") }
        try Limits.checkText(s, field: name(key), maxLength: maxLength)
        return s
    }

    func object(_ key: String, optional: Bool = false) throws -> [JSONKey: JSON]? {
        guard let v = fields[key], v != .null || !optional else {
            if optional { return nil }
            throw LedgerError.invalid(name(key), "is required")
        }
        guard case .object(let o) = v else { throw LedgerError.invalid(name(key), "must be an object") }
        return o
    }

    func orgId(_ key: String) throws -> OrgID {
        guard let id = OrgID(try string(key, maxLength: 36)!) else { throw LedgerError.invalid(name(key), "must be an org id (a lowercase UUID)") }
        return id
    }

    /// The body's fields, with what the server fills in (`extra`), read as a `type` payload by
    /// the ledger's own strict reader; errors name the request's fields.
    func payload(_ type: TxType, adding extra: [JSONKey: JSON] = [:]) throws -> Payload {
        var merged = fields
        for (k, v) in extra { merged[k] = v }
        do {
            return try Payload(type: type, json: .object(merged), text: .new)
        } catch {
            throw error.fieldsRelative(to: "payload.")
        }
    }

    func amounts(_ key: String) throws -> [Int64] {
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
