import Core
import Foundation
import Ledger
import SQLKit
import Vapor

/// The transaction log over HTTP, for anyone (SPEC §5): its head as a C2SP signed checkpoint and
/// consistency proofs between any two sizes, read from the stored log (what is committed).
package enum LogController {
    /// The stored log's size and root, and the chain's profile.
    static func head(_ sql: any SQLDatabase) async throws -> (size: Int64, root: LogTree.Hash, profile: CryptoProfile) {
        let profile = try await ChainQueries.profile(on: sql)
        let size = try await LogQueries.size(on: sql)
        return (size, try await LogQueries.root(size: size, profile: profile, on: sql), profile)
    }

    /// The head (`size`, `root`) as a signed note: the log's signature, then every cosignature
    /// a witness gave that head.
    static func signedHead(size: Int64, root: LogTree.Hash, log: TransactionLog, sql: any SQLDatabase) async throws -> String {
        try log.checkpoint(size: size, root: root) + (try await CosignatureQueries.lines(size: size, root: root, on: sql)).map(\.line).joined()
    }

    /// `GET /log/checkpoint`: the log's latest head as a signed note (`text/plain; charset=utf-8`),
    /// with the log's signature and every cosignature collected for it.
    @Sendable package static func checkpoint(req: Request) async throws -> Response {
        guard let log = req.application.transactionLog else {
            throw Problem(.notFound, "this node does not sign the transaction log's head; the writer does")
        }
        let (size, root, _) = try await head(req.application.sql)
        var headers = HTTPHeaders()
        headers.replaceOrAdd(name: .contentType, value: "text/plain; charset=utf-8")
        return Response(status: .ok, headers: headers, body: .init(string: try await signedHead(size: size, root: root, log: log, sql: req.application.sql)))
    }

    /// `GET /log/consistency?from=&to=`: `{from, to, proof: [base64…]}`, the RFC 6962 proof that
    /// the log at `from` is a prefix of the log at `to`.
    @Sendable package static func consistency(req: Request) async throws -> Response {
        guard let from = try req.queryCount("from", "a size of the log") else { throw LedgerError.invalid("from", "is required") }
        guard let to = try req.queryCount("to", "a size of the log") else { throw LedgerError.invalid("to", "is required") }
        let (size, _, profile) = try await head(req.application.sql)
        guard to <= size else { throw LedgerError.invalid("to", "must be at most the log's size, \(size)") }
        guard from <= to else { throw LedgerError.invalid("from", "must be at most to (\(to))") }
        let proof = try await LogQueries.withNodes(on: req.application.sql) { node in
            try LogTree.consistencyProof(from: from, to: to, profile: profile, node: node)
        }
        return JSON.object(["from": .int(from), "to": .int(to), "proof": .array(proof.map { .string(Base64.encode($0)) })]).response()
    }

    /// What a transaction's proof adds with the log: `{logIndex, logSize, logProof: [hex…],
    /// checkpoint, witnessed}`: the path to the newest head that contains it and that the
    /// witnesses' quorum cosigned (else the newest head, `witnessed` false), and that head's
    /// signed note with its cosignatures (when this node signs heads).
    static func inclusion(of id: TxID, app: Application) async throws -> [JSONKey: JSON] {
        guard let index = try await LogQueries.index(of: id, on: app.sql) else { return [:] }
        var (size, root, profile) = try await head(app.sql)
        let quorum = app.witnessSettings.quorum
        let witnessed = quorum > 0 ? try await CosignatureQueries.witnessed(quorum: quorum, atLeast: index + 1, on: app.sql) : nil
        if let witnessed { (size, root) = witnessed }
        let path = try await LogQueries.withNodes(on: app.sql) { node in
            try LogTree.inclusionProof(index: index, size: size, profile: profile, node: node)
        }
        var fields: [JSONKey: JSON] = ["logIndex": .int(index), "logSize": .int(size), "logProof": .array(path.map { .string(Hex.encode($0)) }),
                                       "witnessed": .bool(witnessed != nil)]
        if let log = app.transactionLog { fields["checkpoint"] = .string(try await signedHead(size: size, root: root, log: log, sql: app.sql)) }
        return fields
    }
}
