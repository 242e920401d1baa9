import Core
import Web
import Crypto
import Foundation
import Ledger
import Vapor

/// The demo's e-CNY wallets: `cascade demo` starts `cascade wallet-sandbox` as a process of its
/// own (on the demo's port + 10), connects the e-CNY rail to it, and gives every demo org but the
/// regulator and the operator a wallet. 江南商业银行 and 华东重工集团 pay by e-CNY; 沪上保理 pays by
/// bank transfer (`DemoBank`) and is paid at maturity into its wallet. `CASCADE_DEMO_WALLETS=off`
/// leaves the rail out.
enum DemoWallets {
    static let wallets: [(key: String, wallet: String, balanceFen: Int64)] = [
        ("bank", "W-JNCB-0001", 200_000_000_00), ("core", "W-HDHI-0001", 100_000_000_00),
        ("tier1", "W-SZJM-0001", 0), ("tier2", "W-WXZZ-0001", 0), ("tier3", "W-CZWJ-0001", 0), ("bank2", "W-HSBL-0001", 0),
    ]

    struct Stopper: LifecycleHandler {
        let process: Process
        func shutdown(_ application: Application) { if process.isRunning { process.terminate() } }
    }

    /// The port `cascade demo` was given (`--port`, `-p`), 8080 by default.
    static func demoPort() -> Int {
        let args = CommandLine.arguments
        for (i, a) in args.enumerated() where (a == "--port" || a == "-p") && i + 1 < args.count { if let p = Int(args[i + 1]) { return p } }
        return 8080
    }

    static func start(_ app: Application, demoPort: Int, console: any Console) async throws -> Process? {
        guard Environment.get("CASCADE_DEMO_WALLETS") != "off" else { return nil }
        // A wallet service named by the environment (CASCADE_ECNY_URL …): the demo's wallets there.
        if let rail = app.rails["ecny"] as? EcnyRail {
            try await open(rail, app: app)
            console.print("e-CNY wallets at the wallet service of CASCADE_ECNY_URL")
            return nil
        }
        let secret = (0..<32).map { _ in UInt8.random(in: 0...255) }, seed = (0..<32).map { _ in UInt8.random(in: 0...255) }
        let publicKey = Array(try Curve25519.Signing.PrivateKey(rawRepresentation: seed).publicKey.rawRepresentation)
        let port = demoPort + 10
        let arguments = ["wallet-sandbox", "--port", String(port), "--settle-ms", "1500"]
        let environment = ["CASCADE_ECNY_KEY": Base64.encode(secret), "CASCADE_ECNY_SIGNING_SEED": Base64.encode(seed)]
        var process = try spawn(arguments, environment: environment)
        let rail = EcnyRail.over(app, base: "http://127.0.0.1:\(port)", wire: WalletWire(secret: SymmetricKey(data: secret)), callbackKey: publicKey,
                                 callbackURL: "http://127.0.0.1:\(demoPort)/api/v1/rails/ecny/callbacks", secondFactorFromFen: nil)
        // Up within 30 s, or the demo goes on without it. A sandbox that could not take its port
        // (the one of a demo killed a moment ago, still going) is started again once it has gone.
        var up = false
        let deadline = ContinuousClock.now + .seconds(30)
        while !up, ContinuousClock.now < deadline {
            if !process.isRunning { process = try spawn(arguments, environment: environment) }
            // Any signed answer (a 404 for a wallet nobody has) means it is up.
            if (try? await rail.call(.GET, "/v1/wallets/W-NONE", nil)) != nil { up = true } else { try await Task.sleep(for: .milliseconds(100)) }
        }
        guard up else {
            process.terminate()
            console.warning("the wallet sandbox did not start: the demo runs without the e-CNY rail")
            return nil
        }
        app.rails["ecny"] = rail
        try await open(rail, app: app)
        console.print("e-CNY wallet sandbox on http://127.0.0.1:\(port): 江南商业银行 and 华东重工集团 pay through it, and every demo org is paid into its wallet")
        return process
    }

    /// This program again, as a sandbox of the outside world, gone when the demo goes (even
    /// killed: `--exit-with` names the demo's process).
    /// `log`: a file its output is appended to (else it goes nowhere).
    static func spawn(_ arguments: [String], environment extra: [String: String] = [:], log: String? = nil) throws -> Process {
        let process = Process()
        let me = ProcessInfo.processInfo.arguments[0]
        process.executableURL = URL(fileURLWithPath: me.hasPrefix("/") ? me : FileManager.default.currentDirectoryPath + "/" + me)
        process.arguments = arguments + ["--exit-with", String(ProcessInfo.processInfo.processIdentifier)]
        process.environment = ProcessInfo.processInfo.environment.merging(extra) { $1 }
        process.standardOutput = FileHandle.nullDevice
        if let log {
            if !FileManager.default.fileExists(atPath: log) { FileManager.default.createFile(atPath: log, contents: nil) }
            if let handle = FileHandle(forWritingAtPath: log) {
                handle.seekToEndOfFile()
                process.standardOutput = handle
                process.standardError = handle
            }
        }
        try process.run()
        return process
    }

    /// Each demo org's wallet, opened with its starting balance unless the service has it already
    /// (a demo started again keeps what the wallets hold), and its payment account.
    static func open(_ rail: EcnyRail, app: Application) async throws {
        let names = try await ReceivableQueries.orgNames(on: app.sql)
        for w in wallets {
            guard let org = try await OrgQueries.org(ofUserWithEmail: "\(w.key)@cascade.demo", on: app.sql) else { continue }
            // A service that refuses now and then (its faults) is asked again.
            for attempt in 1...20 {
                do {
                    if try await rail.balance(of: w.wallet) == nil {
                        let (status, _) = try await rail.call(.POST, "/v1/wallets", ["walletId": .string(w.wallet), "name": .string(names[org.description] ?? w.key), "balanceFen": .int(w.balanceFen)])
                        guard status == .ok else { throw EcnyRail.Unreachable(description: "wallet \(w.wallet): \(status.code)") }
                    }
                    break
                } catch where attempt < 20 {
                    try await Task.sleep(for: .milliseconds(200))
                }
            }
            if try await PaymentAccounts.find(org, rail: "ecny", on: app.sql) == nil {
                let account = PaymentAccount(orgId: org, rail: "ecny", account: w.wallet, accountName: names[org.description] ?? w.key, agent: "", agentOrgId: nil)
                try await PaymentAccounts.save(account, on: app.sql, nowMs: app.ledgerClock.nowMs())
            }
        }
    }
}
