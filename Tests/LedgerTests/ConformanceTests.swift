import Foundation
import Ledger
import Testing

@Suite struct ConformanceTests {
    @Test func validChainReplaysToTheExpectedState() throws {
        let replayer = try ChainReplayer.verify(export: Paths.vector("chain-valid.jsonl"), parallelism: 2).get()
        #expect(replayer.blockCount == 50)
        for problem in replayer.state.snapshotJSON.differences(from: try JSON.parse(Paths.vector("expected-state.json"))) { Issue.record("\(problem)") }
    }

    /// Format 2: the compliance rules and early payment, from an independent implementation.
    @Test func format2ChainReplaysToTheExpectedState() throws {
        let replayer = try ChainReplayer.verify(export: Paths.vector("chain-valid.jsonl", in: Paths.vectors2), parallelism: 2).get()
        #expect(replayer.blockCount == 21)
        let expected = try JSON.parse(Paths.vector("expected-state.json", in: Paths.vectors2))
        for problem in replayer.state.snapshotJSON.differences(from: expected) { Issue.record("\(problem)") }
        #expect(replayer.state.snapshotJSON == expected, "every field of the format-2 state, and no other")
    }

    @Test(arguments: [
        "approve-without-filing.jsonl", "long-term-without-review.jsonl", "filing-in-the-future.jsonl", "issue-while-recorded-in-default.jsonl",
        "issue-while-overdue.jsonl", "early-payment-confirmed-by-another-core.jsonl", "early-paid-piece-moves.jsonl",
        "early-payment-rate-zero.jsonl", "default-recorded-for-a-bank.jsonl", "recourse-not-boolean.jsonl", "amount-edited.jsonl",
        "profile-named-after-genesis.jsonl", "profile-changed-in-genesis.jsonl",
    ])
    func format2TamperedChainIsRefusedAtTheRightPlace(file: String) throws {
        try refusedAtTheRightPlace(file, in: Paths.vectors2)
    }

    func refusedAtTheRightPlace(_ file: String, in set: URL) throws {
        let manifest = try JSON.parse(Paths.vector("tampered/MANIFEST.json", in: set))
        let says = try #require(manifest[file]?["reference verifier says"]?.stringValue)
        let result = ChainReplayer.verify(export: try Paths.vector("tampered/\(file)", in: set), parallelism: 2)
        guard case .failure(let failure) = result else {
            Issue.record("\(file) was accepted")
            return
        }
        // The reference names "block N" or "tx <id>"; ours must name the same one.
        let culprit = String(says.prefix { $0 != ":" }).split(separator: " ").prefix(2).joined(separator: " ")
        #expect(failure.description.hasPrefix(culprit), "\(file): \(failure) — reference: \(says)")
    }

    /// The same scenario in the sm2-sm3 (国密) profile: SM3 ids, hashes and Merkle trees, SM2
    /// signatures, from an independent implementation checked against gmssl.
    @Test func smChainReplaysToTheExpectedState() throws {
        let replayer = try ChainReplayer.verify(export: Paths.vector("chain-valid.jsonl", in: Paths.vectorsSM), parallelism: 2).get()
        #expect(replayer.state.profile == .sm2Sm3)
        let expected = try JSON.parse(Paths.vector("expected-state.json", in: Paths.vectorsSM))
        for problem in replayer.state.snapshotJSON.differences(from: expected) { Issue.record("\(problem)") }
        #expect(replayer.state.snapshotJSON == expected, "every field of the state, the profile included, and no other")
    }

    @Test(arguments: ["amount-edited.jsonl", "approve-without-filing.jsonl", "default-recorded-for-a-bank.jsonl", "der-trailing-byte.jsonl", "early-paid-piece-moves.jsonl", "early-payment-confirmed-by-another-core.jsonl", "early-payment-rate-zero.jsonl", "ed25519-signature-on-sm-chain.jsonl", "filing-in-the-future.jsonl", "issue-while-overdue.jsonl", "issue-while-recorded-in-default.jsonl", "long-term-without-review.jsonl", "profile-named-after-genesis.jsonl", "recourse-not-boolean.jsonl"])
    func smTamperedChainIsRefusedAtTheRightPlace(file: String) throws {
        try refusedAtTheRightPlace(file, in: Paths.vectorsSM)
    }

    /// A chain this ledger wrote in sm2-sm3 (the demo's), kept so that every later version
    /// verifies it to the same state.
    @Test func ourSMChainStillReplaysToItsState() throws {
        let set = Paths.packageRoot.appendingPathComponent("Tests/Conformance/sm2-sm3")
        let replayer = try ChainReplayer.verify(export: Paths.vector("chain-valid.jsonl", in: set), parallelism: 2).get()
        #expect(replayer.state.profile == .sm2Sm3 && replayer.blockCount == 40)
        let expected = try JSON.parse(Paths.vector("expected-state.json", in: set))
        for problem in replayer.state.snapshotJSON.differences(from: expected) { Issue.record("\(problem)") }
    }

    @Test(arguments: [
        "amount-edited.jsonl", "tx-removed.jsonl", "block-reordered.jsonl", "bad-block-signature.jsonl",
        "split-creates-value.jsonl", "double-spend.jsonl", "wrong-signer.jsonl", "regulator-transfers.jsonl",
        "tx-replayed.jsonl", "sealed-with-retired-key.jsonl",
    ])
    func tamperedChainIsRefusedAtTheRightPlace(file: String) throws {
        try refusedAtTheRightPlace(file, in: Paths.vectors)
    }

    @Test(arguments: [Paths.vectors, Paths.vectors2, Paths.vectorsSM])
    func tamperedManifestListsEveryFile(set: URL) throws {
        let manifest = try JSON.parse(Paths.vector("tampered/MANIFEST.json", in: set))
        guard case .object(let entries) = manifest else { throw LedgerError(.validationFailed, "manifest") }
        let files = try FileManager.default.contentsOfDirectory(atPath: set.appendingPathComponent("tampered").path)
            .filter { $0.hasSuffix(".jsonl") }
        #expect(Set(entries.keys.map(\.string)) == Set(files))
    }
}
