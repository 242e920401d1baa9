import Core
import Web
import Foundation
import Ledger
import Vapor

/// A stand-in for the banks at the other end of a host-to-host link (`cascade bank-sandbox`),
/// playing the outside world as a fake should. It takes each `pain.001` the platform leaves in
/// the outbox, moves money between the accounts it keeps (a debtor may go below zero: it plays
/// every bank at once), and leaves `camt.054` notifications in the inbox: pending at once, then
/// booked (or returned) after `settleMs`. Faults at the rates given: transfers returned (`AC04`,
/// account closed), notifications left twice, a stale pending one after the booking. A transfer
/// whose end-to-end id it has seen is never booked again, however often the file comes.
package actor BankSandbox {
    package struct Faults: Sendable {
        package var returnRate = 0.0
        package var duplicateRate = 0.0
        package var reorderRate = 0.0
        package var settleMs: Int64 = 200
    }

    package struct Transfer: Sendable {
        package var endToEndId: String
        package var debtor: String
        package var creditor: String
        package var amountFen: Int64
        package var status: String
        package var reference: String
    }

    package let outbox: URL
    package let inbox: URL
    package var faults: Faults
    private(set) var balances: [String: Int64] = [:]
    private(set) var transfers: [String: Transfer] = [:]
    /// Notifications to leave in the inbox once their time has come.
    private var due: [(atMs: Int64, name: String, text: String)] = []
    private var rng: SplitMix64
    private var sequence = 0
    private let stateFile: String?

    /// Started again on its state file, it knows every transfer it booked: a file handed over
    /// again after its restart is not booked twice, as a bank keeps its end-to-end ids.
    package init(outbox: String, inbox: String, faults: Faults, seed: UInt64, stateFile: String?) {
        self.outbox = URL(fileURLWithPath: outbox); self.inbox = URL(fileURLWithPath: inbox)
        self.faults = faults; rng = SplitMix64(seed: seed); self.stateFile = stateFile
        guard let stateFile, let data = FileManager.default.contents(atPath: stateFile), let state = try? JSON.parse(Array(data)) else { return }
        if case .object(let b)? = state["balances"] {
            for (account, fen) in b { if case .int(let n) = fen { balances[account.string] = n } }
        }
        for t in state["transfers"]?.arrayValue ?? [] {
            guard let id = t["endToEndId"]?.stringValue, case .int(let amount)? = t["amountFen"] else { continue }
            transfers[id] = Transfer(endToEndId: id, debtor: t["debtor"]?.stringValue ?? "", creditor: t["creditor"]?.stringValue ?? "", amountFen: amount,
                                     status: t["status"]?.stringValue ?? "", reference: t["reference"]?.stringValue ?? "")
        }
        sequence = transfers.count * 4  // past every reference and message it made
    }

    private func roll(_ rate: Double) -> Bool { rate > 0 && Double.random(in: 0..<1, using: &rng) < rate }

    package func balance(_ account: String) -> Int64 { balances[account] ?? 0 }
    package func setFaults(_ f: Faults) { faults = f }
    package func transfer(_ id: String) -> Transfer? { transfers[id] }

    /// One pass: takes the outbox's new files (moved to `taken/`), books their transfers, and
    /// leaves in the inbox every notification whose time has come. Returns how many it left.
    @discardableResult
    package func pass(nowMs: Int64) throws -> Int {
        let fm = FileManager.default
        let taken = outbox.appendingPathComponent("taken")
        try fm.createDirectory(at: taken, withIntermediateDirectories: true)
        let files = ((try? fm.contentsOfDirectory(atPath: outbox.path)) ?? []).filter { $0.hasSuffix(".xml") && !$0.hasPrefix(".") }.sorted()
        for file in files {
            let url = outbox.appendingPathComponent(file)
            guard let data = fm.contents(atPath: url.path) else { continue }
            let target = taken.appendingPathComponent("\(nowMs)-\(file)")
            try fm.moveItem(at: url, to: target)
            guard let instruction = try? ISO20022.initiation(Array(data)) else { continue }  // a bank refuses what it cannot read
            take(instruction, nowMs: nowMs)
        }
        let ready = due.filter { $0.atMs <= nowMs }
        due.removeAll { $0.atMs <= nowMs }
        for n in ready { try BankTransferRail.write(n.text, named: n.name, in: inbox.path) }
        if !files.isEmpty || !ready.isEmpty { persist() }
        return ready.count
    }

    private func take(_ i: ISO20022.Initiation, nowMs: Int64) {
        var pending: [ISO20022.Notified] = [], final: [ISO20022.Notified] = [], stale: [ISO20022.Notified] = []
        for t in i.transfers where transfers[t.endToEndId] == nil {
            sequence += 1
            let reference = "CNAPS" + BusinessDate(epochMs: nowMs).description.replacingOccurrences(of: "-", with: "") + String(format: "%08d", sequence)
            let returned = roll(faults.returnRate)
            if !returned {
                balances[i.debtor.number, default: 0] -= t.amountFen
                balances[t.creditor.number, default: 0] += t.amountFen
            }
            transfers[t.endToEndId] = Transfer(endToEndId: t.endToEndId, debtor: i.debtor.number, creditor: t.creditor.number, amountFen: t.amountFen,
                                               status: returned ? "returned" : "settled", reference: reference)
            let notified = ISO20022.Notified(endToEndId: t.endToEndId, amountFen: t.amountFen, outcome: .pending, reference: nil, returnReason: nil)
            pending.append(notified)
            var done = notified
            done.outcome = returned ? .returned : .booked
            done.reference = reference
            done.returnReason = returned ? "AC04" : nil
            final.append(done)
            if roll(faults.reorderRate) { stale.append(notified) }
        }
        guard !pending.isEmpty else { return }
        notify(pending, of: i.debtor.number, at: nowMs)
        notify(final, of: i.debtor.number, at: nowMs + faults.settleMs)
        if !stale.isEmpty { notify(stale, of: i.debtor.number, at: nowMs + faults.settleMs + 1) }
    }

    private func notify(_ entries: [ISO20022.Notified], of account: String, at ms: Int64) {
        sequence += 1
        let id = "SBX\(ms)\(String(format: "%06d", sequence))"
        let text = ISO20022.notificationDocument(messageId: id, createdMs: ms, account: account, entries: entries)
        due.append((ms, "\(id).xml", text))
        // Left twice, under another file name: the same message id.
        if roll(faults.duplicateRate) { due.append((ms, "\(id)-again.xml", text)) }
    }

    private func persist() {
        guard let stateFile else { return }
        let state: JSON = [
            "balances": .object(Dictionary(uniqueKeysWithValues: balances.map { (JSONKey($0.key), JSON.int($0.value)) })),
            "transfers": .array(transfers.values.sorted { $0.endToEndId < $1.endToEndId }.map { t in
                ["endToEndId": .string(t.endToEndId), "debtor": .string(t.debtor), "creditor": .string(t.creditor), "amountFen": .int(t.amountFen),
                 "status": .string(t.status), "reference": .string(t.reference)]
            }),
        ]
        let url = URL(fileURLWithPath: stateFile)
        try? BankTransferRail.write(state.canonicalString, named: url.lastPathComponent, in: url.deletingLastPathComponent().path)
    }
}

