import Fluent
import Ledger
import SQLKit
import Vapor

/// Every route, in one place.
func routes(_ app: Application) throws {
    let api = app.grouped("api", "v1")

    do {  // anyone
        api.get("node", "status", use: NodeController.status)
    }

    do {  // sessions for scripts
        api.post("auth", "login", use: AuthController.login)
        let signedIn = api.grouped(BearerAuthenticator(), RequireCaller())
        signedIn.post("auth", "logout", use: AuthController.logout)
        signedIn.get("me", use: AuthController.me)
    }

    do {  // tokens: holder, issuer, regulator, operator
        let signedIn = api.grouped(BearerAuthenticator(), RequireCaller())
        signedIn.get("tokens", ":id", use: TokenController.show)
        signedIn.get("tokens", ":id", "ancestry", use: TokenController.ancestry)
        signedIn.post("tokens", ":id", "accept", use: TokenActionController.accept)
        signedIn.post("tokens", ":id", "reject", use: TokenActionController.reject)
        signedIn.post("tokens", ":id", "transfer", use: TokenActionController.transfer)
        signedIn.post("tokens", ":id", "split", use: TokenActionController.split)
    }

    do {  // the chain: export for the regulator and operator, proofs for a transaction's parties
        let signedIn = api.grouped(BearerAuthenticator(), RequireCaller())
        signedIn.get("chain", "export", use: ChainController.export)
        signedIn.get("transactions", ":id", "proof", use: ChainController.proof)
    }

    do {  // any org with its own registered key: the signature is the credential
        api.on(.POST, "transactions", body: .collect(maxSize: "64kb"), use: TransactionController.submit)
    }
}

enum NodeController {
    struct Status: Content {
        var role: String
        var height: Int64
        var businessDate: String
    }

    /// `{role, height, businessDate}`: height is the last stored block (genesis is 0; -1 before it).
    static func query(on sql: any SQLDatabase, nowMs: Int64) async throws -> Status {
        let row = try await sql.raw("SELECT MAX(height) AS height FROM blocks").first()
        let height = try row.flatMap { try $0.decodeNil(column: "height") ? nil : try $0.decode(column: "height", as: Int64.self) } ?? -1
        return Status(role: "writer", height: height, businessDate: BusinessDate(epochMs: nowMs).description)
    }

    @Sendable static func status(req: Request) async throws -> Status {
        try await query(on: req.application.sql, nowMs: req.application.ledgerClock.nowMs())
    }
}

extension Application {
    private struct ClockKey: StorageKey {
        typealias Value = any LedgerClock
    }

    /// The business clock: the system clock unless something (a test, the admin clock) sets another.
    var ledgerClock: any LedgerClock {
        get { storage[ClockKey.self] ?? SystemClock() }
        set { storage[ClockKey.self] = newValue }
    }
}
