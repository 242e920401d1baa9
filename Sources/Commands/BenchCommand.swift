import Core
import Web
import Foundation
import Ledger
import Vapor

/// `cascade bench ledger`: the in-memory state machine and the chain verifier under a large
/// random workload. Figures, not pass/fail: the last line is one JSON object.
struct BenchCommand: AsyncCommand {
    struct Signature: CommandSignature {
        @Argument(name: "suite", help: "ledger, api or scale")
        var suite: String

        @Option(name: "clients", help: "bench api: concurrent HTTP clients (default 64).")
        var clients: Int?

        @Option(name: "seconds", help: "bench api: how long the clients run (default 20).")
        var seconds: Int?

        @Option(name: "receivables", help: "Receivables to issue (default 10000).")
        var receivables: Int?

        @Option(name: "moves", help: "Transfers and splits to make over them (default 1000000).")
        var moves: Int?

        @Option(name: "block-size", help: "Transactions per sealed block (default 1000).")
        var blockSize: Int?

        @Option(name: "transactions", help: "bench scale: transactions in the ledger it builds (default 2000000).")
        var transactions: Int?

        init() {}
    }

    var help: String {
        "Benchmarks: `bench ledger` (rules, sealing and full verification); `bench api` (signed operations over HTTP on PostgreSQL, against pgbench); "
            + "`bench scale` (start-up, memory and reads of `serve` on a PostgreSQL ledger of millions of transactions)."
    }

    func run(using context: CommandContext, signature: Signature) async throws {
        switch signature.suite {
        case "ledger":
            try LedgerBench(receivables: signature.receivables ?? 10_000, moves: signature.moves ?? 1_000_000,
                            blockSize: signature.blockSize ?? 1_000, console: context.console).run()
        case "api":
            try await APIBench(clients: signature.clients ?? 64, seconds: signature.seconds ?? 20, pgbenchClients: 8, console: context.console)
                .run(context.application)
        case "scale":
            try await ScaleBench(transactions: signature.transactions ?? 2_000_000, console: context.console).run(context.application)
        default:
            context.console.error("bench: unknown suite \(signature.suite); try `bench ledger`, `bench api` or `bench scale`")
            throw CommandFailure(exitCode: 2, "unknown suite")
        }
    }
}

struct LedgerBench {
    var receivables: Int
    var moves: Int
    var blockSize: Int
    var console: any Console

    func say(_ line: String) { console.print(line) }

    func run() throws {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let clock = ContinuousClock()
        say("bench ledger: \(receivables) receivables, \(moves) transfers and splits, blocks of \(blockSize), \(cores) cores")

        var t = clock.now
        var workload = LedgerWorkload(seed: 2026)
        workload.build(receivables: receivables, moves: moves)
        let unsigned = workload.transactions
        let counts = Dictionary(grouping: unsigned, by: \.body.type).mapValues(\.count)
        say("workload built in \(fmt((clock.now - t).seconds)) s: \(unsigned.count) transactions "
            + "(\(counts[.transfer] ?? 0) transfers, \(counts[.split] ?? 0) splits, \(counts[.accept] ?? 0) accepts, \(counts[.issue] ?? 0) issues)")

        // Rules only: one core, the pure state machine. Three runs, each on a fresh state, and the
        // median is the figure: this machine's speed drifts from one minute to the next.
        var state = LedgerState()
        var rates: [Double] = []
        for run in 1...3 {
            state = LedgerState()
            state.reserveCapacity(for: unsigned)
            t = clock.now
            if let (i, e) = state.apply(contentsOf: unsigned) { throw CommandFailure("replay refused \(unsigned[i].id): \(e)") }
            let seconds = (clock.now - t).seconds
            rates.append(Double(unsigned.count) / seconds)
            say("rules, run \(run): \(unsigned.count) transactions in \(fmt(seconds)) s = \(Int(rates.last!)) tx/s (one core)")
        }
        let rulesRate = rates.sorted()[1]
        say("rules: median \(Int(rulesRate)) tx/s")

        let standard = try verification(of: workload, cores: cores, sampleSize: 60_000)
        let peak = peakMemoryMB()
        say("verify / ed25519 alone = \(fmt(standard.ratio)); peak memory \(peak) MB")

        // The 国密 profile: the same kind of workload in sm2-sm3, SM2 signatures with SM3 through
        // OpenSSL. SM2 signs and verifies several times slower than Ed25519, so it is smaller.
        let smMoves = min(moves, 40_000), smReceivables = min(receivables, 2_000)
        say("sm2-sm3: \(smReceivables) receivables, \(smMoves) transfers and splits")
        var smWorkload = LedgerWorkload(seed: 2026, profile: .sm2Sm3)
        smWorkload.build(receivables: smReceivables, moves: smMoves)
        let sm = try verification(of: smWorkload, cores: cores, sampleSize: 8_000)
        say("verify / sm2 alone = \(fmt(sm.ratio)); ed25519 / sm2 alone = \(fmt(standard.raw / sm.raw))")
        let summary: JSON = [
            "rulesTxPerSec": .int(Int64(rulesRate)), "verifyTxPerSec": .int(Int64(standard.verify)),
            "ed25519VerifyPerSec": .int(Int64(standard.raw)), "ratio": .string(fmt(standard.ratio)), "peakMemoryMB": .int(Int64(peak)),
            "sm2VerifyPerSec": .int(Int64(sm.raw)), "sm2ChainVerifyTxPerSec": .int(Int64(sm.verify)), "sm2Ratio": .string(fmt(sm.ratio)),
        ]
        // The ratios are decimals; JCS keeps ledger JSON integer-only, so print this line by hand.
        say(summary.canonicalString.replacingOccurrences(of: "\"ratio\":\"\(fmt(standard.ratio))\"", with: "\"ratio\":\(fmt(standard.ratio))")
                .replacingOccurrences(of: "\"sm2Ratio\":\"\(fmt(sm.ratio))\"", with: "\"sm2Ratio\":\(fmt(sm.ratio))"))
    }

