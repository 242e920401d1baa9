import Foundation
import Ledger
import NIOCore
import SQLKit
import class Vapor.Application
import struct Vapor.Environment
import protocol Vapor.StorageKey

/// The system's own transactions, signed with the operator's key: offers past the acceptance
/// window return to their senders (`expireOffer`), receivables past due and grace become
/// `overdue` (`markOverdue`). Run once a minute, and at once when the admin clock moves; the
/// early-payment markets whose cut-off has passed clear after them.
package enum Jobs {
    /// What is due on `date` under `policy`: the offers older than the acceptance window and the
    /// receivables past due and grace, read from the projections by index (only what is due is
    /// read, however long the history). Whatever the chain has already done is refused by the
    /// ledger and skipped.
    package static func due(on date: BusinessDate, policy: Policy, sql: any SQLDatabase) async throws -> [Payload] {
        // An offer made on day d expires once d + window < date; a receivable once due + grace < date.
        let offeredBefore = date.adding(days: -policy.acceptanceWindowDays).description
        let dueBefore = date.adding(days: -policy.graceDays).description
        let offers = try await TokenQueries.offers(madeBefore: offeredBefore, on: sql)
        let overdue = try await ReceivableQueries.active(dueBefore: dueBefore, on: sql)
        return offers.map { .expireOffer(tokenId: $0) } + overdue.map { .markOverdue(receivableId: $0) }
    }

    /// Submits every due job; returns how many the ledger accepted. A job the ledger refuses
    /// (another got there first) is logged and skipped.
    @discardableResult
    package static func run(_ app: Application) async throws -> Int {
        guard let sequencer = app.sequencer, let vault = app.keyVault else { return 0 }
        let now = app.ledgerClock.nowMs()
        let (operatorId, policy) = await sequencer.read { ($0.operatorId, $0.policy) }
        guard let op = operatorId, let signer = try await vault.signer(for: op, on: app.sql) else { return 0 }
        let payloads = try await due(on: BusinessDate(epochMs: now), policy: policy, sql: app.sql)
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

    /// Runs the jobs and the payments sweep every `interval` (`CASCADE_SWEEP_SECONDS`, 60 by
    /// default), and reads the banks' inboxes every `CASCADE_BANK_RAIL_POLL_MS`, until the
    /// application shuts down.
    package static func schedule(_ app: Application, every interval: Duration = .seconds(Environment.get("CASCADE_SWEEP_SECONDS").flatMap(Int.init).map { max(1, $0) } ?? 60)) {
        app.background.every(interval, after: .seconds(5)) {
            do { try await run(app) } catch { app.logger.warning("jobs: \(error)") }
            guard !app.background.isStopping else { return }
            do { try await EarlyPaymentService.clearDue(app) } catch { app.logger.warning("early-payment markets: \(error)") }
            do { try await PaymentService.sweep(app) } catch { app.logger.warning("payments sweep: \(error)") }
            do { try await OnboardingService.sweepUnregistered(app) } catch { app.logger.warning("registrations sweep: \(error)") }
            app.metrics.sweepFinished(nowMs: app.wallClock.nowMs())
        }
        WebhookSender.schedule(app)
        // The banks' notifications are read as they arrive, not only at the minute's sweep.
        let poll = Duration.milliseconds(Environment.get("CASCADE_BANK_RAIL_POLL_MS").flatMap(Int.init).map { max(100, $0) } ?? 2000)
        app.background.every(poll, after: poll) {
            do { try await PaymentService.readInboxes(app) } catch { app.logger.warning("rail inboxes: \(error)") }
        }
    }
}
