import Foundation
import Ledger
import Logging
import SQLKit

/// A witness of C2SP `tlog-witness` (`cascade witness`): for each log it is told of (origin,
/// note key, tree hash), it keeps the last head it cosigned, cosigns a new head only when a
/// consistency proof shows that it extends that one, and stores the new head in the same step
/// as it checks the old: a conditional write, so that two requests (or two processes) can never
/// both move one log's head, nor roll it back.
package struct Witness: Sendable {
    package struct Log: Sendable {
        package var key: NoteVerifier
        package var profile: CryptoProfile
        package init(key: NoteVerifier, profile: CryptoProfile) {
            self.key = key
            self.profile = profile
        }
    }

    /// An answer: the HTTP status, its body and content type.
    package struct Answer: Sendable, Equatable {
        package var status: Int
        package var body: String
        package var contentType: String
    }

    package let cosigner: Cosigner
    package let logs: [String: Log]
    let sql: any SQLDatabase
    let logger: Logger
    /// POSIX seconds, for the cosignatures' timestamps.
    let now: @Sendable () -> UInt64

    package init(cosigner: Cosigner, logs: [Log], sql: any SQLDatabase, logger: Logger, now: @escaping @Sendable () -> UInt64) {
        self.cosigner = cosigner
        self.logs = Dictionary(logs.map { ($0.key.name, $0) }, uniquingKeysWith: { first, _ in first })
        self.sql = sql
        self.logger = logger
        self.now = now
    }

    /// The head last cosigned for `origin`.
    package func last(_ origin: String) async throws -> (size: Int64, root: LogTree.Hash, note: String)? {
        try await WitnessHeads.last(origin, on: sql)
    }

    /// Every head this witness cosigned: `[{origin, size, root, note}]`, the note signed by the
    /// log and cosigned by this witness.
    package func heads() async throws -> JSON {
        .array(try await WitnessHeads.all(on: sql).map { h in
            ["origin": .string(h.origin), "size": .int(h.size), "root": .string(h.root), "note": .string(h.note)]
        })
    }

    /// `POST /add-checkpoint`.
    package func addCheckpoint(_ body: [UInt8]) async throws -> Answer {
        let request: AddCheckpoint
        do {
            request = try AddCheckpoint(body: body)
        } catch {
            return refuse(400, "the request is not an add-checkpoint: \(error)", origin: nil)
        }
        let origin = request.checkpoint.origin
        // Judged against the stored head, then written only if that head is still the stored
        // one; another request that moved it first means judging again.
        for _ in 0..<16 {
            let stored = try await last(origin)
            switch WitnessVerdict.judge(request, log: logs[origin].map { ($0.key, $0.profile) }, last: stored.map { ($0.size, $0.root) }) {
            case .refuse(let status, let reason, let size):
                return refuse(status, reason, origin: origin, size: size)
            case .cosign(let size, let root):
                let line = try cosigner.cosign(request.text, time: now())
                let note = SignedNote.encode(text: request.text, signatures: request.signatures.filter { $0.name == origin } + [line])
                if let stored, stored.size == size {
                    return Answer(status: 200, body: line.line, contentType: "text/plain; charset=utf-8")
                }
                if try await store(origin, size: size, root: root, note: note, replacing: stored.map { ($0.size, $0.root) }) {
                    logger.info("witness: cosigned \(origin) at size \(size)")
                    return Answer(status: 200, body: line.line, contentType: "text/plain; charset=utf-8")
                }
            }
        }
        return refuse(503, "the head of \(origin) kept moving under this request", origin: origin)
    }

    func store(_ origin: String, size: Int64, root: LogTree.Hash, note: String, replacing old: (size: Int64, root: LogTree.Hash)?) async throws -> Bool {
        try await WitnessHeads.store(origin, size: size, root: root, note: note, at: Int64(now()), replacing: old, on: sql)
    }

    func refuse(_ status: Int, _ reason: String, origin: String?, size: Int64? = nil) -> Answer {
        logger.notice("witness: refused add-checkpoint\(origin.map { " for \($0)" } ?? "") with \(status): \(reason)")
        if status == 409, let size { return Answer(status: 409, body: "\(size)\n", contentType: "text/x.tlog.size") }
        return Answer(status: status, body: reason + "\n", contentType: "text/plain; charset=utf-8")
    }
}
