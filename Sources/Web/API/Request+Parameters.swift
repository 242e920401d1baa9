import Core
import Foundation
import Ledger
import SQLKit
import Vapor

extension Request {
    package func viewer() async throws -> Viewer {
        let caller = try auth.require(Caller.self)
        guard let role = try await Accounts.role(of: caller.orgId, on: application.sql) else {
            throw Problem(.forbidden, "your organisation is not registered on the ledger")
        }
        return Viewer(caller: caller, role: role)
    }

    /// `:name` as a transaction id (receivables, financings, credit lines and transactions are
    /// named by the id of the transaction that created them).
    package func txIdParameter(_ name: String = "id") throws -> TxID {
        guard let text = parameters.get(name), let id = TxID(text) else {
            throw LedgerError.invalid(name, "must be an id of 64 lowercase hex characters")
        }
        return id
    }

    package func orgIdParameter(_ name: String = "id") throws -> OrgID {
        guard let text = parameters.get(name), let id = OrgID(text) else { throw LedgerError.invalid(name, "must be an org id (a lowercase UUID)") }
        return id
    }

    /// An optional query parameter, bounded in length and held to the text rule. Present but
    /// empty is refused (a caller who sends `status=` asked for something), except where a
    /// console form sends its empty fields (`emptyIsAbsent`).
    package func queryText(_ name: String, maxLength: Int = 100, emptyIsAbsent: Bool = false) throws -> String? {
        guard let value = query[String.self, at: name] else { return nil }
        if value.isEmpty && emptyIsAbsent { return nil }
        try Limits.checkText(value, field: name, maxLength: maxLength)
        return value
    }

    /// An optional query parameter naming an object by id, in the id's own form.
    package func queryId<I: CustomStringConvertible>(_ name: String, _ parse: (String) -> I?, _ expected: String) throws -> I? {
        guard let text = try queryText(name, maxLength: 64) else { return nil }
        guard let id = parse(text) else { throw LedgerError.invalid(name, "must be \(expected)") }
        return id
    }

    /// An optional query parameter holding a whole number from 0 to 2^53 − 1.
    package func queryCount(_ name: String, _ what: String) throws -> Int64? {
        guard let text = try queryText(name, maxLength: 16) else { return nil }
        guard text.utf8.allSatisfy({ (0x30...0x39).contains($0) }), let n = Int64(text), n <= JSON.maxSafeInteger else {
            throw LedgerError.invalid(name, "must be \(what), a whole number from 0 to 9007199254740991")
        }
        return n
    }

    /// An optional `true`/`false` query parameter.
    package func queryBool(_ name: String) throws -> Bool? {
        guard let text = try queryText(name, maxLength: 5) else { return nil }
        switch text {
        case "true": return true
        case "false": return false
        default: throw LedgerError.invalid(name, "must be true or false")
        }
    }

    package func queryEnum<E: RawRepresentable & CaseIterable>(_ name: String, _: E.Type) throws -> E? where E.RawValue == String {
        guard let text = try queryText(name) else { return nil }
        guard let value = E(rawValue: text) else {
            throw LedgerError.invalid(name, "must be one of \(E.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return value
    }
}
