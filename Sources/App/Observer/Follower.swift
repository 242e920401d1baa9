import Foundation
import Ledger
import SQLKit
import Vapor

/// An observer node's follower: pulls blocks from the upstream writer's chain export, verifies
/// every hash, signature, Merkle root and rule before storing anything, and keeps its own copy
/// in its own database. It trusts nobody: if the upstream serves a block that does not verify,
/// or a different block at a height already verified (a rewritten history), it stops following,
/// keeps its verified copy, and reports the evidence.
actor Follower {
    enum State: String, Sendable {
        case following, halted
    }

    let app: Application
    let upstream: String
    let token: String
    private(set) var replayer: ChainReplayer
    private(set) var state: State = .following
    private(set) var problem: String?
    private(set) var lastPollMs: Int64?

    init(app: Application, upstream: String, token: String, start: StartingPoint) {
        self.app = app
        self.upstream = upstream.hasSuffix("/") ? String(upstream.dropLast()) : upstream
        self.token = token
        replayer = ChainReplayer(resuming: start.state, at: start.tip)
        self.start = start.account
        checkpointedAt = start.checkpointHeight >= 0 ? start.checkpointTransactions : start.state.transactionCount
    }

    /// Starts from what the observer's own database holds: its own latest checkpoint and the
    /// blocks after it, verified again, or the whole chain it holds when there is no usable one.
    static func load(app: Application, upstream: String, token: String) async throws -> Follower {
        let start = try await StartingPoint.find(in: LedgerStore(db: app.db), operatorKey: nil, signed: false)
        app.logger.notice("observer: state \(start.account)")
        return Follower(app: app, upstream: upstream, token: token, start: start)
    }

    /// How this observer came by its state (see `StartingPoint`).
    let start: String
    /// The transactions its state held at its last checkpoint.
    private var checkpointedAt: Int
    /// Transactions between an observer's own checkpoints, as for the writer's.
    var checkpointEvery = Sequencer.CheckpointPolicy.fromEnvironment().transactions

    var height: Int64 { replayer.height }

    struct Status: Sendable {
        var upstream: String
        var height: Int64
        var state: State
        var problem: String?
    }

    var status: Status { Status(upstream: upstream, height: replayer.height, state: state, problem: problem) }

    /// One round: fetch from the last verified height (that block again, to see it is unchanged),
    /// verify what is new, store it. Returns how many blocks were added.
    @discardableResult
    func poll() async throws -> Int {
        guard state == .following else { return 0 }
        lastPollMs = app.wallClock.nowMs()
        let from = max(replayer.height, 0)
        var headers = HTTPHeaders()
        headers.bearerAuthorization = BearerAuthorization(token: token)
        let response = try await app.client.get(URI(string: "\(upstream)/api/v1/chain/export?fromHeight=\(from)"), headers: headers)
        guard response.status == .ok, let body = response.body else {
            throw FollowError("upstream answered \(response.status.code) to the chain export")
        }
        var lines = Array(body.readableBytesView).split(separator: 0x0A, omittingEmptySubsequences: true)
        if replayer.height >= 0 {
            guard let first = lines.first else { return halt("upstream served nothing from height \(from), which this node has verified") }
            let parsed: ParsedBlock
            do { parsed = try ParsedBlock(line: first, index: Int(from)) } catch { return halt("block \(from) as served again does not parse: \(error)") }
            guard parsed.block.header.height == replayer.height, parsed.block.hash == replayer.lastHash else {
                return halt("rewritten history: upstream now serves block \(parsed.block.header.height) with hash \(parsed.block.hash); "
                            + "the verified block \(replayer.height) has hash \(replayer.lastHash)")
            }
            // Byte for byte: a transaction edited under an unchanged header is a rewrite too.
            var kept: [UInt8]?
            try await LedgerStore(db: app.db).exportLines(fromHeight: replayer.height, pageSize: 1) { line in if kept == nil { kept = line } }
            guard let kept, kept.elementsEqual(first) else {
                return halt("rewritten history: upstream now serves block \(replayer.height) with different contents under the same header (\(parsed.badTransaction?.reason ?? "transactions changed"))")
            }
            lines.removeFirst()
        }
        guard !lines.isEmpty else { return 0 }
        var blocks: [ParsedBlock] = []
        for (i, line) in lines.enumerated() {
            do { blocks.append(try ParsedBlock(line: line, index: Int(replayer.height) + 1 + i)) } catch { return halt("upstream served an unreadable block: \(error)") }
        }
        var candidate = replayer
        candidate.collectsEffects = true
        candidate.effects = []
        let store = LedgerStore(db: app.db)
        // What the blocks refer to that the live state retired comes back from this database.
        try await store.prepare(&candidate.state, at: replayer.height, for: blocks.flatMap(\.block.transactions))
        do {
            try candidate.append(blocks, firstIndex: Int(replayer.height) + 1, parallelism: ProcessInfo.processInfo.activeProcessorCount)
        } catch {
            return halt("upstream served a block that does not verify: \(error.description)")
        }
        var offset = 0
        for parsed in blocks {
            let count = parsed.block.transactions.count
            try await store.append(parsed.block, effects: Array(candidate.effects[offset..<offset + count]), state: candidate.state)
            offset += count
        }
        candidate.collectsEffects = false
        candidate.effects = []
        if candidate.state.retireIsDue { candidate.state.retire() }
        replayer = candidate
        if replayer.state.transactionCount - checkpointedAt >= checkpointEvery { try await writeCheckpoint() }
        return blocks.count
    }

    /// The observer's own checkpoint, in its own database (unsigned: it trusts its database).
    func writeCheckpoint() async throws {
        let tip = ChainTip(height: replayer.height, hash: replayer.lastHash, time: replayer.lastTime)
        guard tip.height >= 0 else { return }
        try await LedgerStore(db: app.db).writeCheckpoint(try StoredCheckpoint.make(replayer.state, at: tip, signer: nil), nowMs: Int64(Date().timeIntervalSince1970 * 1000))
        checkpointedAt = replayer.state.transactionCount
    }

    private func halt(_ evidence: String) -> Int {
        state = .halted
        problem = evidence
        app.logger.critical("observer halted, keeping its verified copy at height \(replayer.height): \(evidence)")
        return 0
    }
}

