import Core
import Web
import Foundation
import Ledger
import NIOCore
import NIOPosix
import SQLKit
import Vapor

/// `cascade bench api`: the writer over HTTP on the PostgreSQL that `DATABASE_URL` names (a
/// scratch database: it is wiped), driven by concurrent clients doing a supplier's day — issue,
/// accept, transfer, accept, split, request financing, approve — every operation signed by its
/// org's own key and sent to `POST /api/v1/transactions`. In the same run and on the same
/// database, pgbench's TPC-B rate, so the two compare as a ratio.
struct APIBench {
    var clients: Int
    var seconds: Int
    var pgbenchClients: Int
    var console: any Console

    func say(_ line: String) { console.print(line) }

    struct Org {
        let id: OrgID
        let signer: Ed25519Signer
    }

    func run(_ app: Application) async throws {
        guard case .postgres(let url, _) = try DatabaseLocation(url: try databaseURL(app.environment)) else {
            throw CommandFailure(exitCode: 2, "bench api needs DATABASE_URL=postgres://… naming a scratch database (it is wiped)")
        }
        try await Self.wipe(app)
        let pgbenchTps = try pgbench(url: url)
        try await Self.wipe(app)
        say("pgbench TPC-B: \(Int(pgbenchTps)) transactions/s with \(pgbenchClients) clients")

        // The writer, as `serve` starts it, then the orgs: each keeps its own key.
        Platform.useThrowawayMasterKey(app)
        let sealer = try await Platform.startWriter(app)
        let op = try await Platform.genesis(app, sealer: sealer, name: "Bench 平台运营", creditCode: CreditCode.complete("91310000MA1B00001")!,
                                            email: "operator@bench.example", password: "bench-password")
        let operatorCaller = Caller(userId: "", orgId: op, email: "", name: "", userRole: .admin, viaAPIKey: false)
        func register(_ name: String, _ role: OrgRole, _ n: Int) async throws -> Org {
            let org = Org(id: OrgID(UUID().uuidString.lowercased())!, signer: Ed25519Signer.generate())
            let code = CreditCode.complete("91310000MA1B" + String(format: "%05d", n))!
            _ = try await LedgerService.submit(.registerOrg(RegisterOrgPayload(orgId: org.id, name: name, role: role, creditCode: code, publicKey: org.signer.publicKey)),
                                               by: operatorCaller, app: app)
            return org
        }
        let core = try await register("Bench 核心企业", .core, 2)
        let bank = try await register("Bench 银行", .bank, 3)
        var suppliers: [Org] = []
        for i in 0..<clients { suppliers.append(try await register("Bench 供应商 \(i)", .supplier, 10 + i)) }
        let today = app.businessDate

        let port = 18_000 + Int.random(in: 0..<2_000)
        try await app.server.start(address: .hostname("127.0.0.1", port: port))
        defer { Task { await app.server.shutdown() } }
        var connections: [BenchConnection] = []
        for _ in 0..<clients { connections.append(try await BenchConnection.connect(host: "127.0.0.1", port: port, group: app.eventLoopGroup)) }

        let line = try await connections[0].submit(bank, .grantCredit(coreId: core.id, limitFen: Limits.maxAmountFen, rateBps: 380, expiresOn: today.adding(days: 730)))
        let lineId = line.id
        let before = await app.sequencer!.commitStats
        say("bench api: \(clients) clients for \(seconds) s against http://127.0.0.1:\(port), each doing issue → accept → transfer → accept → split → finance → approve")

        let deadline = ContinuousClock.now + .seconds(seconds)
        let started = ContinuousClock.now
        let results = try await withThrowingTaskGroup(of: [Double].self) { group in
            for i in 0..<clients {
                let me = suppliers[i], next = suppliers[(i + 1) % clients], connection = connections[i]
                group.addTask {
                    var latencies: [Double] = []
                    var round = 0
                    while ContinuousClock.now < deadline {
                        round += 1
                        func step(_ org: Org, _ payload: Payload) async throws -> TxID {
                            let t0 = ContinuousClock.now
                            let tx = try await connection.submit(org, payload)
                            latencies.append((ContinuousClock.now - t0).milliseconds)
                            return tx.id
                        }
                        let doc = Document(kind: .invoice, sha256: Hashing.sha256Hex(Array("bench-\(i)-\(round)-\(UUID())".utf8)), number: "B-\(i)-\(round)-\(UUID().uuidString.prefix(8))")
                        let issue = try await step(core, .issue(IssuePayload(supplierId: me.id, creditLineId: lineId, faceFen: 1_000_000, issueDate: today,
                                                                             dueDate: today.adding(days: 90), documents: [doc], memo: nil)))
                        let first = CryptoProfile.standard.tokenId(transactionId: issue, index: 0)
                        _ = try await step(me, .accept(tokenId: first))
                        let transfer = try await step(me, .transfer(tokenId: first, toOrgId: next.id, amountFen: 300_000, memo: nil))
                        _ = try await step(next, .accept(tokenId: CryptoProfile.standard.tokenId(transactionId: transfer, index: 0)))
                        let split = try await step(me, .split(tokenId: CryptoProfile.standard.tokenId(transactionId: transfer, index: 1), amountsFen: [200_000, 200_000, 300_000]))
                        let request = try await step(me, .requestFinancing(tokenId: CryptoProfile.standard.tokenId(transactionId: split, index: 0), bankId: bank.id))
                        _ = try await step(bank, .approveFinancing(financingId: request))
                    }
                    return latencies
                }
            }
            return try await group.reduce(into: [Double]()) { $0 += $1 }
        }
        let elapsed = (ContinuousClock.now - started).milliseconds / 1000
        let after = await app.sequencer!.commitStats
        let sorted = results.sorted()
        func pct(_ p: Double) -> Double { sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] }
        let opsPerSec = Double(sorted.count) / elapsed
        let blocks = after.blocks - before.blocks, txs = after.transactions - before.transactions
        let meanBlock = blocks > 0 ? Double(txs) / Double(blocks) : 0
        let meanCommitMs = blocks > 0 ? (after.writeSeconds - before.writeSeconds) * 1000 / Double(blocks) : 0
        say("operations: \(sorted.count) in \(fmt(elapsed)) s = \(Int(opsPerSec)) ops/s; latency p50 \(fmt(pct(0.5))) ms, p99 \(fmt(pct(0.99))) ms, max \(fmt(sorted.last ?? 0)) ms")
        say("blocks: \(blocks), mean \(fmt(meanBlock)) transactions a block, mean commit \(fmt(meanCommitMs)) ms")
        let replayed = try ChainReplayer.verify(export: try await LedgerStore(db: app.db).exportAll(), parallelism: ProcessInfo.processInfo.activeProcessorCount).get()
        let problems = try await LedgerStore(db: app.db).projectionProblems(against: replayed.state)
        say("chain: height \(replayed.height), \(replayed.state.transactionCount) transactions, verified; projections \(problems.isEmpty ? "match" : "DIFFER: \(problems.prefix(3))")")
        let ratio = pgbenchTps > 0 ? opsPerSec / pgbenchTps : 0
        say(#"{"blocks":\#(blocks),"maxMs":\#(fmt(sorted.last ?? 0)),"meanBlockTx":\#(fmt(meanBlock)),"meanCommitMs":\#(fmt(meanCommitMs)),"opsPerSec":\#(Int(opsPerSec)),"p50Ms":\#(fmt(pct(0.5))),"p99Ms":\#(fmt(pct(0.99))),"pgbenchTps":\#(Int(pgbenchTps)),"ratio":\#(fmt(ratio))}"#)
        for connection in connections { await connection.close() }
        await app.server.shutdown()
    }