    /// Signs and seals the workload's transactions in its profile, then times full verification
    /// (parse, ids, hashes, Merkle roots, signatures and rules) against the profile's signature
    /// verification alone over the same messages, on every core. The raw rate is measured before
    /// and after and averaged: this machine's speed drifts over a minute, and one short sample
    /// would set the bar by luck.
    func verification(of workload: LedgerWorkload, cores: Int, sampleSize: Int) throws -> (verify: Double, raw: Double, ratio: Double) {
        let clock = ContinuousClock()
        let profile = workload.profile
        let name = profile.signatureName.lowercased()
        var t = clock.now
        let signed = workload.signed(parallelism: cores)
        let blocks = LedgerWorkload.seal(signed, blockSize: blockSize, sealer: workload.signers[workload.state.operatorId!]!)
        var export: [UInt8] = []
        for block in blocks {
            export.append(contentsOf: block.exportLine)
            export.append(0x0A)
        }
        say("\(profile.rawValue): signed, sealed \(blocks.count) blocks and exported \(export.count / 1_000_000) MB in \(fmt((clock.now - t).seconds)) s")

        let sample = Array(signed.suffix(min(signed.count, sampleSize)))
        let keys = workload.signers.mapValues { profile.verifier(for: $0.publicKey)! }  // keys the workload made
        let rawBefore = try rawVerifyRate(sample, keys: keys, cores: cores)
        say("\(name) alone: \(sample.count) signatures = \(Int(rawBefore))/s (\(cores) cores)")

        // Timed in two steps, reading then replaying, which is all `ChainReplayer.verify` does.
        t = clock.now
        let parsed = ChainReplayer.parse(export: export, parallelism: cores)
        let parseSeconds = (clock.now - t).seconds
        let verified: ChainReplayer
        switch ChainReplayer.replay(parsed, parallelism: cores) {
        case .success(let r): verified = r
        case .failure(let f): throw CommandFailure("the \(profile.rawValue) bench chain did not verify: \(f)")
        }
        let verifySeconds = (clock.now - t).seconds
        let verifyRate = Double(verified.state.transactionCount) / verifySeconds
        guard verified.state.profile == profile, verified.state.tokens.count == workload.state.tokens.count,
              verified.state.transactionCount == signed.count else {
            throw CommandFailure("verification rebuilt a different state")
        }
        say("\(profile.rawValue) verify: \(verified.blockCount) blocks, \(verified.state.transactionCount) transactions in \(fmt(verifySeconds)) s = \(Int(verifyRate)) tx/s (\(cores) cores; reading \(fmt(parseSeconds)) s)")

        let rawAfter = try rawVerifyRate(sample, keys: keys, cores: cores)
        let rawRate = (rawBefore + rawAfter) / 2
        say("\(name) alone, again: \(Int(rawAfter))/s; mean \(Int(rawRate))/s")
        return (verifyRate, rawRate, verifyRate / rawRate)
    }

    /// Signatures of `sample` verified per second by the profile's verifier alone, on `cores` threads.
    func rawVerifyRate(_ sample: [Transaction], keys: [OrgID: SignatureVerifier], cores: Int) throws -> Double {
        let clock = ContinuousClock()
        let t = clock.now
        let failures = ParallelSlots(count: cores, initial: 0)
        DispatchQueue.concurrentPerform(iterations: cores) { w in
            var i = w
            var bad = 0
            while i < sample.count {
                let tx = sample[i]
                if !keys[tx.body.orgId]!.verify(tx.signature, tx.canonicalBody) { bad += 1 }
                i += cores
            }
            failures[w] = bad
        }
        let seconds = (clock.now - t).seconds
        guard failures.values.allSatisfy({ $0 == 0 }) else { throw CommandFailure("a signature did not verify") }
        return Double(sample.count) / seconds
    }

    func fmt(_ v: Double) -> String { String(format: "%.2f", v) }
}

/// Peak resident memory of this process (VmHWM), in MB.
func peakMemoryMB() -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
        let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
        let kb = Int(line.split(separator: " ").dropFirst().first ?? "")
    else { return 0 }
    return kb / 1024
}