struct FollowError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

extension Application {
    private struct FollowerKey: StorageKey { typealias Value = Follower }

    private struct ReplicaKey: StorageKey { typealias Value = Bool }

    /// Set on a read-only replica (`CASCADE_READ_ONLY=true cascade serve`): no writer, and every
    /// write refused.
    var readOnlyReplica: Bool {
        get { storage[ReplicaKey.self] ?? false }
        set { storage[ReplicaKey.self] = newValue }
    }

    /// Set on an observer node: every write is refused and the status says whom it follows.
    var follower: Follower? {
        get { storage[FollowerKey.self] }
        set { storage[FollowerKey.self] = newValue }
    }
}

/// On an observer node nothing is written: every POST, PUT, PATCH and DELETE but signing in and
/// out is refused with 403. On a read-only replica (a node serving from a PostgreSQL standby),
/// signing in too: sessions and keys are made on the writer, and reach the replica with the rest.
struct ReadOnlyNode: AsyncMiddleware {
    static let allowed: Set<String> = ["/api/v1/auth/login", "/api/v1/auth/logout", "/login", "/logout"]

    func respond(to req: Request, chainingTo next: any AsyncResponder) async throws -> Response {
        let writes = [.POST, .PUT, .PATCH, .DELETE].contains(req.method)
        if writes, req.application.follower != nil, !Self.allowed.contains(req.url.path) {
            throw Problem(.forbidden, "this is a read-only observer node; send writes to the writer it follows")
        }
        if writes, req.application.readOnlyReplica {
            // A replica's database takes no writes at all, sign-ins included.
            throw Problem(.forbidden, "this is a read-only replica of the writer's database; sign in and send writes to the writer")
        }
        return try await next.respond(to: req)
    }
}

