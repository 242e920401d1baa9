import Foundation
import Ledger
import Logging
import SQLKit
import class Vapor.Application
import struct Vapor.URI
import protocol Vapor.StorageKey
import NIOCore
import NIOHTTP1

/// The witnesses the writer sends its log's heads to, and how many must cosign a head for it to
/// be witnessed (SPEC §7).
package struct WitnessSettings: Sendable {
    package struct Entry: Sendable {
        package var key: CosignatureKey
        /// The URL of its `add-checkpoint`.
        package var url: String

        package init(key: CosignatureKey, url: String) {
            self.key = key
            self.url = url
        }
    }

    package var witnesses: [Entry]
    package var quorum: Int

    package init(witnesses: [Entry], quorum: Int) {
        self.witnesses = witnesses
        self.quorum = quorum
    }

    package static let none = WitnessSettings(witnesses: [], quorum: 0)

    /// `CASCADE_WITNESSES`: entries separated by `;`, each `<witness verifier key> <URL of its
    /// add-checkpoint>`. `CASCADE_WITNESS_QUORUM`: how many must cosign (all of them by default).
    package static func parse(witnesses: String?, quorum: String?) throws -> WitnessSettings {
        var entries: [Entry] = []
        for item in (witnesses ?? "").split(separator: ";").map({ $0.trimmingCharacters(in: .whitespaces) }) where !item.isEmpty {
            let parts = item.split(separator: " ", omittingEmptySubsequences: true)
            guard parts.count == 2, let url = URL(string: String(parts[1])), ["http", "https"].contains(url.scheme ?? "") else {
                throw ConfigurationError("CASCADE_WITNESSES: each entry is `<witness verifier key> <URL of its add-checkpoint>`; \"\(item)\" is not")
            }
            do {
                entries.append(Entry(key: try CosignatureKey(verifierKey: String(parts[0])), url: String(parts[1])))
            } catch {
                throw ConfigurationError("CASCADE_WITNESSES: \(parts[0]) is not a witness's verifier key: \(error)")
            }
        }
        return try WitnessSettings(witnesses: entries, quorum: quorum)
    }

    /// `witnesses`, none named twice, and `CASCADE_WITNESS_QUORUM`'s text read against them:
    /// from 1 to their number, all of them when it says nothing.
    package init(witnesses entries: [Entry], quorum: String?) throws {
        guard Set(entries.map(\.key.verifierKey)).count == entries.count else { throw ConfigurationError("CASCADE_WITNESSES names a witness twice") }
        let q = try quorum.flatMap { $0.isEmpty ? nil : $0 }.map { text throws -> Int in
            guard let n = Int(text), n >= 1, n <= entries.count else {
                throw ConfigurationError("CASCADE_WITNESS_QUORUM must be a whole number from 1 to the \(entries.count) witnesses CASCADE_WITNESSES names; it is \(text)")
            }
            return n
        } ?? entries.count
        self.init(witnesses: entries, quorum: q)
    }
}

