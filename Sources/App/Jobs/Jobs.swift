import Foundation
import Ledger
import NIOCore
import Vapor

/// The business clock of a running server: the system clock, moved forward by an offset that
/// only the admin clock route (development and testing) may set. Never moves backwards.
final class AdjustableClock: LedgerClock, @unchecked Sendable {
    private let lock = NSLock()
    private var offsetMs: Int64 = 0
    private let base: any LedgerClock

    init(base: any LedgerClock = SystemClock()) { self.base = base }

    func nowMs() -> Int64 { lock.withLock { base.nowMs() + offsetMs } }

    /// Moves the business date forward to `day` (the same time of day); refuses to go back.
    func move(to day: BusinessDate) throws {
        try lock.withLock {
            let now = base.nowMs() + offsetMs
            let delta = BusinessDate(epochMs: now).days(until: day)
            guard delta >= 0 else { throw LedgerError.invalid("today", "must not be before the current business date \(BusinessDate(epochMs: now))") }
            offsetMs += delta * 86_400_000
        }
    }
}

/// The system's own transactions, signed with the operator's key: offers past the acceptance
/// window return to their senders (`expireOffer`), receivables past due and grace become
/// `overdue` (`markOverdue`). Run once a minute, and at once when the admin clock moves.
enum Jobs {
    /// What is due on `date` in `state`: the offers to expire and the receivables to mark.
    static func due(in state: LedgerState, on date: BusinessDate) -> [Payload] {
        let window = state.policy.acceptanceWindowDays, grace = state.policy.graceDays
        var payloads: [Payload] = []
        for t in state.tokens.values where t.status == .pending && t.createdOn.days(until: date) > window {
            payloads.append(.expireOffer(tokenId: t.id))
        }
        for r in state.receivables.values.sorted(by: { $0.id < $1.id }) where r.status == .active && r.dueDate.days(until: date) > grace {
            payloads.append(.markOverdue(receivableId: r.id))
        }
        return payloads
    }

    /// Submits every due job; returns how many the ledger accepted. A job the ledger refuses
    /// (another got there first) is logged and skipped.
    @discardableResult
    static func run(_ app: Application) async throws -> Int {
        guard let sequencer = app.sequencer, let vault = app.keyVault else { return 0 }
        let now = app.ledgerClock.nowMs()
        let (operatorId, payloads) = await sequencer.read { ($0.operatorId, due(in: $0, on: BusinessDate(epochMs: now))) }
        guard let op = operatorId, let signer = try await vault.signer(for: op, on: app.sql) else { return 0 }
        var done = 0
        for payload in payloads {
            let body = TransactionBody(orgId: op, keyId: signer.keyId, time: now, nonce: UUID().uuidString.lowercased(), payload: payload)
            do {
                _ = try await sequencer.submit(try Transaction.sign(body, with: signer))
                done += 1
            } catch {
                app.logger.info("job \(payload.type.rawValue) skipped: \(error)")
            }
        }
        return done
    }

    /// Runs the jobs every `interval` until the application shuts down.
    static func schedule(_ app: Application, every interval: TimeAmount = .seconds(60)) {
        app.eventLoopGroup.next().scheduleRepeatedAsyncTask(initialDelay: .seconds(5), delay: interval) { _ in
            app.eventLoopGroup.next().makeFutureWithTask {
                do { try await run(app) } catch { app.logger.warning("jobs: \(error)") }
            }
        }
    }
}
