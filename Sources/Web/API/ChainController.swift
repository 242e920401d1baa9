import Core
import Foundation
import Ledger
import SQLKit
import Vapor

/// The chain itself over HTTP: the export (regulator, operator) and inclusion proofs (the
/// transaction's parties, the regulator, the operator).
package enum ChainController {
    package static func requireRole(_ req: Request, _ roles: Set<OrgRole>) async throws -> (Caller, OrgRole) {
        let caller = try req.auth.require(Caller.self)
        guard let role = try await Accounts.role(of: caller.orgId, on: req.application.sql), roles.contains(role) else {
            throw Problem(.forbidden, "only \(roles.map(\.rawValue).sorted().joined(separator: " or ")) may read this")
        }
        return (caller, role)
    }

    /// `GET /chain/export?fromHeight=N`: JSON Lines, one block per line, streamed page by page.
    @Sendable package static func export(req: Request) async throws -> Response {
        _ = try await requireRole(req, [.regulator, .operator])
        let from = try req.queryCount("fromHeight", "a block height") ?? 0
        let store = LedgerStore(db: req.application.db)
        var headers = HTTPHeaders()
        headers.contentType = HTTPMediaType(type: "application", subType: "jsonl", parameters: ["charset": "utf-8"])
        return Response(status: .ok, headers: headers, body: .init(managedAsyncStream: { writer in
            try await store.exportLines(fromHeight: from) { line in
                try await writer.writeBuffer(ByteBuffer(bytes: line + [0x0A]))
            }
        }, count: -1))
    }

    /// The transaction named in the path, if the caller is one of its parties (or sees
    /// everything); otherwise it does not exist.
    package static func visibleTransaction(_ req: Request) async throws -> (id: TxID, row: any SQLRow) {
        let viewer = try await req.viewer()
        let id = try req.txIdParameter()
        let sql = req.application.sql
        guard let row = try await sql.raw("SELECT id, block_height, position, type, org_id, time_ms, body, signature FROM transactions WHERE id = \(bind: id.description)").first() else {
            throw Problem(.notFound, "no such transaction")
        }
        if !viewer.seesAll {
            let body = try TransactionBody(json: try JSON.parse(try row.decode(column: "body", as: String.self)))
            let holders = try await sql.raw("SELECT holder_id FROM tokens WHERE created_tx = \(bind: id.description)").all()
                .map { try $0.decode(column: "holder_id", as: String.self) }
            guard body.parties.contains(viewer.orgId) || holders.contains(viewer.orgId.description) else {
                throw Problem(.notFound, "no such transaction")
            }
        }
        return (id, row)
    }

    /// `GET /transactions/{id}`: `{id, blockHeight, position, type, orgId, time, body, signature}`.
    @Sendable package static func transaction(req: Request) async throws -> Response {
        let (id, row) = try await visibleTransaction(req)
        return JSON.object([
            "id": .string(id.description), "blockHeight": .int(try row.decode(column: "block_height", as: Int64.self)),
            "position": .int(try row.decode(column: "position", as: Int64.self)), "type": .string(try row.decode(column: "type", as: String.self)),
            "orgId": .string(try row.decode(column: "org_id", as: String.self)), "time": .string(Time.rfc3339(try row.decode(column: "time_ms", as: Int64.self))),
            "body": try JSON.parse(try row.decode(column: "body", as: String.self)), "signature": .string(try row.decode(column: "signature", as: String.self)),
        ]).response()
    }

    /// `GET /transactions/{id}/proof`: the RFC 6962 audit path and the signed block header.
    @Sendable package static func proof(req: Request) async throws -> Response {
        let (id, row) = try await visibleTransaction(req)
        let height = try row.decode(column: "block_height", as: Int64.self)
        guard let proof = try await LedgerStore(db: req.application.db).inclusionProof(of: id, inBlock: height) else {
            throw Problem(.notFound, "no such transaction")
        }
        return proof.json.response()
    }

    package static func blockJSON(_ row: any SQLRow) throws -> JSON {
        ["height": .int(try row.decode(column: "height", as: Int64.self)), "hash": .string(try row.decode(column: "hash", as: String.self)),
         "prevHash": .string(try row.decode(column: "prev_hash", as: String.self)), "txRoot": .string(try row.decode(column: "tx_root", as: String.self)),
         "txCount": .int(try row.decode(column: "tx_count", as: Int64.self)), "time": .string(Time.rfc3339(try row.decode(column: "time_ms", as: Int64.self))),
         "signature": .string(try row.decode(column: "signature", as: String.self))]
    }

    package static let blockColumns = "height, hash, prev_hash, tx_root, tx_count, time_ms, signature"

    /// `GET /blocks?from=&limit=`: block headers in height order (`from` or `cursor` to go on).
    @Sendable package static func blocks(req: Request) async throws -> Response {
        _ = try await requireRole(req, [.regulator, .operator])
        var page = try Page(req, keyCount: 1)
        if page.after == nil, let from = try req.queryCount("from", "a block height") {
            page.after = [.int(from - 1)]
        }
        return try await page.run("SELECT \(unsafeRaw: blockColumns) FROM blocks WHERE 1 = 1", keys: ["height"], on: req.application.sql) { row in
            let json = try blockJSON(row)
            return (json, [json["height"]!])
        }.response()
    }

    /// `GET /blocks/{height}`: the header and its transactions' ids and types.
    @Sendable package static func block(req: Request) async throws -> Response {
        _ = try await requireRole(req, [.regulator, .operator])
        guard let text = req.parameters.get("height"), let height = Int64(text), height >= 0 else {
            throw LedgerError.invalid("height", "must be a block height, 0 or more")
        }
        let sql = req.application.sql
        guard let row = try await sql.raw("SELECT \(unsafeRaw: blockColumns) FROM blocks WHERE height = \(bind: height)").first(),
              case .object(var fields) = try blockJSON(row) else { throw Problem(.notFound, "no block at height \(height)") }
        fields["transactions"] = .array(try await sql.raw("SELECT id, type, org_id FROM transactions WHERE block_height = \(bind: height) ORDER BY position").all().map {
            ["id": .string(try $0.decode(column: "id", as: String.self)), "type": .string(try $0.decode(column: "type", as: String.self)),
             "orgId": .string(try $0.decode(column: "org_id", as: String.self))]
        })
        return JSON.object(fields).response()
    }

    /// `GET /chain/verify`: replays the stored chain — every hash, signature, Merkle root and
    /// rule — and compares the result with every projection table: `{ok, height, txCount, problems}`.
    /// A run already going on this node is joined, not repeated (`startedBy` says whose it is).
    @Sendable package static func verify(req: Request) async throws -> Response {
        let viewer = try await requireRole(req, [.regulator, .operator])
        let verification = req.application.chainVerification
        let v = try await verification.run(req.application, by: viewer.0.email)
        let startedBy = await verification.current.startedBy
        return JSON.object(["ok": .bool(v.ok), "height": .int(v.height), "txCount": .int(v.txCount), "problems": .array(v.problems.map(JSON.string)),
                            "seconds": .string(v.seconds), "startedBy": startedBy.map(JSON.string) ?? .null]).response()
    }

    /// `GET /chain/verify/progress`: the run going on this node, or the last one:
    /// `{running, blocksDone, blocksTotal, startedBy, result}`.
    @Sendable package static func verifyProgress(req: Request) async throws -> Response {
        _ = try await requireRole(req, [.regulator, .operator])
        let p = await req.application.chainVerification.current
        let result: JSON = p.result.map { v in
            ["ok": .bool(v.ok), "height": .int(v.height), "txCount": .int(v.txCount), "problems": .array(v.problems.map(JSON.string)), "seconds": .string(v.seconds)]
        } ?? .null
        return JSON.object(["running": .bool(p.running), "blocksDone": .int(p.blocksDone), "blocksTotal": .int(p.blocksTotal),
                            "startedBy": p.startedBy.map(JSON.string) ?? .null, "result": result]).response()
    }
}
