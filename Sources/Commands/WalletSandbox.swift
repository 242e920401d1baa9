import Core
import Web
import Crypto
import Foundation
import Ledger
import Vapor

/// A stand-in for an operating institution's e-CNY corporate wallet service (`cascade
/// wallet-sandbox`), playing the outside world as a fake should: wallets with balances, a payment
/// API that pays each payment id once, asynchronous signed callbacks, and faults injected at the
/// rates it is given — answers that fail or never come back in time, callbacks sent twice or an
/// older one after a newer. It speaks `WalletWire`: nothing it accepts is unsigned or in clear.
package actor WalletSandbox {
    package struct Faults: Sendable {
        /// The request is refused with a 503 before anything is done.
        package var failRate = 0.0
        /// The payment is taken, but the answer comes only after `slowAnswerMs` (the caller has given up).
        package var timeoutRate = 0.0
        package var slowAnswerMs: UInt64 = 8_000
        /// A callback is sent twice.
        package var duplicateRate = 0.0
        /// An `accepted` callback is sent again after the `settled` one.
        package var reorderRate = 0.0
        /// How long a payment takes to settle.
        package var settleMs: UInt64 = 200
    }

    package struct Wallet: Sendable { var name: String; var balanceFen: Int64 }

    package struct SandboxPayment: Sendable {
        package var id: String
        package var payer: String
        package var payee: String
        package var amountFen: Int64
        package var status: String
        package var reference: String
        package var reason: String?
        package var callbackURL: String?
    }

    package let wire: WalletWire
    /// The service's Ed25519 signing key, raw; the platform holds its public half.
    package let signingKey: [UInt8]
    package var faults: Faults
    private(set) var wallets: [String: Wallet] = [:]
    private(set) var payments: [String: SandboxPayment] = [:]
    /// The faults fall the same way for the same seed.
    private var rng: SplitMix64
    private var sequence = 0
    /// Where the sandbox writes down its wallets and payments after each change, for checks from outside.
    package var stateFile: String?
    package func setStateFile(_ path: String?) { stateFile = path }

    private func persist() {
        guard let stateFile else { return }
        let state: JSON = ["wallets": .object(Dictionary(uniqueKeysWithValues: wallets.map { (JSONKey($0.key), JSON.int($0.value.balanceFen)) })),
                           "payments": .array(payments.values.sorted { $0.id < $1.id }.map(Self.json))]
        try? BankTransferRail.write(state.canonicalString, named: URL(fileURLWithPath: stateFile).lastPathComponent, in: URL(fileURLWithPath: stateFile).deletingLastPathComponent().path)
    }

    /// How a callback reaches the platform: over HTTP in the process; straight in, in tests.
    package let send: @Sendable (_ url: String, _ headers: HTTPHeaders, _ body: [UInt8]) async -> Void

    package init(wire: WalletWire, signingKey: [UInt8], faults: Faults, seed: UInt64,
         send: @escaping @Sendable (_ url: String, _ headers: HTTPHeaders, _ body: [UInt8]) async -> Void) {
        self.wire = wire; self.signingKey = signingKey; self.faults = faults; rng = SplitMix64(seed: seed); self.send = send
    }

    package func setFaults(_ f: Faults) { faults = f }
    package func addWallet(_ id: String, name: String, balanceFen: Int64) { wallets[id] = Wallet(name: name, balanceFen: balanceFen) }
    package func balance(_ id: String) -> Int64? { wallets[id]?.balanceFen }
    package func payment(_ id: String) -> SandboxPayment? { payments[id] }

    private func roll(_ rate: Double) -> Bool { rate > 0 && Double.random(in: 0..<1, using: &rng) < rate }

    /// One signed, sealed request; its sealed, signed answer (or a fault).
    package func handle(method: String, path: String, timestamp: String?, signature: String?, body: [UInt8], nowMs: Int64) async -> (HTTPStatus, JSON, delayMs: UInt64) {
        guard wire.verify(method, path, timestamp: timestamp, signature: signature, body: body, nowMs: nowMs) else {
            return (.unauthorized, ["error": "bad signature or timestamp"], 0)
        }
        if roll(faults.failRate) { return (.serviceUnavailable, ["error": "temporarily unavailable"], 0) }
        let message = method == "GET" ? JSON.object([:]) : wire.open(body)
        guard let message else { return (.badRequest, ["error": "the body does not open under the key"], 0) }
        let parts = path.split(separator: "/").map(String.init)
        switch (method, parts.count > 1 ? parts[1] : "", parts.count) {
        case ("POST", "wallets", 2):
            guard let id = message["walletId"]?.stringValue, let name = message["name"]?.stringValue, case .int(let balance)? = message["balanceFen"], balance >= 0 else {
                return (.badRequest, ["error": "walletId, name and balanceFen are needed"], 0)
            }
            wallets[id] = Wallet(name: name, balanceFen: balance)
            persist()
            return (.ok, ["walletId": .string(id), "balanceFen": .int(balance)], 0)
        case ("GET", "wallets", 3):
            guard let w = wallets[parts[2]] else { return (.notFound, ["error": "no such wallet"], 0) }
            return (.ok, ["walletId": .string(parts[2]), "name": .string(w.name), "balanceFen": .int(w.balanceFen)], 0)
        case ("GET", "payments", 3):
            guard let p = payments[parts[2]] else { return (.notFound, ["error": "no such payment"], 0) }
            return (.ok, Self.json(p), 0)
        case ("POST", "payments", 2):
            return pay(message)
        default:
            return (.notFound, ["error": "no such route"], 0)
        }
    }

    /// A payment id is paid once: the same id again answers what became of the first.
    private func pay(_ m: JSON) -> (HTTPStatus, JSON, delayMs: UInt64) {
        guard let id = m["paymentId"]?.stringValue, let payer = m["payer"]?.stringValue, let payee = m["payee"]?.stringValue,
              case .int(let amount)? = m["amountFen"], amount > 0 else { return (.badRequest, ["error": "paymentId, payer, payee and a positive amountFen are needed"], 0) }
        if let existing = payments[id] {
            guard case .object(var answer) = Self.json(existing) else { return (.ok, Self.json(existing), 0) }
            answer["duplicate"] = true
            return (.ok, .object(answer), 0)
        }
        guard wallets[payee] != nil else { return (.ok, Self.json(record(id, payer, payee, amount, "failed", reason: "unknown_payee", m)), 0) }
        guard let w = wallets[payer], w.balanceFen >= amount else {
            return (.ok, Self.json(record(id, payer, payee, amount, "failed", reason: "insufficient_balance", m)), 0)
        }
        let p = record(id, payer, payee, amount, "accepted", reason: nil, m)
        let settleMs = faults.settleMs
        if !stopped {
            settling.append(Task { [weak self] in
                try? await Task.sleep(nanoseconds: settleMs * 1_000_000)
                await self?.settle(id)
            })
        }
        return (.ok, Self.json(p), roll(faults.timeoutRate) ? faults.slowAnswerMs : 0)
    }

    private func record(_ id: String, _ payer: String, _ payee: String, _ amount: Int64, _ status: String, reason: String?, _ m: JSON) -> SandboxPayment {
        sequence += 1
        let p = SandboxPayment(id: id, payer: payer, payee: payee, amountFen: amount, status: status, reference: "ECNY\(String(format: "%010d", sequence))",
                               reason: reason, callbackURL: m["callbackUrl"]?.stringValue)
        payments[id] = p
        persist()
        return p
    }

    /// Payments being settled, each on a task of its own, and whether the sandbox was stopped.
    private var settling: [Task<Void, Never>] = []
    private var stopped = false

    /// Settles nothing more and calls nobody back; returns once the settlements under way are done.
    package func stop() async {
        stopped = true
        let running = settling
        settling = []
        for task in running { task.cancel() }
        for task in running { await task.value }
    }

    /// Moves the money (or fails for want of it) and calls back, faults included.
    package func settle(_ id: String) async {
        guard !stopped, var p = payments[id], p.status == "accepted" else { return }
        if let w = wallets[p.payer], w.balanceFen >= p.amountFen, wallets[p.payee] != nil {
            wallets[p.payer]!.balanceFen -= p.amountFen
            wallets[p.payee]!.balanceFen += p.amountFen
            p.status = "settled"
        } else {
            p.status = "failed"; p.reason = "insufficient_balance"
        }
        payments[id] = p
        persist()
        guard let url = p.callbackURL else { return }
        var sends = [p]
        if roll(faults.duplicateRate) { sends.append(p) }
        if roll(faults.reorderRate) { var stale = p; stale.status = "accepted"; sends.append(stale) }
        for s in sends where !stopped { await callback(s, to: url) }
    }

    private func callback(_ p: SandboxPayment, to url: String) async {
        guard let body = try? wire.seal(Self.json(p)) else { return }
        let timestamp = Int64(Date().timeIntervalSince1970 * 1000)
        guard let signer = try? Curve25519.Signing.PrivateKey(rawRepresentation: signingKey),
              let signature = try? signer.signature(for: WalletWire.callbackMaterial(timestamp: timestamp, body: body)) else { return }
        var headers = HTTPHeaders()
        headers.contentType = .json
        headers.replaceOrAdd(name: "X-Wallet-Timestamp", value: String(timestamp))
        headers.replaceOrAdd(name: "X-Wallet-Signature", value: Base64.encode(Array(signature)))
        await send(url, headers, body)
    }

    package static func json(_ p: SandboxPayment) -> JSON {
        ["paymentId": .string(p.id), "payer": .string(p.payer), "payee": .string(p.payee), "amountFen": .int(p.amountFen), "status": .string(p.status),
         "reference": .string(p.reference), "reason": p.reason.map(JSON.string) ?? .null]
    }

    /// One request as it arrives, its answer sealed and signed, after the delay a fault asks for.
    package nonisolated func respond(_ method: HTTPMethod, _ path: String, _ headers: HTTPHeaders, _ body: [UInt8]) async -> (HTTPStatus, HTTPHeaders, [UInt8]) {
        let (status, answer, delay) = await handle(method: method.rawValue, path: path, timestamp: headers.first(name: "X-Wallet-Timestamp"),
                                                   signature: headers.first(name: "X-Wallet-Signature"), body: body, nowMs: Int64(Date().timeIntervalSince1970 * 1000))
        if delay > 0 { try? await Task.sleep(nanoseconds: delay * 1_000_000) }
        let sealed = (try? wire.seal(answer)) ?? []
        let timestamp = Int64(Date().timeIntervalSince1970 * 1000)
        var out = HTTPHeaders()
        out.contentType = .json
        out.replaceOrAdd(name: "X-Wallet-Timestamp", value: String(timestamp))
        out.replaceOrAdd(name: "X-Wallet-Signature", value: wire.signature("ANSWER", path, timestamp: timestamp, body: sealed))
        return (status, out, sealed)
    }

    /// The service's routes on `app`.
    package nonisolated func register(on app: Application) {
        let handler: @Sendable (Request) async throws -> Response = { req in
            let (status, headers, body) = await self.respond(req.method, req.url.path, req.headers, req.body.data.map { Array($0.readableBytesView) } ?? [])
            return Response(status: status, headers: headers, body: .init(data: Data(body)))
        }
        app.on(.POST, "v1", "wallets", body: .collect(maxSize: "64kb"), use: handler)
        app.on(.GET, "v1", "wallets", ":id", use: handler)
        app.on(.POST, "v1", "payments", body: .collect(maxSize: "64kb"), use: handler)
        app.on(.GET, "v1", "payments", ":id", use: handler)
    }
}