    func fmt(_ x: Double) -> String { String(format: "%.2f", x) }

    /// The scratch database, empty.
    static func wipe(_ app: Application) async throws {
        try await app.wipeScratchPostgres()
    }

    /// pgbench's TPC-B-like rate on the same database: scale 8, `pgbenchClients` clients, 15 s.
    func pgbench(url: String) throws -> Double {
        let bindir = try output("pg_config", ["--bindir"]).trimmingCharacters(in: .whitespacesAndNewlines)
        let pgbench = bindir + "/pgbench"
        _ = try output(pgbench, ["-i", "-q", "-s", "8", url])
        let text = try output(pgbench, ["-c", "\(pgbenchClients)", "-j", "2", "-T", "15", "-b", "tpcb-like", url])
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("tps = ") }),
              let tps = Double(line.dropFirst("tps = ".count).prefix { $0 == "." || $0.isNumber }) else {
            throw CommandFailure("pgbench printed no tps line:\n\(text)")
        }
        return tps
    }

    /// Runs a program to its end, its output through a file. Spawned with an empty signal mask
    /// and default handlers: the server's threads block most signals, and a child that
    /// inherited that mask (pgbench's timers among them) would never finish.
    func output(_ program: String, _ arguments: [String]) throws -> String {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("cascade-bench-\(UUID().uuidString).log").path
        defer { try? FileManager.default.removeItem(atPath: log) }
        let path = program.hasPrefix("/") ? program : "/usr/bin/env"
        let argv = (program.hasPrefix("/") ? [program] : ["env", program]) + arguments
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigmask(&attributes, &mask)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGPIPE, SIGALRM, SIGCHLD, SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var cArgs = argv.map { strdup($0) } + [nil]
        defer { for p in cArgs { free(p) } }
        var pid = pid_t()
        let spawned = posix_spawn(&pid, path, &actions, &attributes, &cArgs, environ)
        guard spawned == 0 else { throw CommandFailure("cannot run \(program): error \(spawned)") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let text = String(decoding: FileManager.default.contents(atPath: log) ?? Data(), as: UTF8.self)
        guard status == 0 else { throw CommandFailure("\(program) failed (status \(status)):\n\(text)") }
        return text
    }
}

