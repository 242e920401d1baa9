import Foundation
import Ledger
import Testing

@Suite struct ConformanceTests {
    @Test func validChainReplaysToTheExpectedState() throws {
        let replayer = try ChainReplayer.verify(export: Paths.vector("chain-valid.jsonl"), parallelism: 2).get()
        let expected = try JSON.parse(Paths.vector("expected-state.json"))
        #expect(replayer.blockCount == 50)
        let actual = replayer.state.snapshotJSON
        for key in ["creditLines", "financings", "receivables", "tokens"] {
            guard case .object(let want)? = expected[key], case .object(let got)? = actual[key] else {
                Issue.record("missing \(key)")
                continue
            }
            #expect(Set(got.keys) == Set(want.keys), "\(key) ids")
            for (id, value) in want where got[id] != value {
                Issue.record("\(key) \(id): expected \(value.canonicalString), got \(got[id]?.canonicalString ?? "nothing")")
            }
        }
    }

    @Test(arguments: [
        "amount-edited.jsonl", "tx-removed.jsonl", "block-reordered.jsonl", "bad-block-signature.jsonl",
        "split-creates-value.jsonl", "double-spend.jsonl", "wrong-signer.jsonl", "regulator-transfers.jsonl",
        "tx-replayed.jsonl", "sealed-with-retired-key.jsonl",
    ])
    func tamperedChainIsRefusedAtTheRightPlace(file: String) throws {
        let manifest = try JSON.parse(Paths.vector("tampered/MANIFEST.json"))
        let says = try #require(manifest[file]?["reference verifier says"]?.stringValue)
        let result = ChainReplayer.verify(export: try Paths.vector("tampered/\(file)"), parallelism: 2)
        guard case .failure(let failure) = result else {
            Issue.record("\(file) was accepted")
            return
        }
        // The reference names "block N" or "tx <id>"; ours must name the same one.
        let culprit = String(says.prefix { $0 != ":" }).split(separator: " ").prefix(2).joined(separator: " ")
        #expect(failure.description.hasPrefix(culprit), "\(file): \(failure) — reference: \(says)")
    }

    @Test func tamperedManifestListsEveryFile() throws {
        let manifest = try JSON.parse(Paths.vector("tampered/MANIFEST.json"))
        guard case .object(let entries) = manifest else { throw LedgerError(.validationFailed, "manifest") }
        let files = try FileManager.default.contentsOfDirectory(atPath: Paths.vectors.appendingPathComponent("tampered").path)
            .filter { $0.hasSuffix(".jsonl") }
        #expect(Set(entries.keys.map(\.string)) == Set(files))
    }
}
