import Core
import Foundation
import Ledger
import Vapor

/// `cascade witness --log <verifier key> … [--hostname H] [--port P]`: a C2SP `tlog-witness` of
/// its own, for a bank or the regulator to run beside the platform (SPEC §7). Its key is
/// `CASCADE_WITNESS_KEY` (a 32-byte Ed25519 seed in base64), its name `CASCADE_WITNESS_NAME`, its
/// store `DATABASE_URL` (SQLite by default). Each `--log` names a log it witnesses by its note
/// verifier key, followed by ` sm2-sm3` for a log in that profile (its tree hashed with SM3).
/// Serves `POST /add-checkpoint` and `GET /heads`, and prints its own verifier key.
struct WitnessCommand: AsyncCommand {
    struct Signature: CommandSignature {
        @Option(name: "hostname", help: "the address to listen on (default 127.0.0.1)") var hostname: String?
        @Option(name: "port", help: "the port to listen on (default 8070)") var port: Int?
        @Option(name: "exit-with", help: "a process id: the witness stops when that process has gone") var exitWith: Int?
        init() {}
    }

    var help: String { "Runs a C2SP witness of transaction logs: --log <verifier key> for each log it witnesses." }

    /// The environment entry `--log` options are moved into before Vapor reads the rest.
    static let logsVariable = "CASCADE_WITNESS_LOGS"

    func run(using context: CommandContext, signature: Signature) async throws {
        let env = ProcessInfo.processInfo.environment
        let name = env["CASCADE_WITNESS_NAME"] ?? ""
        guard SignedNote.isKeyName(name) else {
            throw ConfigurationError("CASCADE_WITNESS_NAME must name this witness (a URL without scheme, say bank.example/witness), with no spaces or +")
        }
        var seed = env["CASCADE_WITNESS_KEY"].flatMap(Base64.decode) ?? []
        if env["CASCADE_WITNESS_KEY"] == nil, context.application.environment != .production {
            seed = (0..<32).map { _ in UInt8.random(in: 0...255) }
            context.console.warning("CASCADE_WITNESS_KEY is not set: this witness signs with a key made for this run (CASCADE_WITNESS_KEY=\(Base64.encode(seed)))")
        }
        guard seed.count == 32 else { throw ConfigurationError("CASCADE_WITNESS_KEY must be a 32-byte Ed25519 seed in base64") }
        let logs = try Self.logs(from: env[Self.logsVariable] ?? "")
        guard !logs.isEmpty else { throw ConfigurationError("witness: name each log it witnesses with --log <verifier key>") }

        let server = try await Application.make(context.application.environment)
        let host = signature.hostname ?? "127.0.0.1", port = signature.port ?? 8070
        server.http.server.configuration.hostname = host
        server.http.server.configuration.port = port
        server.logger.logLevel = .info
        try server.useDatabase(DatabaseLocation(url: env["DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 } ?? "sqlite://./.cascade/witness-\(port).sqlite"))
        try await WitnessHeads.prepare(server.sql)
        let witness = Witness(cosigner: try Cosigner(name: name, seed: seed), logs: logs, sql: server.sql, logger: server.logger,
                              now: { UInt64(Date().timeIntervalSince1970) })
        Self.routes(witness, on: server)
        try await server.server.start(address: .hostname(host, port: port))
        context.console.print("witness \(name) on http://\(host):\(port)/add-checkpoint; its verifier key: \(witness.cosigner.key.verifierKey)")
        for log in logs { context.console.print("  witnessing \(log.key.name) (\(log.profile.rawValue))") }
        while !SandboxOwner.gone(signature.exitWith) { try await Task.sleep(for: .seconds(1)) }
        try await server.server.shutdown()
        try await server.asyncShutdown()
    }

    /// `POST /add-checkpoint` (at most `AddCheckpoint.maxBytes`; a larger body is 413) and
    /// `GET /heads`, every head cosigned (`[{origin, size, root, note}]`).
    static func routes(_ witness: Witness, on app: Application) {
        app.on(.POST, "add-checkpoint", body: .collect(maxSize: ByteCount(value: AddCheckpoint.maxBytes))) { req async throws -> Response in
            let answer = try await witness.addCheckpoint(Array(req.body.data.map { Array($0.readableBytesView) } ?? []))
            var headers = HTTPHeaders()
            headers.replaceOrAdd(name: .contentType, value: answer.contentType)
            return Response(status: HTTPResponseStatus(statusCode: answer.status), headers: headers, body: .init(string: answer.body))
        }
        app.get("heads") { _ async throws -> Response in
            var headers = HTTPHeaders()
            headers.replaceOrAdd(name: .contentType, value: "application/json")
            return Response(status: .ok, headers: headers, body: .init(string: try await witness.heads().canonicalString))
        }
    }

    /// The logs of `--log` options, one per line: `<verifier key>` or `<verifier key> sm2-sm3`.
    static func logs(from text: String) throws -> [Witness.Log] {
        try text.split(separator: "\n").map { line in
            let parts = line.split(separator: " ")
            guard (1...2).contains(parts.count) else { throw ConfigurationError("witness: --log takes a verifier key, and the log's profile after a space if not ed25519-sha256") }
            do {
                let key = try NoteVerifier(verifierKey: String(parts[0]))
                let profile = parts.count == 2 ? try CryptoProfile(named: String(parts[1]), field: "--log") : .standard
                return Witness.Log(key: key, profile: profile)
            } catch let refused as SignedNote.Refused {
                throw ConfigurationError("witness: --log \(parts[0]) is not a log's verifier key: \(refused)")
            } catch let error as LedgerError {
                throw ConfigurationError("witness: \(error.message)")
            }
        }
    }
}

/// `cascade witness --log K --log K2 …`: every `--log` value is taken out of `arguments` (Vapor
/// reads one value per option) and kept, one per line, in `CASCADE_WITNESS_LOGS`.
public func takeWitnessLogOptions(_ arguments: inout [String]) throws {
    guard arguments.count > 1, arguments[1] == "witness" else { return }
    var logs: [String] = []
    var i = 2
    while i < arguments.count {
        if arguments[i] == "--log" {
            guard i + 1 < arguments.count else { throw ConfigurationError("witness: --log needs a verifier key") }
            logs.append(arguments[i + 1])
            arguments.removeSubrange(i...(i + 1))
        } else {
            i += 1
        }
    }
    if !logs.isEmpty { setenv(WitnessCommand.logsVariable, logs.joined(separator: "\n"), 1) }
}
