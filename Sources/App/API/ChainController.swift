import Foundation
import Ledger
import SQLKit
import Vapor

/// The chain itself over HTTP: the export (regulator, operator) and inclusion proofs (the
/// transaction's parties, the regulator, the operator).
enum ChainController {
    static func requireRole(_ req: Request, _ roles: Set<OrgRole>) async throws -> (Caller, OrgRole) {
        let caller = try req.auth.require(Caller.self)
        guard let role = try await Accounts.role(of: caller.orgId, on: req.application.sql), roles.contains(role) else {
            throw Problem(.forbidden, "only \(roles.map(\.rawValue).sorted().joined(separator: " or ")) may read this")
        }
        return (caller, role)
    }

    /// `GET /chain/export?fromHeight=N`: JSON Lines, one block per line, streamed page by page.
    @Sendable static func export(req: Request) async throws -> Response {
        _ = try await requireRole(req, [.regulator, .operator])
        let from = try req.query.get(Int64?.self, at: "fromHeight") ?? 0
        guard from >= 0 else { throw LedgerError.invalid("fromHeight", "must be 0 or more") }
        let store = LedgerStore(db: req.application.db)
        var headers = HTTPHeaders()
        headers.contentType = HTTPMediaType(type: "application", subType: "jsonl", parameters: ["charset": "utf-8"])
        return Response(status: .ok, headers: headers, body: .init(managedAsyncStream: { writer in
            try await store.exportLines(fromHeight: from) { line in
                try await writer.writeBuffer(ByteBuffer(bytes: line + [0x0A]))
            }
        }, count: -1))
    }

    /// `GET /transactions/{id}/proof`: the RFC 6962 audit path and the signed block header.
    @Sendable static func proof(req: Request) async throws -> Response {
        let caller = try req.auth.require(Caller.self)
        guard let text = req.parameters.get("id"), let id = TxID(text) else {
            throw LedgerError.invalid("id", "must be a transaction id (64 lowercase hex characters)")
        }
        let sql = req.application.sql
        guard let row = try await sql.raw("SELECT block_height, body FROM transactions WHERE id = \(bind: id.description)").first() else {
            throw Problem(.notFound, "no such transaction")
        }
        let role = try await Accounts.role(of: caller.orgId, on: sql)
        if role != .regulator && role != .operator {
            let body = try TransactionBody(json: try JSON.parse(try row.decode(column: "body", as: String.self)))
            let holders = try await sql.raw("SELECT holder_id FROM tokens WHERE created_tx = \(bind: id.description)").all()
                .map { try $0.decode(column: "holder_id", as: String.self) }
            guard parties(of: body).contains(caller.orgId) || holders.contains(caller.orgId.description) else {
                throw Problem(.notFound, "no such transaction")
            }
        }
        let height = try row.decode(column: "block_height", as: Int64.self)
        var block: Block?
        try await LedgerStore(db: req.application.db).exportLines(fromHeight: height, pageSize: 1) { line in
            if block == nil { block = try ParsedBlock(line: line, index: Int(height)).block }
        }
        guard let proof = block?.inclusionProof(transactionId: id) else { throw Problem(.notFound, "no such transaction") }
        return proof.json.response()
    }

    /// The signer and every org the payload names.
    static func parties(of body: TransactionBody) -> Set<OrgID> {
        var orgs: Set<OrgID> = [body.orgId]
        switch body.payload {
        case .registerOrg(let p): orgs.insert(p.orgId)
        case .rotateKey(let o, _), .setOrgStatus(let o, _): orgs.insert(o)
        case .grantCredit(let core, _, _, _): orgs.insert(core)
        case .issue(let p): orgs.insert(p.supplierId)
        case .transfer(_, let to, _, _): orgs.insert(to)
        case .requestFinancing(_, let bank): orgs.insert(bank)
        default: break
        }
        return orgs
    }
}