/// `cascade wallet-sandbox`: the sandbox as a process of its own, on 127.0.0.1. Its onboarding
/// secret and signing key come from `CASCADE_ECNY_KEY` and `CASCADE_ECNY_SIGNING_SEED` (base64, 32
/// bytes each), or are made up and printed. Faults at the rates given, from `--seed`.
package struct WalletSandboxCommand: AsyncCommand {
    package struct Signature: CommandSignature {
        @Option(name: "port", help: "the port to listen on (default 8090)") var port: Int?
        @Option(name: "fail-rate", help: "share of requests refused with 503") package var failRate: Double?
        @Option(name: "timeout-rate", help: "share of payments whose answer comes too late") package var timeoutRate: Double?
        @Option(name: "duplicate-rate", help: "share of callbacks sent twice") package var duplicateRate: Double?
        @Option(name: "reorder-rate", help: "share of settlements followed by a stale accepted callback") package var reorderRate: Double?
        @Option(name: "settle-ms", help: "how long a payment takes to settle (default 200)") var settleMs: Int?
        @Option(name: "seed", help: "the faults' seed") package var seed: Int?
        @Option(name: "state-file", help: "where to write the wallets and payments after each change") package var stateFile: String?
        @Option(name: "exit-with", help: "a process id: the sandbox stops when that process has gone") package var exitWith: Int?
        package init() {}
    }

    package var help: String { "Runs the e-CNY corporate wallet sandbox (a fake of the outside world, for tests and the demo)." }

    package func run(using context: CommandContext, signature: Signature) async throws {
        let env = ProcessInfo.processInfo.environment
        func random() -> [UInt8] { (0..<32).map { _ in UInt8.random(in: 0...255) } }
        let secret = env["CASCADE_ECNY_KEY"].flatMap(Base64.decode) ?? random()
        let seed = env["CASCADE_ECNY_SIGNING_SEED"].flatMap(Base64.decode) ?? random()
        guard secret.count == 32, seed.count == 32, let signer = try? Curve25519.Signing.PrivateKey(rawRepresentation: seed) else {
            throw ConfigurationError("CASCADE_ECNY_KEY and CASCADE_ECNY_SIGNING_SEED must be 32 bytes each, base64")
        }
        var faults = WalletSandbox.Faults()
        faults.failRate = signature.failRate ?? 0; faults.timeoutRate = signature.timeoutRate ?? 0
        faults.duplicateRate = signature.duplicateRate ?? 0; faults.reorderRate = signature.reorderRate ?? 0
        faults.settleMs = UInt64(max(0, signature.settleMs ?? 200))
        let server = try await Application.make(.development)
        let port = signature.port ?? 8090
        server.http.server.configuration.hostname = "127.0.0.1"
        server.http.server.configuration.port = port
        let client = server.client
        let sandbox = WalletSandbox(wire: WalletWire(secret: SymmetricKey(data: secret)), signingKey: seed, faults: faults, seed: UInt64(signature.seed ?? 1)) { url, headers, body in
            _ = try? await client.post(URI(string: url), headers: headers) { $0.body = ByteBuffer(bytes: body) }
        }
        await sandbox.setStateFile(signature.stateFile)
        sandbox.register(on: server)
        try await server.server.start(address: .hostname("127.0.0.1", port: port))
        context.console.print("wallet sandbox on http://127.0.0.1:\(port); callbacks signed by Ed25519 key \(Base64.encode(Array(signer.publicKey.rawRepresentation)))")
        if env["CASCADE_ECNY_KEY"] == nil { context.console.print("onboarding secret (CASCADE_ECNY_KEY): \(Base64.encode(secret))") }
        while !SandboxOwner.gone(signature.exitWith) { try await Task.sleep(for: .seconds(1)) }
        try await server.server.shutdown()
    }
}

/// The process a sandbox was started for (`--exit-with`): the demo, even killed, leaves none behind.
package enum SandboxOwner {
    package static func gone(_ pid: Int?) -> Bool {
        guard let pid, pid > 0 else { return false }
        return kill(pid_t(pid), 0) != 0 && errno == ESRCH
    }
}
