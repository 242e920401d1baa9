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

    /// The transaction named in the path, if the caller may see it; otherwise it does not exist.
    package static func visibleTransaction(_ req: Request) async throws -> ChainQueries.StoredTransaction {
        guard let stored = try await ChainQueries.transaction(try req.txIdParameter(), visibleTo: try await req.viewer(), on: req.application.sql) else {
            throw Problem(.notFound, "no such transaction")
        }
        return stored
    }

    /// `GET /transactions/{id}`: `{id, blockHeight, position, type, orgId, time, body, signature}`.
    @Sendable package static func transaction(req: Request) async throws -> Response {
        let t = try await visibleTransaction(req)
        return JSON.object([
            "id": .string(t.id.description), "blockHeight": .int(t.blockHeight), "position": .int(t.position), "type": .string(t.type),
            "orgId": .string(t.orgId), "time": .string(Time.rfc3339(t.timeMs)), "body": try JSON.parse(t.body), "signature": .string(t.signature),
        ]).response()
    }

    /// `GET /transactions/{id}/proof`: the RFC 6962 audit path and the signed block header.
    @Sendable package static func proof(req: Request) async throws -> Response {
        let t = try await visibleTransaction(req)
        let profile = try await ChainQueries.profile(on: req.application.sql)
        guard let proof = try await LedgerStore(db: req.application.db).inclusionProof(of: t.id, inBlock: t.blockHeight, profile: profile),
              case .object(var fields) = proof.json else {
            throw Problem(.notFound, "no such transaction")
        }
        fields.merge(try await LogController.inclusion(of: t.id, app: req.application)) { _, log in log }
        return JSON.object(fields).response()
    }

    package static func json(_ h: ChainQueries.Header) -> JSON {
        ["height": .int(h.height), "hash": .string(h.hash), "prevHash": .string(h.prevHash), "txRoot": .string(h.txRoot),
         "txCount": .int(h.txCount), "time": .string(Time.rfc3339(h.timeMs)), "signature": .string(h.signature)]
    }

    /// `GET /blocks?from=&limit=`: block headers in height order (`from` or `cursor` to go on).
    @Sendable package static func blocks(req: Request) async throws -> Response {
        _ = try await requireRole(req, [.regulator, .operator])
        var page = try Page(req, keyCount: 1)
        if page.after == nil, let from = try req.queryCount("from", "a block height") {
            page.after = [.int(from - 1)]
        }
        return try await ChainQueries.headers(page: page, on: req.application.sql).json(json).response()
    }

    /// `GET /blocks/{height}`: the header and its transactions' ids and types.
    @Sendable package static func block(req: Request) async throws -> Response {
        _ = try await requireRole(req, [.regulator, .operator])
        guard let text = req.parameters.get("height"), let height = Int64(text), height >= 0 else {
            throw LedgerError.invalid("height", "must be a block height, 0 or more")
        }
        guard let block = try await ChainQueries.block(at: height, on: req.application.sql), case .object(var fields) = json(block.header) else {
            throw Problem(.notFound, "no block at height \(height)")
        }
        fields["transactions"] = .array(block.transactions.map { ["id": .string($0.id), "type": .string($0.type), "orgId": .string($0.orgId)] })
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
