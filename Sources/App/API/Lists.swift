import Foundation
import Ledger
import SQLKit
import Vapor

/// The signed-in caller and the role its org has on the chain.
struct Viewer: Sendable {
    var caller: Caller
    var role: OrgRole
    var orgId: OrgID { caller.orgId }
    /// The regulator and the operator see everything.
    var seesAll: Bool { role == .regulator || role == .operator }

    /// Which audit entries the viewer reads: all of them (the regulator and the operator), its
    /// own org's (an org's admin: what its people did, and what the operator did to it), or none.
    func auditScope() throws -> SQLQueryString {
        if seesAll { return "1 = 1" }
        guard caller.isAdmin else { throw Problem(.forbidden, "the audit log is for the operator, the regulator and each org's admins") }
        return "org_id = \(bind: orgId.description)"
    }
}

extension Request {
    func viewer() async throws -> Viewer {
        let caller = try auth.require(Caller.self)
        guard let role = try await Accounts.role(of: caller.orgId, on: application.sql) else {
            throw Problem(.forbidden, "your organisation is not registered on the ledger")
        }
        return Viewer(caller: caller, role: role)
    }

    /// `:name` as a transaction id (receivables, financings, credit lines and transactions are
    /// named by the id of the transaction that created them).
    func txIdParameter(_ name: String = "id") throws -> TxID {
        guard let text = parameters.get(name), let id = TxID(text) else {
            throw LedgerError.invalid(name, "must be an id of 64 lowercase hex characters")
        }
        return id
    }

    func orgIdParameter(_ name: String = "id") throws -> OrgID {
        guard let text = parameters.get(name), let id = OrgID(text) else { throw LedgerError.invalid(name, "must be an org id (a lowercase UUID)") }
        return id
    }

    /// An optional query parameter, bounded in length and held to the text rule. Present but
    /// empty is refused (a caller who sends `status=` asked for something), except where a
    /// console form sends its empty fields (`emptyIsAbsent`).
    func queryText(_ name: String, maxLength: Int = 100, emptyIsAbsent: Bool = false) throws -> String? {
        guard let value = query[String.self, at: name] else { return nil }
        if value.isEmpty && emptyIsAbsent { return nil }
        try Limits.checkText(value, field: name, maxLength: maxLength)
        return value
    }

    /// An optional query parameter naming an object by id, in the id's own form.
    func queryId<I: CustomStringConvertible>(_ name: String, _ parse: (String) -> I?, _ expected: String) throws -> I? {
        guard let text = try queryText(name, maxLength: 64) else { return nil }
        guard let id = parse(text) else { throw LedgerError.invalid(name, "must be \(expected)") }
        return id
    }

    /// An optional query parameter holding a whole number from 0 to 2^53 − 1.
    func queryCount(_ name: String, _ what: String) throws -> Int64? {
        guard let text = try queryText(name, maxLength: 16) else { return nil }
        guard text.utf8.allSatisfy({ (0x30...0x39).contains($0) }), let n = Int64(text), n <= JSON.maxSafeInteger else {
            throw LedgerError.invalid(name, "must be \(what), a whole number from 0 to 9007199254740991")
        }
        return n
    }

    func queryEnum<E: RawRepresentable & CaseIterable>(_ name: String, _: E.Type) throws -> E? where E.RawValue == String {
        guard let text = try queryText(name) else { return nil }
        guard let value = E(rawValue: text) else {
            throw LedgerError.invalid(name, "must be one of \(E.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return value
    }
}

/// `?limit=` (1–200, default 50) and `?cursor=`, answered as `{items, nextCursor}`. Lists are
/// keyset-paged: the cursor holds the sort key of the last item, so a page never shifts when
/// rows are added before it.
struct Page {
    static let defaultLimit = 50
    static let maxLimit = 200

    var limit: Int
    var after: [JSON]?

    init(_ req: Request, keyCount: Int) throws {
        if let text = try req.queryText("limit", maxLength: 10) {
            guard text.utf8.allSatisfy({ (0x30...0x39).contains($0) }), let n = Int(text), (1...Self.maxLimit).contains(n) else {
                throw LedgerError.invalid("limit", "must be an integer from 1 to \(Self.maxLimit)")
            }
            limit = n
        } else {
            limit = Self.defaultLimit
        }
        if let cursor = try req.queryText("cursor", maxLength: 400) {
            guard let data = Data(base64Encoded: Self.unURL(cursor)), case .array(let parts)? = try? JSON.parse(Array(data)),
                  parts.count == keyCount, parts.allSatisfy({ if case .string = $0 { true } else if case .int = $0 { true } else { false } })
            else { throw LedgerError.invalid("cursor", "is not a cursor this list gave out") }
            after = parts
        }
    }

    static func cursor(_ keys: [JSON]) -> String {
        Data(JSON.array(keys).canonicalBytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    static func unURL(_ s: String) -> String {
        let b = s.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        return b + String(repeating: "=", count: (4 - b.count % 4) % 4)
    }

    /// Runs `select` (a query ending in its WHERE clause, which may be `WHERE 1 = 1`) one page
    /// at a time, ordered by `keys` (the last one unique), and answers
    /// `{items, nextCursor}`. `item` gives each row's JSON and its sort key (strings or integers,
    /// as the columns hold them).
    func run(_ select: SQLQueryString, keys: [String], descending: Bool = false, on sql: any SQLDatabase,
             _ item: (any SQLRow) throws -> (json: JSON, key: [JSON])) async throws -> JSON {
        var query = select
        let columns = keys.joined(separator: ", ")
        if let after {
            let values: [any Encodable & Sendable] = after.map { key -> any Encodable & Sendable in
                if case .int(let n) = key { return n }
                return key.stringValue ?? ""
            }
            query += " AND (\(unsafeRaw: columns)) \(unsafeRaw: descending ? "<" : ">") (\(binds: values))"
        }
        let direction = descending ? " DESC" : ""
        query += " ORDER BY \(unsafeRaw: keys.map { $0 + direction }.joined(separator: ", ")) LIMIT \(literal: limit + 1)"
        let rows = try await sql.raw(query).all()
        var items: [JSON] = [], lastKey: [JSON] = []
        for row in rows.prefix(limit) {
            let (json, key) = try item(row)
            items.append(json)
            lastKey = key
        }
        return ["items": .array(items), "nextCursor": rows.count > limit ? .string(Self.cursor(lastKey)) : .null]
    }
}
