import Foundation
import Ledger
import Testing
import Vapor

@testable import Core
@testable import Web
@testable import Commands

/// The `cascade` commands, run the way the executable runs them.
@Suite struct CommandTests {
    static let vectors = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/vectors")

    func run(_ arguments: [String]) async throws {
        let app = try await Application.make(Environment(name: "testing", arguments: ["cascade"] + arguments))
        do {
            try await configure(app)
            try await app.execute()
        } catch {
            try await app.asyncShutdown()
            throw error
        }
        try await app.asyncShutdown()
    }

    @Test func verifyAcceptsTheValidChainAndWritesTheExpectedState() async throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("state-\(UUID()).json")
        defer { try? FileManager.default.removeItem(at: out) }
        try await run(["verify", "--file", Self.vectors.appendingPathComponent("chain-valid.jsonl").path, "--state-out", out.path])
        let written = try JSON.parse(Array(Data(contentsOf: out)))
        let expected = try JSON.parse(Array(Data(contentsOf: Self.vectors.appendingPathComponent("expected-state.json"))))
        #expect(written.differences(from: expected) == [])
    }

    /// Format 2: `--state-out` writes exactly the sections and fields of `vectors-2`'s expected state.
    @Test func verifyAcceptsTheFormat2ChainAndWritesItsExpectedStateExactly() async throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("state-\(UUID()).json")
        defer { try? FileManager.default.removeItem(at: out) }
        let vectors2 = Self.vectors.deletingLastPathComponent().appendingPathComponent("vectors-2")
        try await run(["verify", "--file", vectors2.appendingPathComponent("chain-valid.jsonl").path, "--state-out", out.path])
        let written = try JSON.parse(Array(Data(contentsOf: out)))
        #expect(written == (try JSON.parse(Array(Data(contentsOf: vectors2.appendingPathComponent("expected-state.json"))))))
    }

    @Test func verifyFailsOnATamperedChain() async throws {
        await #expect(throws: CommandFailure.self) {
            try await run(["verify", "--file", Self.vectors.appendingPathComponent("tampered/double-spend.jsonl").path])
        }
    }

    @Test func verifyFailsOnAMissingFile() async throws {
        await #expect(throws: CommandFailure.self) { try await run(["verify", "--file", "/nonexistent/chain.jsonl"]) }
    }

    @Test func benchRunsASmallLedgerWorkload() async throws {
        // A smoke run only: the figures belong to `swift run -c release cascade bench ledger`.
        try await run(["bench", "ledger", "--receivables", "20", "--moves", "200", "--block-size", "50"])
    }

    /// The demo keeps the master key it made where the next run finds it, on either database: a
    /// file per database, never one shared by two, and never named after a password.
    @Test func theDemoKeepsItsMasterKeyBesideItsDatabase() throws {
        #expect(DemoCommand.masterKeyFile(for: .sqlite(path: "./.cascade/demo.sqlite")) == "./.cascade/demo.sqlite.master-key")
        let one = DemoCommand.masterKeyFile(for: .postgres(url: "postgres://cascade:secret@127.0.0.1:5432/demo", schema: nil))
        let samePassword = DemoCommand.masterKeyFile(for: .postgres(url: "postgres://cascade:other@127.0.0.1:5432/demo", schema: nil))
        let other = DemoCommand.masterKeyFile(for: .postgres(url: "postgres://cascade:secret@127.0.0.1:5432/demo2", schema: nil))
        #expect(one.hasPrefix(".cascade/postgres-") && one.hasSuffix(".master-key"))
        #expect(one == samePassword && one != other && !one.contains("secret"))
    }
}
