import Core
import Web
import Crypto
import Fluent
import Foundation
import Ledger
import SQLKit
import Vapor

/// Starting the writer: migrations, the writer lock, the master key, the clock, the sequencer
/// rebuilt from the stored chain, and the jobs. `serve` and `demo` both come through here.
enum Platform {
    /// The operator's signer, read once the operator exists; the sequencer seals with it.
    final class SealerBox: @unchecked Sendable {
        private let lock = NSLock()
        private var signer: (any TransactionSigner)?
        func get() -> (any TransactionSigner)? { lock.withLock { signer } }
        func set(_ s: any TransactionSigner) { lock.withLock { signer = s } }
    }

    private struct LockKey: StorageKey { typealias Value = WriterLock }

    struct ReleaseLock: LifecycleHandler {
        func shutdownAsync(_ app: Application) async {
            await app.storage[LockKey.self]?.release()
        }
    }

    /// A benchmark's database is scratch, wiped before it starts: without `CASCADE_MASTER_KEY`,
    /// its org keys are sealed under a key made for this run (processes it starts inherit it).
    static func useThrowawayMasterKey(_ app: Application) {
        guard Environment.get("CASCADE_MASTER_KEY")?.isEmpty ?? true else { return }
        setenv("CASCADE_MASTER_KEY", Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString(), 1)
        app.logger.notice("CASCADE_MASTER_KEY is not set: the benchmark seals its scratch keys under one made for this run")
    }

    /// Keeps `lock` for as long as `app` runs; it is released when the application shuts down.
    static func hold(_ lock: WriterLock, in app: Application) {
        app.storage[LockKey.self] = lock
        app.lifecycle.use(ReleaseLock())
    }

    /// Starts the drift check from the writer's state as it starts, every `CASCADE_DRIFT_CHECK_SECONDS`
    /// (default 5): drift stops the writer within seconds of the block that caused it.
    static func watchForDrift(_ app: Application, _ sequencer: Sequencer) async {
        let interval = Duration.seconds(Environment.get("CASCADE_DRIFT_CHECK_SECONDS").flatMap(Int.init).map { max(1, $0) } ?? 5)
        let (state, tip) = await sequencer.stateAndTip()
        let check = DriftCheck(state: state, tip: tip, store: { LedgerStore(db: app.db) }, halt: { reason in await sequencer.halt(because: reason) })
        app.driftCheck = check
        app.background.start { await check.loop(every: interval, until: { app.background.isStopping }) }
    }

    /// The writer lock this process holds, if any.
    static func heldLock(_ app: Application) -> WriterLock? { app.storage[LockKey.self] }

