import Foundation
import Ledger
import SQLKit
import class Vapor.Application
import protocol Vapor.StorageKey

/// The transaction log's face (SPEC §4): its origin, its own Ed25519 note key (not an org's, so
/// that it outlives key rotations; made once and kept sealed under the master key), and its
/// heads as C2SP signed checkpoints.
package struct TransactionLog: Sendable {
    package let origin: String
    package let signer: NoteSigner

    /// `origin+keyhash+base64`, as Go's `sumdb/note` writes a verifier key.
    package var verifierKey: String { signer.verifier.verifierKey }

    /// The origin when `CASCADE_LOG_ORIGIN` names none.
    package static let defaultOrigin = "cascade.local/ledger"

    /// `CASCADE_LOG_ORIGIN`: the deployment's name, with no spaces or `+`.
    package static func origin(from value: String?) throws -> String {
        guard let value, !value.isEmpty else { return defaultOrigin }
        guard SignedNote.isKeyName(value), value.utf8.count <= 200 else {
            throw ConfigurationError("CASCADE_LOG_ORIGIN must be the deployment's name, up to 200 characters, with no spaces, control characters or +; it is \"\(value)\"")
        }
        return value
    }

    /// The log's key from the database, made and kept there (sealed) the first time.
    package static func load(vault: KeyVault, origin: String, on sql: any SQLDatabase, nowMs: Int64) async throws -> TransactionLog {
        if try await LogQueries.sealedKey(on: sql) == nil {
            let seed = (0..<32).map { _ in UInt8.random(in: 0...255) }
            try await LogQueries.keep(sealedKey: try vault.seal(seed, context: "log-key"), nowMs: nowMs, on: sql)
        }
        guard let sealed = try await LogQueries.sealedKey(on: sql) else { throw ConfigurationError("the log's key could not be kept") }
        return TransactionLog(origin: origin, signer: try NoteSigner(name: origin, seed: try vault.open(sealed, context: "log-key")))
    }

    /// The head of the log at `size` with `root`, as a signed note.
    package func checkpoint(size: Int64, root: LogTree.Hash) throws -> String {
        try signer.sign(Checkpoint(origin: origin, size: size, root: root).text)
    }

    /// Builds the stored subtrees a chain written before the log existed lacks, up to the log the
    /// writer's state holds, and checks the stored log's root against it. Answers how many
    /// leaves it added.
    @discardableResult
    package static func catchUp(to log: LogFrontier, on sql: any SQLDatabase) async throws -> Int64 {
        let stored = try await LogQueries.storedLeaves(on: sql)
        var frontier = stored == 0 ? LogFrontier(profile: log.profile) : try await LogQueries.frontier(size: stored, profile: log.profile, on: sql)
        var at = stored
        while at < log.size {
            let ids = try await LogQueries.transactionIds(from: at, to: min(log.size, at + 5_000), on: sql)
            guard !ids.isEmpty else { break }
            var made: [(LogTree.Node, LogTree.Hash)] = []
            for id in ids { made += frontier.append(id) }
            try await LogQueries.insert(made, on: sql)
            at += Int64(ids.count)
        }
        guard frontier.size == log.size, frontier.root == log.root else {
            throw ConfigurationError("the stored transaction log (\(frontier.size) leaves) does not agree with the chain's (\(log.size)): its subtrees drifted")
        }
        return log.size - stored
    }
}

extension Application {
    private struct TransactionLogKey: StorageKey {
        typealias Value = TransactionLog
    }

    /// The writer's transaction log: signs its heads. Nil on a node that holds no master key.
    package var transactionLog: TransactionLog? {
        get { storage[TransactionLogKey.self] }
        set { storage[TransactionLogKey.self] = newValue }
    }
}
