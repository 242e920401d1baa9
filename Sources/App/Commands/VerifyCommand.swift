import Foundation
import Ledger
import Vapor

/// `cascade verify [--file chain.jsonl] [--state-out state.json]`: replays a chain — an export, or
/// the one in the database — from genesis, checking every hash, signature, Merkle root and rule;
/// for the database it also compares every projection table with the replayed state. Exit status
/// 0 only when all of it checks out; otherwise it names the first block, transaction or row at fault.
struct VerifyCommand: AsyncCommand {
    struct Signature: CommandSignature {
        @Option(name: "file", help: "A chain export (JSON Lines, one block per line).")
        var file: String?

        @Option(name: "state-out", help: "Write the replayed state here, in the shape of expected-state.json.")
        var stateOut: String?

        init() {}
    }

    var help: String { "Replays and checks a chain: hashes, signatures, Merkle roots and every rule." }

    func run(using context: CommandContext, signature: Signature) async throws {
        let bytes: [UInt8]
        let store: LedgerStore?
        if let file = signature.file {
            store = nil
            do {
                bytes = Array(try Data(contentsOf: URL(fileURLWithPath: file)))
            } catch {
                context.console.error("verify: cannot read \(file): \(error.localizedDescription)")
                throw CommandFailure(exitCode: 2, "unreadable file")
            }
        } else {
            store = LedgerStore(db: context.application.db)
            bytes = try await store!.exportAll()
        }
        if store != nil && bytes.isEmpty {
            let problems = try await store!.projectionProblems(against: LedgerState())
            guard problems.isEmpty else {
                context.console.error("FAILED the database holds no blocks but \(problems.count) projection rows; first: \(problems[0])")
                throw CommandFailure("projections without a chain")
            }
            context.console.print("OK 0 blocks: the database holds no chain yet")
            return
        }
        let clock = ContinuousClock()
        let start = clock.now
        let result = ChainReplayer.verify(export: bytes, parallelism: ProcessInfo.processInfo.activeProcessorCount)
        let seconds = (clock.now - start).seconds
        switch result {
        case .failure(let failure):
            context.console.error("FAILED \(failure)")
            throw CommandFailure("chain does not verify")
        case .success(let replayer):
            if let store {
                let problems = try await store.projectionProblems(against: replayer.state)
                if !problems.isEmpty {
                    context.console.error("FAILED the projection tables differ from the chain in \(problems.count) rows; first: \(problems[0])")
                    throw CommandFailure("projections differ")
                }
            }
            if let out = signature.stateOut {
                var text = replayer.state.snapshotJSON.canonicalBytes
                text.append(0x0A)
                try Data(text).write(to: URL(fileURLWithPath: out))
            }
            let s = replayer.state
            context.console.print(
                "OK \(replayer.blockCount) blocks, \(s.transactionCount) transactions, \(s.tokens.count) tokens, "
                    + "height \(replayer.height), head \(replayer.lastHash.prefix(16)), verified in \(String(format: "%.3f", seconds)) s")
        }
    }
}

extension Duration {
    var seconds: Double {
        let (s, atto) = components
        return Double(s) + Double(atto) / 1e18
    }
}
