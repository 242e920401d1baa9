import Core
import Web
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
        guard let file = signature.file else {
            // The database: the same verification as `GET /chain/verify` and the regulator's button.
            let v = await StoredChainVerification.run(LedgerStore(db: context.application.db))
            guard v.ok else {
                if v.differingRows > 0 {
                    context.console.error("FAILED the projection tables differ from the chain in \(v.differingRows) rows; first: \(v.problems[0])")
                    throw CommandFailure("projections differ")
                }
                context.console.error("FAILED \(v.problems.first ?? "")")
                throw CommandFailure("chain does not verify")
            }
            if v.blockCount == 0 {
                context.console.print("OK 0 blocks: the database holds no chain yet")
                return
            }
            try write(v.state, to: signature.stateOut)
            context.console.print("OK \(v.blockCount) blocks, \(v.txCount) transactions, \(v.tokenCount) tokens, height \(v.height), head \(v.head.prefix(16)), verified in \(v.seconds) s")
            return
        }
        // A file: the chain alone, with no projections to compare.
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
            try write(replayer.state, to: signature.stateOut)
            let s = replayer.state
            context.console.print(
                "OK \(replayer.blockCount) blocks, \(s.transactionCount) transactions, \(s.tokens.count) tokens, "
                    + "height \(replayer.height), head \(replayer.lastHash.prefix(16)), verified in \(String(format: "%.3f", seconds)) s")
        }
    }

    /// `--state-out`: the replayed state as `shared/vectors/expected-state.json` has it.
    func write(_ state: LedgerState?, to path: String?) throws {
        guard let path, let state else { return }
        var text = state.snapshotJSON.canonicalBytes
        text.append(0x0A)
        try Data(text).write(to: URL(fileURLWithPath: path))
    }
}

extension Duration {
    var seconds: Double {
        let (s, atto) = components
        return Double(s) + Double(atto) / 1e18
    }
}
