import Core
import Foundation
import Ledger
import Vapor

/// The demo's two witnesses of its transaction log (SPEC §7): 江南商业银行's and the regulator's,
/// each a `cascade witness` process of its own (on the demo's port + 20 and + 21) with its key,
/// its SQLite store and its log kept beside the demo's database, so that a demo started again
/// keeps what they cosigned. Added to any witnesses `CASCADE_WITNESSES` names; the quorum is every
/// witness unless `CASCADE_WITNESS_QUORUM` says otherwise. `CASCADE_DEMO_WITNESSES=off`: none.
enum DemoWitnesses {
    static let members = [(key: "bank", name: "jiangnan-bank.demo/witness", offset: 20), (key: "regulator", name: "regulator.demo/witness", offset: 21)]

    static func start(_ app: Application, demoPort: Int, keptBeside file: String, console: any Console) async throws -> [Process] {
        let configured = try WitnessSettings.parse(witnesses: Environment.get("CASCADE_WITNESSES"), quorum: nil)
        guard Environment.get("CASCADE_DEMO_WITNESSES") != "off", let log = app.transactionLog, let sequencer = app.sequencer else {
            return []
        }
        let profile = await sequencer.read(\.profile)
        var processes: [Process] = []
        var entries = configured.witnesses
        for member in members {
            let base = file.replacingOccurrences(of: ".master-key", with: "") + ".witness-\(member.key)"
            let seed = try keptSeed(at: base + ".key")
            let port = demoPort + member.offset
            let logOption = log.verifierKey + (profile == .standard ? "" : " \(profile.rawValue)")
            let process = try DemoWallets.spawn(["witness", "--port", String(port), "--log", logOption],
                                                environment: ["CASCADE_WITNESS_NAME": member.name, "CASCADE_WITNESS_KEY": Base64.encode(seed),
                                                              "DATABASE_URL": "sqlite://\(base).sqlite"], log: base + ".log")
            processes.append(process)
            guard try await up(app, port: port) else {
                console.warning("the demo's witness \(member.name) did not start on port \(port); the demo goes on without it")
                continue
            }
            let key = try Cosigner(name: member.name, seed: seed).key
            entries.append(WitnessSettings.Entry(key: key, url: "http://127.0.0.1:\(port)/add-checkpoint"))
            console.print("witness \(member.name) on http://127.0.0.1:\(port), verifier key \(key.verifierKey)")
        }
        Platform.startCosigning(app, try WitnessSettings(witnesses: entries, quorum: Environment.get("CASCADE_WITNESS_QUORUM")))
        return processes
    }

    /// A witness key kept in `path` (made the first time, readable by this user alone).
    static func keptSeed(at path: String) throws -> [UInt8] {
        if let saved = FileManager.default.contents(atPath: path), let seed = Base64.decode(String(decoding: saved, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)),
           seed.count == 32 {
            return seed
        }
        let seed = (0..<32).map { _ in UInt8.random(in: 0...255) }
        try FileManager.default.createDirectory(atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path, withIntermediateDirectories: true)
        guard FileManager.default.createFile(atPath: path, contents: Data(Base64.encode(seed).utf8), attributes: [.posixPermissions: 0o600]) else {
            throw ConfigurationError("cannot keep the demo witness's key in \(path)")
        }
        return seed
    }

    /// Whether the witness on `port` answers within 30 s.
    static func up(_ app: Application, port: Int) async throws -> Bool {
        for _ in 0..<300 {
            if let response = try? await app.client.get(URI(string: "http://127.0.0.1:\(port)/heads")), response.status == .ok { return true }
            try await Task.sleep(for: .milliseconds(100))
        }
        return false
    }
}