/// Sends the log's newest head to each witness with a consistency proof from the size that
/// witness last cosigned, keeps the cosignatures, follows a witness's 409 to its size, and backs
/// off from one that cannot be reached (a second, doubling to a minute). A witness that refuses a
/// head of this log — a head of a size it cosigned with another root, a proof from its head that
/// does not verify — is evidence of another history: said, with both heads, in its standing.
/// Runs beside the writer and never holds up a commit.
package actor LogCosigning {
    /// One exchange with a witness: a POST of `body` to `url` (its add-checkpoint), or a GET of
    /// `url` when `body` is nil (its heads), and the answer.
    package typealias Transport = @Sendable (_ url: String, _ body: [UInt8]?) async throws -> (status: Int, body: [UInt8])

    let settings: WitnessSettings
    let log: TransactionLog
    let sql: @Sendable () -> any SQLDatabase
    let transport: Transport
    let logger: Logger
    let nowMs: @Sendable () -> Int64
    var retryAt: [String: Int64] = [:]
    var delayMs: [String: Int64] = [:]
    /// Where each witness stands, as stored (read once), kept here for `/node/status`, which
    /// never waits for the database.
    var standing: [String: CosignatureQueries.Standing] = [:]
    var loaded = false

    package init(settings: WitnessSettings, log: TransactionLog, sql: @escaping @Sendable () -> any SQLDatabase, transport: @escaping Transport,
                 logger: Logger, nowMs: @escaping @Sendable () -> Int64) {
        self.settings = settings
        self.log = log
        self.sql = sql
        self.transport = transport
        self.logger = logger
        self.nowMs = nowMs
    }

    /// Over HTTP, through the application's client: five seconds for an answer.
    package static func http(_ app: Application) -> Transport {
        let client = app.client
        return { url, body in
            let response = try await client.send(body == nil ? .GET : .POST, to: URI(string: url)) { req in
                if let body { req.body = ByteBuffer(bytes: body) }
                req.timeout = .seconds(5)
            }
            return (Int(response.status.code), response.body.map { Array($0.readableBytesView) } ?? [])
        }
    }

    /// Every configured witness: the size it last cosigned (0 for none yet) and its problem, if any.
    package func standings() -> [CosignatureQueries.Standing] {
        settings.witnesses.map { standing[$0.key.verifierKey] ?? CosignatureQueries.Standing(witness: $0.key.verifierKey, cosignedSize: 0, problem: nil) }
    }

    /// One pass: the newest head to every witness that has not cosigned it and is not waiting out a backoff.
    package func round() async {
        guard !settings.witnesses.isEmpty else { return }
        let db = sql()
        if !loaded, let stored = try? await CosignatureQueries.standings(on: db) {
            for s in stored { standing[s.witness] = s }
            loaded = true
        }
        guard loaded, let profile = try? await ChainQueries.profile(on: db), let size = try? await LogQueries.size(on: db), size > 0,
              let root = try? await LogQueries.root(size: size, profile: profile, on: db),
              let cosigned = try? await CosignatureQueries.lines(size: size, root: root, on: db) else { return }
        // Who cosigned this very head (its size and its root: a rewritten history has another root at the same size).
        let done = Set(cosigned.map(\.witness))
        for witness in settings.witnesses {
            let id = witness.key.verifierKey
            guard (retryAt[id] ?? 0) <= nowMs() else { continue }
            if done.contains(id), standing[id]?.problem == nil {
                standing[id] = CosignatureQueries.Standing(witness: id, cosignedSize: size, problem: nil)
                continue
            }
            await push(size: size, root: root, profile: profile, to: witness, from: standing[id]?.cosignedSize ?? 0, on: db)
        }
    }

    func push(size: Int64, root: LogTree.Hash, profile: CryptoProfile, to witness: WitnessSettings.Entry, from cosigned: Int64, on db: any SQLDatabase) async {
        let id = witness.key.verifierKey
        var old = cosigned
        // A 409 names the witness's size: the request is made again once from there.
        for _ in 0..<3 {
            guard old <= size else {
                return await problem(witness, at: old, "it cosigned size \(old) of this log, which has only \(size) transactions: it saw another history \(await evidence(witness, size: size, profile: profile, on: db))", on: db)
            }
            do {
                let proof = try await LogQueries.withNodes(on: db) { node in try LogTree.consistencyProof(from: old, to: size, profile: profile, node: node) }
                let note = try log.checkpoint(size: size, root: root)
                let (status, body) = try await transport(witness.url, Array(AddCheckpoint.body(oldSize: old, proof: proof, note: note).utf8))
                let text = String(decoding: body, as: UTF8.self)
                switch status {
                case 200:
                    let checkpoint = try SignedNote.parse(note).text
                    let lines = (try? SignedNote.parse(checkpoint + "\n" + text).signatures) ?? []
                    guard witness.key.cosigned(checkpoint, in: lines) != nil, let line = lines.first(where: { $0.keyHash == witness.key.keyHash }) else {
                        return await unreachable(witness, "answered 200 without a valid cosignature of its key")
                    }
                    try await CosignatureQueries.keep(witness: id, size: size, root: root, line: line.line, at: nowMs() / 1000, on: db)
                    standing[id] = CosignatureQueries.Standing(witness: id, cosignedSize: size, problem: nil)
                    retryAt[id] = nil
                    delayMs[id] = nil
                    return
                case 409:
                    guard let theirs = Int64(text.trimmingCharacters(in: .newlines)), theirs >= 0 else {
                        return await unreachable(witness, "answered 409 without its size")
                    }
                    if theirs == old {
                        // Our size, and still refused: it cosigned another head of this size.
                        return await problem(witness, at: theirs, "it refused this log's head of size \(size): it cosigned another head of size \(theirs) \(await evidence(witness, size: theirs, profile: profile, on: db))", on: db)
                    }
                    old = theirs
                case 422:
                    return await problem(witness, at: old, "the proof from the head it cosigned (size \(old)) to this log's head of size \(size) does not verify: its head is not in this log's history \(await evidence(witness, size: old, profile: profile, on: db))", on: db)
                default:
                    return await unreachable(witness, "answered \(status): \(text.prefix(200))")
                }
            } catch {
                return await unreachable(witness, "\(error)")
            }
        }
        await unreachable(witness, "its size kept moving")
    }

    /// Both heads: this log's of `size`, and the one the witness says it cosigned (`GET /heads`).
    func evidence(_ witness: WitnessSettings.Entry, size: Int64, profile: CryptoProfile, on db: any SQLDatabase) async -> String {
        let ours = (try? await LogQueries.root(size: size, profile: profile, on: db)).map { "this log's head of size \(size) has root \(Base64.encode($0))" }
            ?? "this log has no head of size \(size)"
        let url = witness.url.hasSuffix("/add-checkpoint") ? String(witness.url.dropLast("/add-checkpoint".count)) + "/heads" : witness.url
        var theirs = "the witness's head could not be read from \(url)"
        if let (status, body) = try? await transport(url, nil), status == 200, case .array(let heads)? = try? JSON.parse(body),
           let head = heads.first(where: { $0["origin"]?.stringValue == log.origin }),
           let size = head["size"]?.intValue, let root = head["root"]?.stringValue {
            theirs = "the witness's cosigned head of size \(size) has root \(root)"
        }
        return "(\(ours); \(theirs))"
    }

    func problem(_ witness: WitnessSettings.Entry, at size: Int64, _ what: String, on db: any SQLDatabase) async {
        logger.error("log cosigning: witness \(witness.key.name) \(what)")
        let said = "witness \(witness.key.name): \(what)"
        standing[witness.key.verifierKey] = CosignatureQueries.Standing(witness: witness.key.verifierKey, cosignedSize: size, problem: said)
        try? await CosignatureQueries.stand(witness: witness.key.verifierKey, at: size, problem: said, nowMs: nowMs(), on: db)
        backOff(witness.key.verifierKey)
    }

    func unreachable(_ witness: WitnessSettings.Entry, _ why: String) async {
        let id = witness.key.verifierKey
        if delayMs[id] == nil { logger.warning("log cosigning: witness \(witness.key.name): \(why); trying again with backoff") }
        backOff(id)
    }

    func backOff(_ id: String) {
        let delay = min(60_000, (delayMs[id] ?? 500) * 2)
        delayMs[id] = delay
        retryAt[id] = nowMs() + delay
    }
}

extension Application {
    private struct LogCosigningKey: StorageKey {
        typealias Value = LogCosigning
    }

    /// The writer's cosigning of its log's heads, when witnesses are configured.
    package var logCosigning: LogCosigning? {
        get { storage[LogCosigningKey.self] }
        set { storage[LogCosigningKey.self] = newValue }
    }

    private struct WitnessSettingsKey: StorageKey {
        typealias Value = WitnessSettings
    }

    package var witnessSettings: WitnessSettings {
        get { storage[WitnessSettingsKey.self] ?? .none }
        set { storage[WitnessSettingsKey.self] = newValue }
    }
}