/// `cascade bank-sandbox --outbox DIR --inbox DIR`: the sandbox bank as a process of its own,
/// reading the platform's outbox and writing its inbox every `--poll-ms`.
package struct BankSandboxCommand: AsyncCommand {
    package struct Signature: CommandSignature {
        @Option(name: "outbox", help: "the platform's outbox (CASCADE_BANK_RAIL_OUTBOX)") var outbox: String?
        @Option(name: "inbox", help: "the platform's inbox (CASCADE_BANK_RAIL_INBOX)") var inbox: String?
        @Option(name: "settle-ms", help: "how long a transfer takes to be booked (default 200)") var settleMs: Int?
        @Option(name: "poll-ms", help: "how often the outbox is read (default 200)") var pollMs: Int?
        @Option(name: "return-rate", help: "share of transfers returned (AC04)") var returnRate: Double?
        @Option(name: "duplicate-rate", help: "share of notifications left twice") package var duplicateRate: Double?
        @Option(name: "reorder-rate", help: "share of transfers whose pending notification comes again after the booking") package var reorderRate: Double?
        @Option(name: "seed", help: "the faults' seed") package var seed: Int?
        @Option(name: "state-file", help: "where to write the accounts' balances and the transfers after each change") package var stateFile: String?
        @Option(name: "exit-with", help: "a process id: the sandbox stops when that process has gone") package var exitWith: Int?
        package init() {}
    }

    package var help: String { "Runs the sandbox bank of the bank-transfer rail: pain.001 in, camt.054 out (a fake of the outside world, for tests and the demo)." }

    package func run(using context: CommandContext, signature: Signature) async throws {
        guard let outbox = signature.outbox, let inbox = signature.inbox else { throw ConfigurationError("bank-sandbox needs --outbox and --inbox") }
        let faults = BankSandbox.Faults(returnRate: signature.returnRate ?? 0, duplicateRate: signature.duplicateRate ?? 0,
                                        reorderRate: signature.reorderRate ?? 0, settleMs: Int64(max(0, signature.settleMs ?? 200)))
        let sandbox = BankSandbox(outbox: outbox, inbox: inbox, faults: faults, seed: UInt64(signature.seed ?? 1), stateFile: signature.stateFile)
        context.console.print("bank sandbox: pain.001 from \(outbox), camt.054 into \(inbox)")
        let poll = Duration.milliseconds(max(20, signature.pollMs ?? 200))
        while !SandboxOwner.gone(signature.exitWith) {
            do { try await sandbox.pass(nowMs: Int64(Date().timeIntervalSince1970 * 1000)) } catch { context.console.warning("bank sandbox: \(error)") }
            try await Task.sleep(for: poll)
        }
    }
}