/// One bench client's connection: signs each transaction and posts it over its own keep-alive
/// HTTP/1.1 connection, one request at a time. A load generator as lean as pgbench's, so that
/// on one machine the figures measure the server rather than an HTTP client library.
final class BenchConnection: Sendable {
    let channel: any Channel
    let collector: ResponseCollector
    /// The `Host` header line every request carries.
    let host: String

    init(channel: any Channel, collector: ResponseCollector, host: String, port: Int) {
        self.channel = channel
        self.collector = collector
        self.host = "Host: \(host):\(port)\r\n"
    }

    static func connect(host: String, port: Int, group: any EventLoopGroup) async throws -> BenchConnection {
        let collector = ResponseCollector()
        let channel = try await ClientBootstrap(group: group)
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(collector) } }
            .connect(host: host, port: port).get()
        return BenchConnection(channel: channel, collector: collector, host: host, port: port)
    }

    struct Refused: Error, CustomStringConvertible {
        var description: String
    }

    func submit(_ org: APIBench.Org, _ payload: Payload) async throws -> Transaction {
        let body = TransactionBody(orgId: org.id, keyId: org.signer.keyId, time: Int64(Date().timeIntervalSince1970 * 1000),
                                   nonce: UUID().uuidString.lowercased(), payload: payload)
        let tx = try Transaction.sign(body, with: org.signer)
        let json: JSON = ["body": body.json, "signature": .string(Base64.encode(tx.signature))]
        let response = try await send("POST /api/v1/transactions", headers: "Content-Type: application/json\r\n", body: json.canonicalBytes)
        guard response.status == 201 else {
            throw Refused(description: "\(payload.type.rawValue): \(response.status) \(String(decoding: response.body, as: UTF8.self))")
        }
        return tx
    }

    func get(_ path: String, headers: String = "") async throws -> ResponseCollector.Response {
        try await send("GET \(path)", headers: headers, body: [])
    }

    /// One request (`line` is its method and path), answered in turn on this connection.
    func send(_ line: String, headers: String, body bytes: [UInt8]) async throws -> ResponseCollector.Response {
        var request = channel.allocator.buffer(capacity: line.utf8.count + host.utf8.count + headers.utf8.count + bytes.count + 64)
        request.writeString("\(line) HTTP/1.1\r\n\(host)\(headers)Content-Length: \(bytes.count)\r\n\r\n")
        request.writeBytes(bytes)
        let promise = channel.eventLoop.makePromise(of: ResponseCollector.Response.self)
        let (channel, collector) = (self.channel, self.collector)
        channel.eventLoop.execute {
            collector.expect(promise)
            channel.writeAndFlush(request, promise: nil)
        }
        return try await promise.futureResult.get()
    }

    func close() async {
        try? await channel.close()
    }
}

