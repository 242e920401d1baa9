import Foundation
import Ledger
import SQLKit
import Vapor

/// The service step of the write path: turns a caller's request into a ledger transaction of its
/// org, signed with the org's custodial key (opened in memory only), and submits it. No business
/// rule lives here: the ledger decides, and its error is the answer.
enum LedgerService {
    static func submit(_ payload: Payload, by caller: Caller, app: Application) async throws -> Outcome {
        let sequencer = try app.requireSequencer()
        guard let role = try await Accounts.role(of: caller.orgId, on: app.sql), role == payload.type.signerRole else {
            throw Problem(.forbidden, "your organisation may not \(payload.type.rawValue); only a \(payload.type.signerRole.rawValue) may")
        }
        guard let vault = app.keyVault, let signer = try await vault.signer(for: caller.orgId, on: app.sql) else {
            throw Problem(.forbidden, "your organisation keeps its own key: sign the transaction and POST it to /api/v1/transactions")
        }
        var nonce = [UInt8](repeating: 0, count: 16)
        for i in nonce.indices { nonce[i] = UInt8.random(in: 0...255) }
        let body = TransactionBody(orgId: caller.orgId, keyId: signer.keyId, time: app.ledgerClock.nowMs(), nonce: Hex.encode(nonce), payload: payload)
        return try await sequencer.submit(try Transaction.sign(body, with: signer))
    }
}

/// A JSON request body read strictly: only the named fields, each of its type.
struct StrictBody {
    var fields: [String: JSON]

    init(_ req: Request, allowed: Set<String>) throws {
        guard let buffer = req.body.data, buffer.readableBytes > 0 else {
            fields = [:]
            return
        }
        guard buffer.readableBytes <= TransactionController.maxBodyBytes else { throw Problem(.payloadTooLarge, "the body is too large") }
        let json: JSON
        do { json = try JSON.parse(Array(buffer.readableBytesView)) } catch { throw Problem(.malformedJSON, error.description) }
        guard case .object(let f) = json else { throw LedgerError.invalid("body", "must be a JSON object") }
        if let unknown = f.keys.sorted().first(where: { !allowed.contains($0) }) { throw LedgerError.invalid(unknown, "is not a known field") }
        fields = f
    }

    func int(_ key: String) throws -> Int64 {
        guard let v = fields[key] else { throw LedgerError.invalid(key, "is required") }
        guard case .int(let n) = v else { throw LedgerError.invalid(key, "must be an integer number of fen") }
        return n
    }

    func string(_ key: String, maxLength: Int, optional: Bool = false) throws -> String? {
        guard let v = fields[key] else {
            if optional { return nil }
            throw LedgerError.invalid(key, "is required")
        }
        guard case .string(let s) = v, !s.isEmpty, s.count <= maxLength else { throw LedgerError.invalid(key, "must be a string of 1 to \(maxLength) characters") }
        return s
    }

    func orgId(_ key: String) throws -> OrgID {
        guard let id = OrgID(try string(key, maxLength: 36)!) else { throw LedgerError.invalid(key, "must be an org id (a lowercase UUID)") }
        return id
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

/// `POST /tokens/{id}/accept|reject|transfer|split`.
enum TokenActionController {
    static func run(_ req: Request, _ payload: Payload, status: HTTPResponseStatus = .ok) async throws -> Response {
        let caller = try req.auth.require(Caller.self)
        return DTO.outcome(try await LedgerService.submit(payload, by: caller, app: req.application)).response(status: status)
    }

    @Sendable static func accept(req: Request) async throws -> Response {
        _ = try StrictBody(req, allowed: [])
        return try await run(req, .accept(tokenId: try req.tokenIdParameter()))
    }

    @Sendable static func reject(req: Request) async throws -> Response {
        _ = try StrictBody(req, allowed: [])
        return try await run(req, .reject(tokenId: try req.tokenIdParameter()))
    }

    @Sendable static func transfer(req: Request) async throws -> Response {
        let body = try StrictBody(req, allowed: ["toOrgId", "amountFen", "memo"])
        return try await run(req, .transfer(tokenId: try req.tokenIdParameter(), toOrgId: try body.orgId("toOrgId"), amountFen: try body.int("amountFen"),
                                            memo: try body.string("memo", maxLength: Limits.maxMemoLength, optional: true)), status: .created)
    }

    @Sendable static func split(req: Request) async throws -> Response {
        let body = try StrictBody(req, allowed: ["amountsFen"])
        return try await run(req, .split(tokenId: try req.tokenIdParameter(), amountsFen: try body.amounts("amountsFen")), status: .created)
    }
}

extension Application {
    private struct KeyVaultKey: StorageKey {
        typealias Value = KeyVault
    }

    /// Opens the orgs' custodial keys; set when the server starts.
    var keyVault: KeyVault? {
        get { storage[KeyVaultKey.self] }
        set { storage[KeyVaultKey.self] = newValue }
    }
}
