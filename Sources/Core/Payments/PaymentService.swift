import Foundation
import NIOConcurrencyHelpers
import Ledger
import SQLKit
import class Vapor.Application
import protocol Vapor.StorageKey

/// Money moving: a financing's payout instructed on the bank's rail once it is approved, the
/// rail's notifications taken in, and the ledger told only once the money has arrived. A bank
/// without a connected rail (no account on it for itself or for the supplier) confirms payouts
/// by hand, as before.
package enum PaymentService {
    /// The rail a payment from `payer` to `payee` goes by: the one the payer chose (`PaysBy`),
    /// when it is connected and both have accounts on it; nil (confirmed by hand) otherwise.
    package static func route(from payer: OrgID, to payee: OrgID, app: Application) async throws -> (rail: any PaymentRail, payer: PaymentAccount, payee: PaymentAccount)? {
        for name in try await PaysBy.rails(for: payer, on: app.sql) {
            guard let rail = app.rails[name],
                  let from = try await PaymentAccounts.find(payer, rail: name, on: app.sql),
                  let to = try await PaymentAccounts.find(payee, rail: name, on: app.sql) else { continue }
            return (rail, from, to)
        }
        return nil
    }

    /// A payout goes from the bank to the supplier.
    package static func payoutRoute(for f: Financing, app: Application) async throws -> (rail: any PaymentRail, payer: PaymentAccount, payee: PaymentAccount)? {
        try await route(from: f.bankId, to: f.supplierId, app: app)
    }

    /// Before a financing is approved (and so its payout instructed): on the e-CNY rail, the
    /// bank's wallet must hold the payout, and from `CASCADE_ECNY_SECOND_FACTOR_FROM_FEN` the
    /// approving person gives a code of their second factor (`otp`). A short balance, or a missing
    /// or wrong code, refuses the approval before anything is signed. Answers the payment whose
    /// amount this check reserved in the wallet (nil when it reserved nothing: no e-CNY payout,
    /// or another request for the same approval reserved it first).
    @discardableResult
    package static func checkPayout(of financingId: TxID, by caller: Caller, otp: String?, app: Application) async throws -> String? {
        guard let f = try await app.requireSequencer().read({ $0.financings[financingId] }), f.status == .requested,
              let route = try await payoutRoute(for: f, app: app), let ecny = route.rail as? EcnyRail else { return nil }
        if let from = ecny.secondFactorFromFen, f.payoutFen >= from {
            guard let otp, !otp.isEmpty else {
                throw LedgerError(.otpRequired, "an e-CNY payout of \(Money.format(f.payoutFen)) needs the approving person's second factor: send the code as otp")
            }
            guard try await TwoFactor.useCode(userId: caller.userId, code: otp, app: app, nowMs: app.wallClock.nowMs()) else {
                throw LedgerError(.unauthorized, "the second-factor code is wrong or was used already")
            }
        }
        // The first attempt's id, as `instructPayout` will give it.
        let payment = Payment.id(.payout, paying: f.id.description, to: f.supplierId)
        let made = try await reserve([BalanceHolds.Hold(paymentId: payment, kind: .payout, subjectId: f.id.description, amountFen: f.payoutFen)],
                                     in: route.payer.account, on: ecny, for: "payout", app: app)
        return made.first
    }

    /// Refuses unless the e-CNY wallet holds the payments' total beyond what earlier checks
    /// reserved for payments not yet settled, failed or returned; then reserves it, until each
    /// payment is (or the check's operation does not go ahead). Short: `insufficient_balance`;
    /// the service out of reach: `unavailable` (never taken for a short balance). One wallet's
    /// checks take turns, so two payouts cannot both pass on one balance.
    /// Answers the payments it reserved (a payment reserved by an earlier check is not again).
    @discardableResult
    package static func reserve(_ holds: [BalanceHolds.Hold], in wallet: String, on ecny: EcnyRail, for what: String, app: Application) async throws -> [String] {
        let total = holds.reduce(Int64(0)) { $0 + $1.amountFen }
        return try await app.walletChecks.inTurn(for: "\(ecny.name)|\(wallet)") {
            let balance: Int64?
            do { balance = try await ecny.balance(of: wallet) } catch { throw Unavailable("the e-CNY wallet service cannot be reached to check the balance: \(error)") }
            let held = try await BalanceHolds.held(in: wallet, rail: ecny.name, except: holds.map(\.paymentId), on: app.sql)
            guard let balance, balance - held >= total else {
                let reserved = held > 0 ? ", \(Money.format(held)) of it reserved for payments on their way" : ""
                throw LedgerError(.insufficientBalance, "the e-CNY wallet \(wallet) holds \(balance.map(Money.format) ?? "nothing known")\(reserved), less than the \(what) of \(Money.format(total))")
            }
            return try await BalanceHolds.hold(holds, in: wallet, rail: ecny.name, nowMs: app.wallClock.nowMs(), on: app.sql)
        }
    }

    /// Stores a batch's payments with the message that instructs them, in one transaction, then
    /// hands the message to the rail: at once for a batch of up to `deliveredInline` payments (the
    /// caller's answer shows what the rail said), in the background for a larger one (a
    /// settlement to thousands of holders on a rail that answers some of them late took minutes,
    /// and the person approving it waited for all of them).
    package static func send(_ batch: PaymentBatch, on rail: any PaymentRail, app: Application) async throws {
        var batch = batch
        for i in batch.payments.indices { batch.payments[i].messageId = batch.messageId }
        let message = try rail.message(for: batch)
        try await PaymentStore.instruct(batch.payments, message: message, on: try app.database())
        // Stored, the payments are instructed whatever happens next: a rail out of reach now is
        // handed the message by the sweep, and the caller's answer shows them instructed.
        @Sendable func handOver() async {
            do { try await deliver(message.id, rail: rail, app: app) } catch {
                app.logger.warning("rail \(rail.name): message \(message.id) stored but not delivered yet (\(error)); the sweep hands it over")
            }
        }
        if batch.payments.count <= deliveredInline { await handOver() } else { app.background.start(handOver) }
    }

    package static let deliveredInline = 64

    /// Instructs the payout of an approved financing, once: the payment's id comes from the
    /// financing and the supplier, so instructing again finds the same payment and message.
    /// `retry`: the last attempt failed or was returned, and the bank pays it again, as the next
    /// attempt (an id of its own); never while one is on its way or has arrived.
    @discardableResult
    package static func instructPayout(_ f: Financing, retry: Bool = false, app: Application) async throws -> Payment? {
        guard f.status == .approved, let route = try await payoutRoute(for: f, app: app) else { return nil }
        return try await instructOne(.payout, paying: f.id, token: nil, from: f.bankId, to: f.supplierId, amountFen: f.payoutFen, route: route,
                                     remittance: "Cascade financing \(f.id.description.prefix(16))", retry: retry, app: app)
    }

    /// An early payment goes from the core to the supplier, on the core's rail.
    package static func earlyPaymentRoute(for e: EarlyPayment, app: Application) async throws -> (rail: any PaymentRail, payer: PaymentAccount, payee: PaymentAccount)? {
        try await route(from: e.issuerId, to: e.supplierId, app: app)
    }

    /// Instructs an approved early payment from the core's account to the supplier, once, as a
    /// payout is; `retry` as there.
    @discardableResult
    package static func instructEarlyPayment(_ e: EarlyPayment, retry: Bool = false, app: Application) async throws -> Payment? {
        guard e.status == .approved, let route = try await earlyPaymentRoute(for: e, app: app) else { return nil }
        return try await instructOne(.earlyPayment, paying: e.id, token: e.tokenId, from: e.issuerId, to: e.supplierId, amountFen: e.payoutFen, route: route,
                                     remittance: "Cascade early payment \(e.id.description.prefix(16))", retry: retry, app: app)
    }

    /// One payment of `kind` for `subject`, its id derived from the subject and the payee (the
    /// `n`th attempt's from `subject#n`), stored and handed to the rail.
    private static func instructOne(_ kind: PaymentKind, paying subject: TxID, token: TokenID?, from payer: OrgID, to payee: OrgID, amountFen: Int64,
                                    route: (rail: any PaymentRail, payer: PaymentAccount, payee: PaymentAccount), remittance: String,
                                    retry: Bool, app: Application) async throws -> Payment? {
        let now = app.ledgerClock.nowMs()
        let earlier = try await PaymentStore.attempts(paying: subject, kind: kind, on: app.sql)
        var key = subject.description
        if retry {
            guard !earlier.isEmpty, earlier.allSatisfy(\.isOver) else {
                throw LedgerError(kind == .payout ? .financingNotOpen : .earlyPaymentNotOpen, "only a payment whose every attempt failed or was returned is paid again")
            }
            key += "#\(earlier.count + 1)"
        }
        let id = Payment.id(kind, paying: key, to: payee)
        let payment = Payment(id: id, rail: route.rail.name, kind: kind, payerId: payer, payeeId: payee, amountFen: amountFen,
                              subjectId: subject, tokenId: token, messageId: "", nowMs: now)
        try await send(PaymentBatch(payer: route.payer, payees: [payee: route.payee], payments: [payment], remittance: [id: remittance],
                                    executionDate: app.businessDate, nowMs: now), on: route.rail, app: app)
        return try await PaymentStore.find(id, on: app.sql)
    }

    /// The rail a core enterprise settles by: the one it chose (`PaysBy`), when it is connected
    /// and the core has an account on it; nil (settled by hand) otherwise.
    package static func settlementRoute(core: OrgID, app: Application) async throws -> (rail: any PaymentRail, payer: PaymentAccount)? {
        for name in try await PaysBy.rails(for: core, on: app.sql) {
            if let rail = app.rails[name], let payer = try await PaymentAccounts.find(core, rail: name, on: app.sql) { return (rail, payer) }
        }
        return nil
    }

    /// At maturity, one payment per holder of each payable piece (the listed ones, or all), in one
    /// instruction from the core's account. The ledger is asked first whether it would settle them
    /// today: nothing is paid before maturity. Every holder must have an account on the rail; if
    /// one has none, nothing is instructed and the answer names them. A piece paid already (its
    /// payment instructed, accepted or settled) is not paid again.
    package static func instructSettlement(_ receivableId: TxID, tokenIds: [TokenID]?, reference: String, by caller: Caller,
                                   route: (rail: any PaymentRail, payer: PaymentAccount), app: Application) async throws -> [Payment] {
        let sql = app.sql
        let listed = tokenIds.map(Set.init)
        let pieces = try await ReceivableQueries.tokens(of: receivableId, statuses: [.active, .locked], on: sql)
            .filter { listed?.contains($0.id) ?? true }.sorted { $0.id.description < $1.id.description }
            .map { ($0.id, $0.holderId, $0.amountFen) }
        guard !pieces.isEmpty else { throw LedgerError(.tokenNotActive, "receivable \(receivableId) has no active or locked piece to pay") }
        if let tokenIds, tokenIds.count != pieces.count { throw LedgerError(.tokenNotActive, "tokenIds: only active or locked pieces of this receivable are paid") }
        for chunk in stride(from: 0, to: pieces.count, by: Limits.maxSettleTokens).map({ Array(pieces[$0..<min($0 + Limits.maxSettleTokens, pieces.count)]) }) {
            try await LedgerService.trial(.settle(receivableId: receivableId, tokenIds: chunk.map(\.0), reference: reference), by: caller, app: app)
        }
        var payees: [OrgID: PaymentAccount] = [:], missing: [OrgID] = []
        for holder in Set(pieces.map(\.1)) {
            if let a = try await PaymentAccounts.find(holder, rail: route.rail.name, on: sql) { payees[holder] = a } else { missing.append(holder) }
        }
        guard missing.isEmpty else {
            let names = try await ReceivableQueries.orgNames(on: sql)
            throw LedgerError(.invalidCounterparty, "holders without an account on the \(route.rail.name) rail: \(missing.map { names[$0.description] ?? $0.description }.sorted().joined(separator: ", ")); they add one, or the piece is settled by hand")
        }
        let now = app.ledgerClock.nowMs(), number = try await ReceivableQueries.number(of: receivableId, on: sql)
        // A piece whose payment is on its way (or arrived) is not paid again; one whose last
        // payment failed or was returned is paid anew, as the next attempt (an id of its own).
        var payments: [Payment] = [], live: [String] = []
        for (t, holder, amount) in pieces {
            let earlier = try await PaymentStore.attempts(settling: t, on: sql)
            if let onItsWay = earlier.first(where: { !$0.isOver }) {
                live.append(onItsWay.id); continue
            }
            let subject = earlier.isEmpty ? t.description : "\(t)#\(earlier.count + 1)"
            payments.append(Payment(id: Payment.id(.settlement, paying: subject, to: holder), rail: route.rail.name, kind: .settlement, payerId: caller.orgId,
                                    payeeId: holder, amountFen: amount, subjectId: receivableId, tokenId: t, messageId: "", nowMs: now))
        }
        guard !payments.isEmpty else {
            var stored: [Payment] = []
            for id in live { if let found = try await PaymentStore.find(id, on: sql) { stored.append(found) } }
            return stored
        }
        if let ecny = route.rail as? EcnyRail {
            try await reserve(payments.map { BalanceHolds.Hold(paymentId: $0.id, kind: .settlement, subjectId: receivableId.description, amountFen: $0.amountFen) },
                              in: route.payer.account, on: ecny, for: "settlement", app: app)
        }
        try await send(PaymentBatch(payer: route.payer, payees: payees, payments: payments,
                                    remittance: Dictionary(uniqueKeysWithValues: payments.map { ($0.id, "Cascade \(number) \(reference)") }),
                                    executionDate: app.businessDate, nowMs: now), on: route.rail, app: app)
        var stored: [Payment] = []
        for id in live + payments.map(\.id) { if let found = try await PaymentStore.find(id, on: sql) { stored.append(found) } }
        return stored
    }

    /// Hands a stored instruction to its rail, notes when it went, and applies what the rail
    /// answered at once. Not reached (a timeout, a fault), it stays undelivered: the sweep hands
    /// it over again, and the rail, knowing the payments' ids, pays none twice.
    package static func deliver(_ messageId: String, rail: any PaymentRail, app: Application) async throws {
        guard let message = try await PaymentStore.outgoing(messageId, rail: rail.name, on: app.sql) else { return }
        let answered = try await PaymentStore.answered(in: messageId, rail: rail.name, on: app.sql)
        let answers: [RailEvent]
        do { answers = try await rail.deliver(message, answered: answered) } catch let partly as PartlyDelivered {
            // What the payments it took answered counts now; the rest waits for the sweep.
            _ = try await apply(partly.events, in: "the answer to \(messageId)", rail: rail, from: nil, app: app)
            throw partly
        }
        try await PaymentStore.delivered(messageId, rail: rail.name, nowMs: app.wallClock.nowMs(), on: app.sql)
        _ = try await apply(answers, in: "the answer to \(messageId)", rail: rail, from: nil, app: app)
    }

    /// `POST /payments/{id}/retry` by the payer: a failed or returned payout or early payment
    /// paid again. A settlement's piece is paid again by settling the receivable again.
    package static func retry(_ id: String, by viewer: Viewer, app: Application, address: String?) async throws -> Payment {
        try viewer.caller.requirePreparer()
        guard let p = try await PaymentStore.find(id, on: app.sql), p.payerId == viewer.orgId || p.payeeId == viewer.orgId || viewer.seesAll else {
            throw LedgerError(.notFound, "no such payment")
        }
        guard p.payerId == viewer.orgId else { throw LedgerError(.forbidden, "only the payer pays a payment again") }
        let again: Payment?
        switch p.kind {
        case .settlement: throw LedgerError(.tokenNotActive, "a settlement's piece is paid again by settling the receivable again")
        case .payout:
            guard let f = try await app.requireSequencer().read({ $0.financings[p.subjectId] }), f.status == .approved else {
                throw LedgerError(.financingNotOpen, "financing \(p.subjectId) is not waiting for its payout")
            }
            again = try await instructPayout(f, retry: true, app: app)
        case .earlyPayment:
            guard let e = try await app.requireSequencer().read({ $0.earlyPayments[p.subjectId] }), e.status == .approved else {
                throw LedgerError(.earlyPaymentNotOpen, "early payment \(p.subjectId) is not waiting for its payment")
            }
            again = try await instructEarlyPayment(e, retry: true, app: app)
        }
        guard let again else { throw LedgerError(.notFound, "the payer and the payee have no rail in common any more") }
        try await OnboardingService.audit(viewer, "payment.retry", viewer.orgId, "\(p.kind.rawValue) of \(p.subjectId) paid again as \(again.id) (after \(p.id), \(p.status.rawValue))", app: app, address: address)
        return again
    }

    /// After an approval: the payout goes out if the bank is connected. A failure here is not the
    /// approval's: it is logged, and the recovery sweep instructs it later.
    package static func approved(_ outcome: Outcome, app: Application) async {
        for f in outcome.financings where f.status == .approved {
            do { try await instructPayout(f, app: app) } catch {
                app.logger.warning("payout of financing \(f.id) not instructed yet (\(error)); the sweep will")
            }
        }
    }

    /// What a notification did, entry by entry.
    package struct Taken: Sendable {
        package var messageId: String
        package var entries: [JSON]
    }

    /// A notification from `bank` (posted, or read from the rail's inbox): each entry matched by
    /// end-to-end id to a payment whose payer's account that bank keeps. A settled payout is then
    /// recorded on the ledger (`confirmPayout` with the clearing reference). Entries that match
    /// nothing of the bank's, or whose amount differs, change nothing and say so.
    package static func take(_ bytes: [UInt8], rail: any PaymentRail, from bank: OrgID?, app: Application) async throws -> Taken {
        let (messageId, events) = try rail.events(in: bytes)
        try await PaymentStore.received(messageId, rail: rail.name, from: bank, body: String(decoding: bytes, as: UTF8.self), nowMs: app.ledgerClock.nowMs(), on: app.sql)
        return Taken(messageId: messageId, entries: try await apply(events, in: messageId, rail: rail, from: bank, app: app))
    }

    /// What a rail reported, payment by payment: matched by id to a payment of `bank`'s (any, for
    /// the rail's own link), for its amount, moved only forward; a settled one onto the ledger.
    package static func apply(_ events: [RailEvent], in messageId: String, rail: any PaymentRail, from bank: OrgID?, app: Application) async throws -> [JSON] {
        let now = app.ledgerClock.nowMs(), sql = app.sql
        var entries: [JSON] = []
        for e in events {
            var answer: [JSONKey: JSON] = ["endToEndId": .string(e.paymentId), "status": .string(e.status.rawValue), "amountFen": .int(e.amountFen)]
            guard let payment = try await PaymentStore.find(e.paymentId, on: sql), payment.rail == rail.name, try await keptBy(bank, payment, on: sql) else {
                answer["applied"] = false; answer["note"] = .string("no payment of this bank has this end-to-end id")
                entries.append(.object(answer)); continue
            }
            answer["paymentId"] = .string(payment.id)
            guard e.amountFen == payment.amountFen else {
                try await PaymentStore.note(payment.id, "notified \(Money.format(e.amountFen)) in \(messageId), not \(Money.format(payment.amountFen)): not applied", source: rail.name, nowMs: now, on: sql)
                answer["applied"] = false; answer["note"] = .string("the amount differs from the payment's \(payment.amountFen) fen")
                entries.append(.object(answer)); continue
            }
            let detail = "\(e.status.rawValue) in \(messageId)" + (e.reference.map { ", reference \($0)" } ?? "") + (e.reason.map { ", reason \($0)" } ?? "")
            let moved = try await PaymentStore.move(payment.id, to: e.status, reference: e.reference, reason: e.reason, source: rail.name, detail: detail, nowMs: now, on: try app.database())
            answer["applied"] = .bool(moved != nil)
            if moved == nil { answer["note"] = .string("the payment is \(payment.status.rawValue) already: nothing changed") }
            if let moved, moved.status == .settled { try await record(moved, app: app) }
            entries.append(.object(answer))
        }
        return entries
    }

    /// The bank keeps the payer's account: the payer itself (a bank paying out), or the account's agent.
    package static func keptBy(_ bank: OrgID?, _ p: Payment, on sql: any SQLDatabase) async throws -> Bool {
        guard let bank else { return true }  // read from the rail's own inbox: the link is the authentication
        if p.payerId == bank { return true }
        return try await PaymentAccounts.find(p.payerId, rail: p.rail, on: sql)?.agentOrgId == bank
    }

    /// A settled payment onto the ledger, signed as its payer: a payout's `confirmPayout`, an
    /// early payment's `confirmEarlyPayment`, a piece's `settle`, with the rail's reference. Refused (the bank confirmed it by hand meanwhile), the payment
    /// keeps the refusal in its history and shows on reconciliation.
    package static func record(_ p: Payment, app: Application) async throws {
        guard p.transactionId == nil, p.status == .settled else { return }
        let reference = String("RAIL-\(p.reference ?? p.id)".prefix(Limits.maxReferenceLength))
        let rail = Caller(userId: "rail:\(p.rail)", orgId: p.payerId, email: "rail:\(p.rail)", name: "\(p.rail) rail", userRole: .admin, viaAPIKey: true)
        let payload: Payload
        switch p.kind {
        case .payout: payload = .confirmPayout(financingId: p.subjectId, reference: reference)
        case .earlyPayment: payload = .confirmEarlyPayment(earlyPaymentId: p.subjectId, reference: reference)
        case .settlement:
            guard let token = p.tokenId else { return }
            payload = .settle(receivableId: p.subjectId, tokenIds: [token], reference: reference)
        }
        do {
            let outcome = try await LedgerService.submit(payload, by: rail, app: app)
            try await PaymentStore.recorded(p.id, as: outcome.effects.transactionId, on: app.sql)
            try await PaymentStore.note(p.id, "recorded on the ledger: \(payload.type.rawValue) \(outcome.effects.transactionId)", source: "platform", nowMs: app.ledgerClock.nowMs(), on: app.sql)
        } catch let error as LedgerError {
            try await PaymentStore.note(p.id, "the ledger refused \(payload.type.rawValue): \(error.message)", source: "platform", nowMs: app.ledgerClock.nowMs(), on: app.sql)
        }
    }

    /// Every rail's inbox folder, read by one task at a time (the short poll and the sweep may
    /// meet): each notification is taken once, then moved to `done/`.
    package static func readInboxes(_ app: Application) async throws {
        guard app.inboxReading.withLockedValue({ busy in defer { busy = true }; return !busy }) else { return }
        defer { app.inboxReading.withLockedValue { $0 = false } }
        for (name, rail) in app.rails { try await readInbox(rail, named: name, app: app) }
    }

    private static func readInbox(_ rail: any PaymentRail, named name: String, app: Application) async throws {
        guard let bank = rail as? BankTransferRail, let inbox = bank.inbox,
              let files = try? FileManager.default.contentsOfDirectory(atPath: inbox).filter({ $0.hasSuffix(".xml") }).sorted() else { return }
        let done = URL(fileURLWithPath: inbox).appendingPathComponent("done")
        try FileManager.default.createDirectory(at: done, withIntermediateDirectories: true)
        for file in files {
            let url = URL(fileURLWithPath: inbox).appendingPathComponent(file)
            let bytes = Array(try Data(contentsOf: url))
            do { _ = try await take(bytes, rail: rail, from: nil, app: app) } catch let error as LedgerError {
                app.logger.warning("rail \(name): \(file) refused: \(error.message)")
            }
            let target = done.appendingPathComponent(file)
            if FileManager.default.fileExists(atPath: target.path) { try FileManager.default.removeItem(at: target) }
            try FileManager.default.moveItem(at: url, to: target)
        }
    }

    /// The recovery sweep, at start-up and on a timer: instructions not yet handed to their rail,
    /// approved financings of connected banks with no payout, settled payments not yet on the
    /// ledger. Each step finds the same payment if it exists: nothing is instructed twice.
    package static func sweep(_ app: Application) async throws {
        let sql = app.sql
        for (name, rail) in app.rails {
            for id in try await PaymentStore.undelivered(on: name, on: sql) {
                // One rail out of reach does not hold up the rest of the sweep.
                do { try await deliver(id, rail: rail, app: app) } catch { app.logger.warning("rail \(name): message \(id) not delivered yet (\(error))") }
            }
        }
        guard !app.rails.isEmpty else { return }
        for f in try await PaymentStore.approvedWithoutPayout(on: sql) { try await instructPayout(f, app: app) }
        for e in try await EarlyPaymentQueries.approvedWithoutPayment(on: sql) { try await instructEarlyPayment(e, app: app) }
        try await readInboxes(app)
        // Payments on their way on a rail that can be asked: what became of them, eight questions
        // at a time (a settlement to thousands of holders left thousands on their way, asked one
        // after another for minutes).
        let onTheirWay = try await PaymentStore.onTheirWay(on: sql)
        for chunk in onTheirWay.chunked(EcnyRail.concurrentPayments) {
            let answers = await withTaskGroup(of: (any PaymentRail, RailEvent)?.self) { group in
                for p in chunk {
                    group.addTask {
                        guard let rail = app.rails[p.rail], let event = try? await rail.status(of: p) else { return nil }
                        return (rail, event)
                    }
                }
                return await group.reduce(into: [(any PaymentRail, RailEvent)]()) { if let answer = $1 { $0.append(answer) } }
            }
            for (rail, event) in answers { _ = try await apply([event], in: "a status query", rail: rail, from: nil, app: app) }
        }
        for p in try await PaymentStore.settledNotRecorded(on: sql) { try await record(p, app: app) }
        // Reservations whose operation never went ahead, five minutes on.
        let released = try await BalanceHolds.releaseAbandoned(before: app.wallClock.nowMs() - 300_000, on: sql)
        if released > 0 { app.logger.notice("payments sweep: \(released) balance reservation(s) with no payment behind them released") }
    }
}

extension Application {
    private struct WalletChecksKey: StorageKey { typealias Value = TakingTurns }

    /// Balance checks of one wallet take turns. Set up once, in `configure`, before any request.
    package var walletChecks: TakingTurns {
        get { storage[WalletChecksKey.self]! }
        set { storage[WalletChecksKey.self] = newValue }
    }

    private struct InboxReadingKey: StorageKey { typealias Value = NIOLockedValueBox<Bool> }

    /// Whether a task is reading the rails' inboxes now. Set up once, in `configure`, before any
    /// request: a box made afresh on each read would guard nothing.
    package var inboxReading: NIOLockedValueBox<Bool> {
        get { storage[InboxReadingKey.self]! }
        set { storage[InboxReadingKey.self] = newValue }
    }
}