    /// Makes this process the writer of its database. `masterKeyFile`: where a generated
    /// master key is kept between runs (the demo's SQLite file has one beside it).
    static func startWriter(_ app: Application, masterKeyFile: String? = nil) async throws -> SealerBox {
        let location = try DatabaseLocation(url: try databaseURL(app.environment))
        try await app.migrateDatabase()
        let lock = try await WriterLock.acquire(location, logger: app.logger)
        hold(lock, in: app)

        var keyText = Environment.get("CASCADE_MASTER_KEY")
        if keyText?.isEmpty ?? true, let masterKeyFile, let saved = FileManager.default.contents(atPath: masterKeyFile) {
            keyText = String(decoding: saved, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let (vault, generated) = try KeyVault.fromEnvironment(keyText, keptIn: masterKeyFile)
        if generated, let masterKeyFile {
            let encoded = vault.masterKey.withUnsafeBytes { Data($0).base64EncodedString() }
            try FileManager.default.createDirectory(atPath: URL(fileURLWithPath: masterKeyFile).deletingLastPathComponent().path, withIntermediateDirectories: true)
            guard FileManager.default.createFile(atPath: masterKeyFile, contents: Data(encoded.utf8), attributes: [.posixPermissions: 0o600]) else {
                throw ConfigurationError("cannot keep the demo's master key in \(masterKeyFile)")
            }
            app.logger.warning("CASCADE_MASTER_KEY is not set: generated one for this demo and kept it in \(masterKeyFile)")
        }
        app.keyVault = vault

        let clock: any LedgerClock = app.environment == .production ? SystemClock() : AdjustableClock()
        app.ledgerClock = clock
        let sealer = SealerBox()
        // The operator's key checks the snapshot's signature before the state is read from it.
        if let op = try await OrgQueries.first(.operator, on: app.sql),
           let signer = try await vault.signer(for: op, on: app.sql) {
            sealer.set(signer)
        }
        let sequencer = try await Sequencer.load(store: LedgerStore(db: app.db, writer: lock.connection), sealer: { sealer.get() }, clock: clock,
                                                 reconnect: .through(lock, app), snapshots: .fromEnvironment())
        if !sequencer.start.hasPrefix("from the snapshot"), await sequencer.height >= 0 {
            // The next start should not have to replay everything again.
            Task { try? await sequencer.writeSnapshotNow() }
        }
        let wanted: CryptoProfile?
        do { wanted = try CryptoProfile.fromEnvironment(Environment.get("CASCADE_CRYPTO_PROFILE")) } catch { throw ConfigurationError(error.message) }
        let profile = try await sequencer.settleProfile(wanted)
        app.keyVault?.profile = profile
        // The transaction log: its key, and the stored log built for blocks written before it.
        let log = try await TransactionLog.load(vault: vault, origin: try TransactionLog.origin(from: Environment.get("CASCADE_LOG_ORIGIN")),
                                                on: app.sql, nowMs: clock.nowMs())
        let built = try await TransactionLog.catchUp(to: await sequencer.read(\.log), on: app.sql)
        if built > 0 { app.logger.notice("transaction log: built \(built) leaves for blocks written before it") }
        app.transactionLog = log
        startCosigning(app, try WitnessSettings.parse(witnesses: Environment.get("CASCADE_WITNESSES"), quorum: Environment.get("CASCADE_WITNESS_QUORUM")))
        if let op = await sequencer.read(\.operatorId) {
            guard let signer = try await vault.signer(for: op, on: app.sql) else {
                throw ConfigurationError("the operator's key is not held by this platform: blocks cannot be sealed")
            }
            sealer.set(signer)
        }
        if let adjustable = clock as? AdjustableClock { adjustable.catchUp(to: await sequencer.tipTimeMs) }
        app.sequencer = sequencer
        let metrics = app.metrics
        await sequencer.setCommitObserver { took, transactions in metrics.block(duration: took, transactions: transactions) }
        await watchForDrift(app, sequencer)
        app.background.every(.seconds(2), after: .seconds(2)) { await sequencer.heartbeat() }
        try await ApprovalService.recover(app)
        try await OnboardingService.sweepUnregistered(app)
        return sealer
    }

    /// The log's heads go to `witnesses` every second, beside the writer: a witness never holds
    /// up a commit. Replaces the cosigning that ran before, if any.
    static func startCosigning(_ app: Application, _ witnesses: WitnessSettings) {
        app.witnessSettings = witnesses
        guard let log = app.transactionLog, !witnesses.witnesses.isEmpty else { return }
        let cosigning = LogCosigning(settings: witnesses, log: log, sql: { app.sql }, transport: LogCosigning.http(app), logger: app.logger,
                                     nowMs: { Int64(Date().timeIntervalSince1970 * 1000) })
        let first = app.logCosigning == nil
        app.logCosigning = cosigning
        if first { app.background.every(.seconds(1), after: .seconds(1)) { await app.logCosigning?.round() } }
    }

    /// Genesis: the operator registers itself with a new key and sets the policy of format 2 (the
    /// rules of 银发〔2025〕77号 on, SPEC §2), and its first admin is created.
    static func genesis(_ app: Application, sealer: SealerBox, name: String, creditCode: String, email: String, password: String) async throws -> OrgID {
        guard let vault = app.keyVault, let sequencer = app.sequencer else { throw ConfigurationError("the writer is not started") }
        let orgId = OrgID(UUID().uuidString.lowercased())!
        let now = app.ledgerClock.nowMs()
        let signer = try await vault.createKey(for: orgId, on: app.sql, nowMs: now)
        sealer.set(signer)
        let body = TransactionBody(orgId: orgId, keyId: signer.keyId, time: now, nonce: UUID().uuidString.lowercased(),
                                   payload: .registerOrg(RegisterOrgPayload(orgId: orgId, name: name, role: .operator, creditCode: creditCode, publicKey: signer.publicKey)))
        _ = try await sequencer.submit(try Transaction.sign(body, with: signer))
        let policy = TransactionBody(orgId: orgId, keyId: signer.keyId, time: app.ledgerClock.nowMs(), nonce: UUID().uuidString.lowercased(),
                                     payload: .setPolicy(.format2))
        _ = try await sequencer.submit(try Transaction.sign(policy, with: signer))
        try await Accounts(sql: app.sql).createUser(org: orgId, email: email, name: name, role: .admin, password: password, nowMs: now)
        return orgId
    }
}

/// `cascade serve [--hostname H] [--port P]`: the writer against `DATABASE_URL`; with
/// `CASCADE_READ_ONLY=true`, a read-only replica serving the console and the API from it (a
/// PostgreSQL hot standby, say). On an empty
/// database it creates the genesis from `CASCADE_OPERATOR_NAME`, `CASCADE_OPERATOR_CREDIT_CODE`,
/// `CASCADE_OPERATOR_EMAIL` and `CASCADE_OPERATOR_PASSWORD`.
struct WriterServeCommand: AsyncCommand {
    typealias Signature = ServeCommand.Signature
    var help: String { "Serves the API and the console as the writer of DATABASE_URL." }

    func run(using context: CommandContext, signature: Signature) async throws {
        let app = context.application
        if Environment.get("CASCADE_READ_ONLY") == "true" {
            // A replica: reads the database as it is (a standby's schema comes with replication).
            app.readOnlyReplica = true
            context.console.print("serving read-only from \(app.postgresPool.map { PostgresServers.hostPart($0.current) } ?? "the database"); writes go to the writer")
            try await app.servers.asyncCommand.run(using: context, signature: signature)
            return
        }
        let sealer = try await Platform.startWriter(app)
        if await app.sequencer?.read(\.operatorId) == nil {
            let env = ["CASCADE_OPERATOR_NAME", "CASCADE_OPERATOR_CREDIT_CODE", "CASCADE_OPERATOR_EMAIL", "CASCADE_OPERATOR_PASSWORD"].map { Environment.get($0) ?? "" }
            guard !env.contains(where: \.isEmpty) else {
                context.console.error("serve: the database has no chain yet. Set CASCADE_OPERATOR_NAME, CASCADE_OPERATOR_CREDIT_CODE, CASCADE_OPERATOR_EMAIL and CASCADE_OPERATOR_PASSWORD to create the genesis, or run `cascade demo`.")
                throw CommandFailure(exitCode: 2, "no genesis")
            }
            _ = try await Platform.genesis(app, sealer: sealer, name: env[0], creditCode: env[1], email: env[2], password: env[3])
            context.console.print("genesis: \(env[0]) registered as the operator; sign in as \(env[2])")
        }
        Jobs.schedule(app)
        try await app.servers.asyncCommand.run(using: context, signature: signature)
    }
}

/// `cascade demo --profile sm2-sm3`: the demo's chain is created in that crypto profile, as
/// `CASCADE_CRYPTO_PROFILE` would have it. The option is taken out of `arguments` before the
/// server's own options (`--hostname`, `--port`) are read.
public func takeDemoProfileOption(_ arguments: inout [String]) throws {
    guard arguments.count > 1, arguments[1] == "demo" else { return }
    var i = 2
    while i < arguments.count {
        let argument = arguments[i]
        if argument == "--profile" || argument.hasPrefix("--profile=") {
            let inline = argument.hasPrefix("--profile=")
            guard inline || i + 1 < arguments.count else { throw ConfigurationError("demo: --profile needs a value: ed25519-sha256 or sm2-sm3") }
            let name = inline ? String(argument.dropFirst("--profile=".count)) : arguments[i + 1]
            do { _ = try CryptoProfile(named: name, field: "--profile") } catch { throw ConfigurationError("demo: \(error.message)") }
            setenv("CASCADE_CRYPTO_PROFILE", name, 1)
            arguments.removeSubrange(i..<(inline ? i + 1 : i + 2))
        } else {
            i += 1
        }
    }
}

/// `cascade demo [--profile P]`: migrates (by default an SQLite file), seeds the demo consortium
/// into an empty database (in crypto profile P, `ed25519-sha256` by default), prints the logins
/// and serves on port 8080.
struct DemoCommand: AsyncCommand {
    typealias Signature = ServeCommand.Signature
    var help: String { "Seeds the demo consortium into an empty database and serves it on http://localhost:8080. --profile sm2-sm3 creates its chain in the 国密 profile." }

    func run(using context: CommandContext, signature: Signature) async throws {
        let app = context.application
        let location = try DatabaseLocation(url: try databaseURL(app.environment))
        var databasePath: String?
        if case .sqlite(let path) = location { databasePath = path }
        let sealer = try await Platform.startWriter(app, masterKeyFile: Self.masterKeyFile(for: location))
        if await app.sequencer?.read(\.operatorId) == nil {
            try await DemoSeed.seed(app, sealer: sealer)
            context.console.print("seeded the demo consortium")
        } else {
            context.console.print("the database already holds a chain; not seeding")
        }
        context.console.print(DemoSeed.loginTable(url: "the address below"))
        if let wallets = try await DemoWallets.start(app, demoPort: DemoWallets.demoPort(), console: context.console) {
            // The sandbox goes when the demo does (serving goes on after `run` returns).
            app.lifecycle.use(DemoWallets.Stopper(process: wallets))
        }
        if let bank = try await DemoBank.start(app, demoPort: DemoWallets.demoPort(), databasePath: databasePath, console: context.console) {
            app.lifecycle.use(DemoWallets.Stopper(process: bank))
        }
        for witness in try await DemoWitnesses.start(app, demoPort: DemoWallets.demoPort(), keptBeside: Self.masterKeyFile(for: location), console: context.console) {
            app.lifecycle.use(DemoWallets.Stopper(process: witness))
        }
        Jobs.schedule(app)
        try await app.servers.asyncCommand.run(using: context, signature: signature)
    }

    /// Where the demo keeps the master key it generates, so that the next run opens the keys it
    /// sealed: beside the SQLite file, or for PostgreSQL in `.cascade/`, one file per server and
    /// database (its URL without the password), so that two demo databases never share a key.
    static func masterKeyFile(for location: DatabaseLocation) -> String {
        switch location {
        case .sqlite(let path):
            return path + ".master-key"
        case .postgres(let url, _):
            var named = url
            if let at = named.lastIndex(of: "@"), let scheme = named.range(of: "://"), let colon = named[scheme.upperBound..<at].firstIndex(of: ":") {
                named.removeSubrange(colon..<at)
            }
            let digest = SHA256.hash(data: Data(named.utf8)).prefix(6).map { String(format: "%02x", $0) }.joined()
            return ".cascade/postgres-\(digest).master-key"
        }
    }
}
