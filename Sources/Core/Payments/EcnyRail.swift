import Crypto
import Foundation
import Ledger
import class Vapor.Application
import typealias Vapor.HTTPStatus
import struct Vapor.URI
import NIOHTTP1
import NIOCore
import protocol Vapor.StorageKey

/// The e-CNY (数字人民币) rail: each payment one request to the operating institution's corporate
/// wallet service, from the payer's wallet to the payee's, sealed and signed (`WalletWire`); the
/// service answers at once (accepted, or failed with its reason) and calls back when the money
/// has moved. `CASCADE_ECNY_URL`, `CASCADE_ECNY_KEY` (the onboarding secret, base64),
/// `CASCADE_ECNY_CALLBACK_KEY` (the service's Ed25519 public key, base64) and
/// `CASCADE_ECNY_CALLBACK_URL` (where the service calls back: this server's
/// `/api/v1/rails/ecny/callbacks`) connect it.
package struct EcnyRail: PaymentRail {
    /// How a request reaches the service and its answer comes back.
    package typealias Transport = @Sendable (_ method: HTTPMethod, _ path: String, _ headers: HTTPHeaders, _ body: [UInt8]) async throws -> (HTTPStatus, HTTPHeaders, [UInt8])

    package let wire: WalletWire
    /// The wallet service's Ed25519 public key, raw: callbacks are checked against it.
    package let callbackKey: [UInt8]
    package let callbackURL: String?
    package let transport: Transport
    package let clock: @Sendable () -> Int64
    /// From this payout the approving person's second factor is asked too
    /// (`CASCADE_ECNY_SECOND_FACTOR_FROM_FEN`); nil: never.
    package var secondFactorFromFen: Int64?

    package var name: String { "ecny" }

    package static func fromEnvironment(_ app: Application) -> EcnyRail? {
        let env = ProcessInfo.processInfo.environment
        guard let base = env["CASCADE_ECNY_URL"], let wire = env["CASCADE_ECNY_KEY"].flatMap(WalletWire.init(base64:)),
              let key = env["CASCADE_ECNY_CALLBACK_KEY"].flatMap(Base64.decode), key.count == 32 else { return nil }
        return over(app, base: base, wire: wire, callbackKey: key, callbackURL: env["CASCADE_ECNY_CALLBACK_URL"],
                    secondFactorFromFen: env["CASCADE_ECNY_SECOND_FACTOR_FROM_FEN"].flatMap(Int64.init))
    }

    /// The rail over HTTP to the wallet service at `base`.
    package static func over(_ app: Application, base: String, wire: WalletWire, callbackKey: [UInt8], callbackURL: String?, secondFactorFromFen: Int64?) -> EcnyRail {
        let root = base.hasSuffix("/") ? String(base.dropLast()) : base
        let client = app.client
        return EcnyRail(wire: wire, callbackKey: callbackKey, callbackURL: callbackURL, transport: { method, path, headers, body in
            let response = try await client.send(method, headers: headers, to: URI(string: root + path)) { req in
                if !body.isEmpty { req.body = ByteBuffer(bytes: body) }
                req.timeout = .seconds(5)
            }
            return (response.status, response.headers, response.body.map { Array($0.readableBytesView) } ?? [])
        }, clock: { Int64(Date().timeIntervalSince1970 * 1000) }, secondFactorFromFen: secondFactorFromFen)
    }

    /// Raised when the service cannot be reached or answers unsigned: what became of the request
    /// is not known, and asking again (the same payment id) is how to learn it.
    package struct Unreachable: Error, CustomStringConvertible {
        package var description: String
        package init(description: String) { self.description = description }
    }

    /// One signed, sealed request; the answer opened, its signature checked.
    package func call(_ method: HTTPMethod, _ path: String, _ message: JSON?) async throws -> (HTTPStatus, JSON) {
        let body = try message.map(wire.seal) ?? []
        let now = clock()
        var headers = HTTPHeaders()
        headers.contentType = .json
        headers.replaceOrAdd(name: "X-Wallet-Timestamp", value: String(now))
        headers.replaceOrAdd(name: "X-Wallet-Signature", value: wire.signature(method.rawValue, path, timestamp: now, body: body))
        let (status, answerHeaders, answer) = try await transport(method, path, headers, body)
        guard wire.verify("ANSWER", path, timestamp: answerHeaders.first(name: "X-Wallet-Timestamp"), signature: answerHeaders.first(name: "X-Wallet-Signature"),
                          body: answer, nowMs: clock()), let opened = wire.open(answer) else {
            throw Unreachable(description: "the wallet service's answer to \(method) \(path) (\(status.code)) is not signed and sealed under the onboarding key")
        }
        return (status, opened)
    }

    package func message(for batch: PaymentBatch) throws -> RailMessage {
        let items: [JSON] = try batch.payments.map { p in
            guard let payee = batch.payees[p.payeeId] else { throw StoreDamage("payee wallet of \(p.id)") }
            return ["paymentId": .string(p.id), "payer": .string(batch.payer.account), "payee": .string(payee.account), "amountFen": .int(p.amountFen)]
        }
        return RailMessage(id: batch.messageId, rail: name, kind: "ecny.payments", orgId: batch.payer.orgId, body: JSON.array(items).canonicalString, createdMs: batch.nowMs)
    }

    /// How many of a message's payments are asked of the service at once.
    package static let concurrentPayments = 8

    /// Every payment of the message not `answered` before, up to `concurrentPayments` at a time:
    /// one the service refuses or does not answer in time does not hold up the rest, and the
    /// message as a whole stays to be handed over again (`PartlyDelivered`), with what the others
    /// answered. Handed over again, it asks only for those still unanswered: a message of
    /// hundreds of payments, each refused now and then, asked whole every time, was never done.
    package func deliver(_ message: RailMessage, answered: Set<String>) async throws -> [RailEvent] {
        guard case .array(let items) = try JSON.parse(Array(message.body.utf8)) else { throw StoreDamage("ecny message \(message.id)") }
        let payments: [JSON] = try items.compactMap { plain in
            guard case .object(var fields) = plain, let id = fields["paymentId"]?.stringValue else { throw StoreDamage("ecny message \(message.id)") }
            if answered.contains(id) { return nil }
            if let callbackURL { fields["callbackUrl"] = .string(callbackURL) }
            return .object(fields)
        }
        var events: [RailEvent] = [], missed: [String] = []
        await withTaskGroup(of: Result<RailEvent?, Unreachable>.self) { group in
            var next = payments.makeIterator()
            func ask(_ item: JSON) {
                group.addTask {
                    let id = item["paymentId"]?.stringValue ?? ""
                    do {
                        let (status, answer) = try await call(.POST, "/v1/payments", item)
                        guard status == .ok else { return .failure(Unreachable(description: "\(id): the wallet service answered \(status.code)")) }
                        return .success(Self.event(answer))
                    } catch {
                        return .failure(Unreachable(description: "\(id): \(error)"))
                    }
                }
            }
            for _ in 0..<Self.concurrentPayments { if let item = next.next() { ask(item) } }
            for await answer in group {
                switch answer {
                case .success(let event): if let event { events.append(event) }
                case .failure(let failure): missed.append(failure.description)
                }
                if let item = next.next() { ask(item) }
            }
        }
        guard missed.isEmpty else { throw PartlyDelivered(events: events, missed: missed) }
        return events
    }

    package func status(of payment: Payment) async throws -> RailEvent? {
        let (status, answer) = try await call(.GET, "/v1/payments/\(payment.id)", nil)
        if status == .notFound { return nil }
        guard status == .ok else { throw Unreachable(description: "the wallet service answered \(status.code) for payment \(payment.id)") }
        return Self.event(answer)
    }

    /// The payer's balance on its wallet, in fen.
    package func balance(of wallet: String) async throws -> Int64? {
        let (status, answer) = try await call(.GET, "/v1/wallets/\(wallet)", nil)
        if status == .notFound { return nil }
        guard status == .ok, case .int(let fen)? = answer["balanceFen"] else {
            throw Unreachable(description: "the wallet service answered \(status.code) for wallet \(wallet)")
        }
        return fen
    }

    /// A callback, with its headers folded in front of the body by the route (`timestamp\nsignature\nbody`).
    package func events(in notification: [UInt8]) throws -> (messageId: String, events: [RailEvent]) {
        guard let a = notification.firstIndex(of: 0x0A), let b = notification[(a + 1)...].firstIndex(of: 0x0A),
              let timestamp = Int64(String(decoding: notification[..<a], as: UTF8.self)),
              let signature = Base64.decode(String(decoding: notification[(a + 1)..<b], as: UTF8.self)) else {
            throw LedgerError.invalid("callback", "has no X-Wallet-Timestamp and X-Wallet-Signature")
        }
        let body = Array(notification[(b + 1)...])
        guard abs(clock() - timestamp) <= WalletWire.maxSkewMs, let key = try? Curve25519.Signing.PublicKey(rawRepresentation: callbackKey),
              key.isValidSignature(signature, for: WalletWire.callbackMaterial(timestamp: timestamp, body: body)) else {
            throw LedgerError(.unauthorized, "the callback's signature does not verify under the wallet service's key")
        }
        guard let message = wire.open(body), let event = Self.event(message) else { throw LedgerError.invalid("callback", "does not open under the onboarding key") }
        return ("callback \(timestamp)", [event])
    }

    package static func event(_ m: JSON) -> RailEvent? {
        guard let id = m["paymentId"]?.stringValue, case .int(let amount)? = m["amountFen"], let text = m["status"]?.stringValue else { return nil }
        let status: PaymentStatus
        switch text {
        case "accepted": status = .accepted
        case "settled": status = .settled
        case "failed": status = .failed
        default: return nil
        }
        return RailEvent(paymentId: id, status: status, amountFen: amount, reference: m["reference"]?.stringValue, reason: m["reason"]?.stringValue)
    }
}
