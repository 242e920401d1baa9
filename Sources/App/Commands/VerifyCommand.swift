import Foundation
import Ledger
import Vapor

/// `cascade verify --file chain.jsonl [--state-out state.json]`: replays a chain export from
/// genesis, checking every hash, signature, Merkle root and rule. Exit status 0 only when all of
/// it checks out; otherwise it names the first block or transaction at fault.
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
        guard let file = signature.file else {
            context.console.error("verify: pass --file chain.jsonl (a chain export)")
            throw CommandFailure(exitCode: 2, "no --file")
        }
        let bytes: [UInt8]
        do {
            bytes = Array(try Data(contentsOf: URL(fileURLWithPath: file)))
        } catch {
            context.console.error("verify: cannot read \(file): \(error.localizedDescription)")
            throw CommandFailure(exitCode: 2, "unreadable file")
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