/// Reads HTTP/1.1 responses with a `Content-Length` off one connection, in order. Touched only
/// on its channel's event loop.
final class ResponseCollector: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer

    struct Response: Sendable {
        var status: Int
        var body: [UInt8]
    }

    private var buffer = ByteBuffer()
    private var waiting: [EventLoopPromise<Response>] = []

    func expect(_ promise: EventLoopPromise<Response>) { waiting.append(promise) }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        buffer.writeBuffer(&incoming)
        while let response = nextResponse() {
            guard !waiting.isEmpty else { return }
            waiting.removeFirst().succeed(response)
        }
    }

    /// One whole response off the front of the buffer, or nil while it is still arriving.
    private func nextResponse() -> Response? {
        let parsed = buffer.withUnsafeReadableBytes { raw -> (status: Int, headLength: Int, bodyLength: Int)? in
            let u = raw.bindMemory(to: UInt8.self)
            // "HTTP/1.1 201 …": the status is three digits at bytes 9–11.
            guard u.count >= 16 else { return nil }
            var status = 0
            for k in 9..<12 { status = status * 10 + Int(u[k] &- 48) }
            var bodyLength = 0
            var lineStart = 0
            var i = 0
            while i + 1 < u.count {
                guard u[i] == 13, u[i + 1] == 10 else {
                    i += 1
                    continue
                }
                if i == lineStart { return (status, i + 2, bodyLength) }  // the empty line ends the head
                if let length = Self.contentLength(u, lineStart, i) { bodyLength = length }
                i += 2
                lineStart = i
            }
            return nil
        }
        guard let parsed, buffer.readableBytes >= parsed.headLength + parsed.bodyLength else { return nil }
        buffer.moveReaderIndex(forwardBy: parsed.headLength)
        let body = buffer.readBytes(length: parsed.bodyLength) ?? []
        buffer.discardReadBytes()
        return Response(status: parsed.status, body: body)
    }

    private static let contentLengthName = Array("content-length:".utf8)

    /// The value of a `Content-Length` header line (name in any case), or nil for another line.
    private static func contentLength(_ u: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Int? {
        let name = contentLengthName
        guard end - start > name.count else { return nil }
        for k in 0..<name.count where u[start + k] | 0x20 != name[k] | 0x20 { return nil }
        var value = 0
        for k in start + name.count..<end where u[k] != 32 { value = value * 10 + Int(u[k] &- 48) }
        return value
    }

    private typealias Refused = BenchConnection.Refused

    private func fail(_ error: any Error) {
        buffer.clear()
        for promise in waiting { promise.fail(error) }
        waiting.removeAll()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(Refused(description: "the server closed the connection"))
    }
}

extension Duration {
    var milliseconds: Double { Double(components.seconds) * 1000 + Double(components.attoseconds) / 1e15 }
}
