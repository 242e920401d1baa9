import Core
import Web
import Foundation
import Ledger
import NIOCore
import SQLKit
import Vapor

/// `cascade bench scale`: a PostgreSQL ledger of N transactions built through the store, then
/// `cascade serve` started on it as a separate process: how long until it serves, how much
/// memory it holds, and how fast the main reads answer. The same at N/4 first, so that growth
/// shows. Figures, not pass/fail: the last line is one JSON object.
struct ScaleBench {
    var transactions: Int
    var console: any Console

    func say(_ line: String) { console.print(line) }
    func fmt(_ x: Double) -> String { String(format: "%.2f", x) }

    /// What one start of `serve` on one ledger measured.
    struct Figures {
        var transactions = 0
        var startupSeconds = 0.0
        var residentMB = 0.0
        var start = ""
        /// Read name → (p50, p99) in milliseconds.
        var reads: [(String, Double, Double)] = []
        var readP99: Double { reads.filter { $0.0 != "proof" }.map(\.2).max() ?? 0 }
        var proofP99: Double { reads.first { $0.0 == "proof" }?.2 ?? 0 }
    }

    func run(_ app: Application) async throws {
        guard case .postgres = try DatabaseLocation(url: try databaseURL(app.environment)) else {
            throw CommandFailure(exitCode: 2, "bench scale needs DATABASE_URL=postgres://… naming a scratch database (it is wiped)")
        }
        // The served process opens the operator's key with the same master key.
        Platform.useThrowawayMasterKey(app)
        say("bench scale: \(transactions) transactions, and \(transactions / 4) first; \(ProcessInfo.processInfo.activeProcessorCount) cores")
        let quarter = try await measure(app, transactions: transactions / 4)
        let full = try await measure(app, transactions: transactions)
        say("start-up: \(fmt(full.startupSeconds)) s at \(full.transactions), \(fmt(quarter.startupSeconds)) s at \(quarter.transactions) "
            + "(ratio \(fmt(quarter.startupSeconds > 0 ? full.startupSeconds / quarter.startupSeconds : 0)))")
        say(#"{"proofP99Ms":\#(fmt(full.proofP99)),"readP99Ms":\#(fmt(full.readP99)),"residentMB":\#(fmt(full.residentMB)),"#
            + #""startupSeconds":\#(fmt(full.startupSeconds)),"startupSecondsQuarter":\#(fmt(quarter.startupSeconds)),"transactions":\#(full.transactions)}"#)
    }

    /// Builds a ledger of about `transactions` in the wiped scratch database, then serves it.
    func measure(_ app: Application, transactions target: Int) async throws -> Figures {
        try await APIBench.wipe(app)
        try await app.migrateDatabase()
        let started = ContinuousClock.now
        let built = try await build(app, transactions: target)
        say("built \(built.transactions) transactions in \(fmt((ContinuousClock.now - started).seconds)) s: \(built.counts)")
        var figures = try await serve(app, built)
        figures.transactions = built.transactions
        return figures
    }

    struct Built {
        var transactions = 0
        var counts = ""
        var supplier: OrgID
        var core: OrgID
        var regulator: OrgID
        var receivable: TxID
    }

    static let password = "bench-scale-password"

    func build(_ app: Application, transactions target: Int) async throws -> Built {
        let (vault, _) = try KeyVault.fromEnvironment(Environment.get("CASCADE_MASTER_KEY"), keptIn: nil)
        let opId = OrgID(UUID().uuidString.lowercased())!
        let nowMs = Int64(Date().timeIntervalSince1970 * 1000)
        let opSigner = try await vault.createKey(for: opId, on: app.sql, nowMs: nowMs)
        // A round every 15 days, the last one ending about today.
        let rounds = Int64(max(1, target / ScaleWorkload.transactionsPerRound))
        var w = ScaleWorkload(operatorSigner: opSigner, operatorId: opId, startMs: nowMs - (rounds * ScaleWorkload.roundDays + 1) * 86_400_000)
        w.submit(opId, .registerOrg(RegisterOrgPayload(orgId: opId, name: "规模平台运营", role: .operator, creditCode: LedgerWorkload.creditCode(100), publicKey: opSigner.publicKey)))
        w.register()

        let location = try DatabaseLocation(url: try databaseURL(app.environment))
        let lock = try await WriterLock.acquire(location, logger: app.logger)
        let store = LedgerStore(db: app.db, writer: lock.connection)
        var tip = ChainTip(height: -1, hash: BlockHeader.genesisPrevHash, time: 0)
        var counts: [TxType: Int] = [:]
        let cores = ProcessInfo.processInfo.activeProcessorCount
        // Each round's blocks, then a snapshot as the writer's policy would make; the last
        // round is left after the last snapshot, as the blocks a start takes up.
        func flush(snapshot: Bool) async throws {
            let made = w.take(parallelism: cores)
            for chunk in made.chunked(500) {
                let txs = chunk.map(\.0)
                let block = try Block.seal(txs, height: tip.height + 1, prevHash: tip.hash, time: max(tip.time, txs.last!.body.time), sealer: opSigner)
                let logNodes = w.state.extendLog(with: txs)
                try await store.append(block, effects: chunk.map(\.1), state: w.state, logNodes: logNodes)
                tip = ChainTip(height: block.header.height, hash: block.hash, time: block.header.time)
                for tx in txs { counts[tx.body.type, default: 0] += 1 }
            }
            if w.state.retireIsDue { w.state.retire() }
            if snapshot { try await store.writeSnapshot(try StoredSnapshot.make(w.state, at: tip, signer: opSigner), nowMs: nowMs) }
        }
        try await flush(snapshot: true)
        while w.state.transactionCount < target {
            w.round()
            let last = w.state.transactionCount >= target
            try await flush(snapshot: !last)
        }
        await lock.release()

        let accounts = Accounts(sql: app.sql)
        let supplier = w.suppliers[0].id, core = w.cores[0].id, regulator = w.regulator!.id
        for (org, email) in [(supplier, "supplier@scale.bench"), (core, "core@scale.bench"), (regulator, "regulator@scale.bench")] {
            _ = try await accounts.createUser(org: org, email: email, name: email, role: .admin, password: Self.password, nowMs: nowMs)
        }
        // The core's open receivable in the most pieces: the largest tree page.
        let receivable = try await TokenQueries.largestActiveReceivable(of: core, on: app.sql)
        let summary = counts.sorted { $0.value > $1.value }.map { "\($0.value) \($0.key.rawValue)" }.joined(separator: ", ")
        return Built(transactions: w.state.transactionCount, counts: summary, supplier: supplier, core: core, regulator: regulator,
                     receivable: receivable ?? TxID(digest: [UInt8](repeating: 0, count: 32)))
    }

    /// Starts `cascade serve` on the built ledger and measures it.
    func serve(_ app: Application, _ built: Built) async throws -> Figures {
        let port = 19_000 + Int.random(in: 0..<900)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        process.arguments = ["serve", "--env", "production", "--hostname", "127.0.0.1", "--port", String(port)]
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("cascade-bench-scale-\(port).log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        let launched = ContinuousClock.now
        try process.run()
        defer {
            process.terminate()
            process.waitUntilExit()
        }
        var figures = Figures()
        // Serving: the node answers its status, as the writer.
        var connection: BenchConnection?
        while connection == nil {
            guard process.isRunning else { throw CommandFailure("serve exited with \(process.terminationStatus); see \(log.path)") }
            guard ContinuousClock.now - launched < .seconds(600) else { throw CommandFailure("serve did not answer within 600 s; see \(log.path)") }
            if let c = try? await BenchConnection.connect(host: "127.0.0.1", port: port, group: app.eventLoopGroup),
               let status = try? await c.get("/api/v1/node/status"), status.status == 200 {
                connection = c
            } else {
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        figures.startupSeconds = (ContinuousClock.now - launched).seconds
        figures.residentMB = Self.residentMB(of: process.processIdentifier)
        let logText = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        figures.start = logText.split(separator: "\n").first { $0.contains("writer: state") }.map(String.init) ?? "?"
        say("serving after \(fmt(figures.startupSeconds)) s, resident \(fmt(figures.residentMB)) MB; \(figures.start)")

        let c = connection!
        func token(_ email: String) async throws -> String {
            let body = JSON.object(["email": .string(email), "password": .string(Self.password)]).canonicalString
            let answer = try await c.send("POST /api/v1/auth/login", headers: "Content-Type: application/json\r\n", body: Array(body.utf8))
            guard answer.status == 200, let t = (try? JSON.parse(answer.body))?["token"]?.stringValue else {
                throw CommandFailure("sign-in of \(email) answered \(answer.status): \(String(decoding: answer.body, as: UTF8.self))")
            }
            return t
        }
        let supplier = try await token("supplier@scale.bench"), core = try await token("core@scale.bench"), regulator = try await token("regulator@scale.bench")
        let proofIds = try await ChainQueries.sampleTransactionIds(count: 220, on: app.sql)
        let reads: [(String, String, String)] = [
            ("holdings page", "/holdings", "Cookie: cascade_session=\(supplier)\r\n"),
            ("receivable tree page", "/receivables/\(built.receivable)", "Cookie: cascade_session=\(core)\r\n"),
            ("regulator overview", "/overview", "Cookie: cascade_session=\(regulator)\r\n"),
            ("GET /tokens", "/api/v1/tokens", "Authorization: Bearer \(supplier)\r\n"),
            ("disclosure page (signed out)", "/disclosures", ""),
            ("GET /disclosures", "/api/v1/disclosures?limit=200", ""),
            ("GET /monitoring", "/api/v1/monitoring", "Authorization: Bearer \(regulator)\r\n"),
        ]
        for (name, path, headers) in reads {
            figures.reads.append(try await timed(name) { _ in try await c.get(path, headers: headers) })
        }
        figures.reads.append(try await timed("proof") { i in
            try await c.get("/api/v1/transactions/\(proofIds[i % max(1, proofIds.count)])/proof", headers: "Authorization: Bearer \(regulator)\r\n")
        })
        await c.close()
        return figures
    }

    /// 20 requests to warm up, then 200 timed one after another: (name, p50, p99).
    func timed(_ name: String, _ request: (Int) async throws -> ResponseCollector.Response) async throws -> (String, Double, Double) {
        var latencies: [Double] = []
        for i in 0..<220 {
            let t0 = ContinuousClock.now
            let answer = try await request(i)
            guard answer.status == 200 else { throw CommandFailure("\(name) answered \(answer.status): \(String(decoding: answer.body.prefix(300), as: UTF8.self))") }
            if i >= 20 { latencies.append((ContinuousClock.now - t0).milliseconds) }
        }
        latencies.sort()
        let p50 = latencies[latencies.count / 2], p99 = latencies[min(latencies.count - 1, latencies.count * 99 / 100)]
        say("\(name): p50 \(fmt(p50)) ms, p99 \(fmt(p99)) ms")
        return (name, p50, p99)
    }

    /// The process's resident set (VmRSS), in MB.
    static func residentMB(of pid: Int32) -> Double {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kb = Double(line.split(separator: " ").dropFirst().first ?? "") else { return 0 }
        return kb / 1024
    }
}