/// `cascade follow --upstream URL --token T [--hostname H] [--port P]`: a read-only observer
/// with its own database (`DATABASE_URL`). `CASCADE_OBSERVER_EMAIL` and
/// `CASCADE_OBSERVER_PASSWORD` give the node a local sign-in for the regulator's pages.
struct FollowCommand: AsyncCommand {
    struct Signature: CommandSignature {
        @Option(name: "upstream", help: "The writer's base URL, e.g. https://cascade.example")
        var upstream: String?
        @Option(name: "token", help: "An API key or login token of a regulator or operator on the upstream")
        var token: String?
        @Option(name: "hostname", help: "Where to listen (default 127.0.0.1)")
        var hostname: String?
        @Option(name: "port", help: "Port to listen on (default 8080)")
        var port: Int?
        @Option(name: "interval", help: "Seconds between polls (default 2)")
        var interval: Int?
        init() {}
    }

    var help: String { "Runs a read-only observer node that verifies and keeps its own copy of the upstream's chain." }

    func run(using context: CommandContext, signature: Signature) async throws {
        guard let upstream = signature.upstream, let token = signature.token else {
            context.console.error("follow: --upstream URL and --token T are required")
            throw CommandFailure(exitCode: 2, "missing arguments")
        }
        let app = context.application
        try await app.migrateDatabase()
        let follower = try await Follower.load(app: app, upstream: upstream, token: token)
        app.follower = follower
        if let email = Environment.get("CASCADE_OBSERVER_EMAIL"), let password = Environment.get("CASCADE_OBSERVER_PASSWORD") {
            try await FollowCommand.localUser(app, follower: follower, email: email, password: password)
        }
        let interval = max(1, signature.interval ?? 2)
        let poller = Task {
            while !Task.isCancelled {
                do {
                    let added = try await follower.poll()
                    if added > 0 {
                        let height = await follower.height
                        app.logger.info("observer: \(added) blocks verified and stored, height \(height)")
                        if let email = Environment.get("CASCADE_OBSERVER_EMAIL"), let password = Environment.get("CASCADE_OBSERVER_PASSWORD") {
                            try? await FollowCommand.localUser(app, follower: follower, email: email, password: password)
                        }
                    }
                } catch {
                    app.logger.warning("observer: \(error)")
                }
                try? await Task.sleep(for: .seconds(interval))
            }
        }
        app.lifecycle.use(StopPolling(task: poller))
        // Vapor's own serve command listens, and stops cleanly on SIGINT or SIGTERM.
        var serve = CommandContext(console: context.console,
                                   input: CommandInput(arguments: ["cascade", "--hostname", signature.hostname ?? "127.0.0.1", "--port", String(signature.port ?? 8080)]))
        serve.application = app
        try await app.servers.asyncCommand.run(using: &serve)
    }

    struct StopPolling: LifecycleHandler {
        let task: Task<Void, Never>
        func shutdownAsync(_ app: Application) async { task.cancel() }
    }

    /// A local sign-in bound to the chain's regulator, made once the chain names one.
    static func localUser(_ app: Application, follower: Follower, email: String, password: String) async throws {
        guard try await app.sql.raw("SELECT id FROM users WHERE email = \(bind: email.lowercased())").first() == nil else { return }
        guard let row = try await app.sql.raw("SELECT id FROM orgs WHERE role = 'regulator' ORDER BY id").first(),
              let org = OrgID(try row.decode(column: "id", as: String.self)) else { return }
        try await Accounts(sql: app.sql).createUser(org: org, email: email, name: "Observer", role: .admin, password: password, nowMs: app.wallClock.nowMs())
    }
}
