import Crypto
import Foundation
import NIOConcurrencyHelpers
import Ledger
import SQLKit
import Testing
import VaporTesting

@testable import Core
@testable import Web
@testable import Commands

/// The demo consortium of SPEC §7 on a fresh database, seeded through the service layer as
/// `cascade demo` does, on a clock the test moves; an API key for each demo user (the checkers'
/// as `bank-checker` and `core-checker`). Unless `fourEyes`, no operation waits for a checker:
/// the tests of the ledger's rules act alone, and the maker-checker tests ask for the demo's rules.
/// Unless `compliance`, the policy is set back to format 1's once seeded (no 中登网 filing, term
/// review or default check): the tests of 77号's rules ask for them.
struct DemoPlatform: Sendable {
    let app: Application
    let clock: FakeClock
    let keys: [String: String]
    let orgs: [String: OrgID]
    /// What must stop before the platform does (fakes of the outside world calling into it).
    let teardown = Teardown()

    final class Teardown: Sendable {
        private let steps = NIOLockedValueBox<[@Sendable () async -> Void]>([])
        func add(_ step: @escaping @Sendable () async -> Void) { steps.withLockedValue { $0.append(step) } }
        func run() async {
            for step in steps.withLockedValue({ all in defer { all = [] }; return all }).reversed() { await step() }
        }
    }

    /// `earlyPayment`: 华东重工集团's program and 常州五金加工's offer stay as seeded; otherwise the
    /// offer is withdrawn and the program removed, and the tests of other rules see neither.
    /// `profile`: the crypto profile the demo's chain is created in.
    static func with(ownDatabase: Bool = false, fourEyes: Bool = false, compliance: Bool = false, earlyPayment: Bool = false,
                     profile: CryptoProfile = .standard, _ body: (DemoPlatform) async throws -> Void) async throws {
        try await TestDatabase.with(ownDatabase: ownDatabase) { app in
            try await configure(app)
            let clock = FakeClock("2026-09-01")
            app.ledgerClock = AdjustableClock(base: clock)
            app.wallClock = clock
            app.keyVault = KeyVault(masterKey: SymmetricKey(size: .bits256))
            let sealer = Platform.SealerBox()
            app.sequencer = try await Sequencer.load(store: try await TestDatabase.writerStore(app), sealer: { sealer.get() }, clock: app.ledgerClock,
                                                     reconnect: TestDatabase.reconnect(app))
            app.keyVault!.profile = try await app.sequencer!.settleProfile(profile)
            app.transactionLog = try await TransactionLog.load(vault: app.keyVault!, origin: "cascade.test/ledger", on: app.sql, nowMs: 0)
            try await DemoSeed.seed(app, sealer: sealer)
            var keys: [String: String] = [:], orgs: [String: OrgID] = [:]
            let accounts = Accounts(sql: app.sql)
            for m in DemoSeed.members {
                let row = try await app.sql.raw("SELECT id, org_id, email, name, role FROM users WHERE email = \(bind: m.email)").first()!
                let caller = try Accounts.caller(row, viaAPIKey: false)
                orgs[m.key] = caller.orgId
                keys[m.key] = try await accounts.createAPIKey(for: caller, name: "tests", nowMs: 0).secret
            }
            for c in DemoSeed.checkers {
                let row = try await app.sql.raw("SELECT id, org_id, email, name, role FROM users WHERE email = \(bind: c.email)").first()!
                keys["\(c.key)-checker"] = try await accounts.createAPIKey(for: try Accounts.caller(row, viaAPIKey: false), name: "tests", nowMs: 0).secret
            }
            if !fourEyes { try await app.sql.raw("DELETE FROM approval_rules").run() }
            if !earlyPayment {
                let tier3 = try await app.sql.raw("SELECT id, org_id, email, name, role FROM users WHERE email = 'tier3@cascade.demo'").first()!
                for row in try await app.sql.raw("SELECT id FROM early_payments WHERE status = 'requested'").all() {
                    let id = TxID(try row.decode(column: "id", as: String.self))!
                    _ = try await LedgerService.submit(.cancelEarlyPayment(earlyPaymentId: id), by: try Accounts.caller(tier3, viaAPIKey: false), app: app)
                }
                try await app.sql.raw("DELETE FROM early_payment_programs").run()
            }
            if !compliance {
                let op = try await app.sql.raw("SELECT id, org_id, email, name, role FROM users WHERE email = 'operator@cascade.demo'").first()!
                _ = try await LedgerService.submit(.setPolicy(Policy()), by: try Accounts.caller(op, viaAPIKey: false), app: app)
            }
            let platform = DemoPlatform(app: app, clock: clock, keys: keys, orgs: orgs)
            do {
                try await body(platform)
            } catch {
                await platform.teardown.run()
                throw error
            }
            await platform.teardown.run()
        }
    }

    struct Answer {
        var status: HTTPResponseStatus
        var headers: HTTPHeaders
        var json: JSON
        /// The body as text, whatever its type (an XML document, a CSV).
        var text = ""
        var code: String? { json["code"]?.stringValue }
        subscript(key: String) -> JSON? { json[key] }
        var items: [JSON] {
            guard case .array(let items)? = json["items"] else { return [] }
            return items
        }
    }

    /// One request as `who` (a demo org's key; nil for none), with a JSON body given as text.
    @discardableResult
    func call(_ who: String?, _ method: HTTPMethod, _ path: String, _ body: String? = nil, headers extra: [String: String] = [:]) async throws -> Answer {
        var headers = HTTPHeaders()
        if let who { headers.add(name: .authorization, value: "Bearer \(keys[who]!)") }
        if body != nil { headers.contentType = .json }
        for (k, v) in extra { headers.replaceOrAdd(name: k, value: v) }
        var answer: Answer?
        try await app.testing().test(method, path, headers: headers, body: body.map { ByteBuffer(string: $0) }) { res in
            answer = Answer(status: res.status, headers: res.headers, json: (try? JSON.parse(Array(res.body.readableBytesView))) ?? .null, text: String(buffer: res.body))
        }
        return answer!
    }

    /// A document upload's multipart body and its content type: `kind`, the file, and a number.
    static func uploadBody(_ content: String, kind: String = "contract", number: String? = nil) -> (body: String, contentType: String) {
        let boundary = "cascade-boundary"
        var body = "--\(boundary)\r\nContent-Disposition: form-data; name=\"kind\"\r\n\r\n\(kind)\r\n"
        if let number { body += "--\(boundary)\r\nContent-Disposition: form-data; name=\"number\"\r\n\r\n\(number)\r\n" }
        body += "--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"contract.txt\"\r\nContent-Type: text/plain\r\n\r\n\(content)\r\n--\(boundary)--\r\n"
        return (body, "multipart/form-data; boundary=\(boundary)")
    }

    /// Uploads `content` as `who`.
    func upload(_ who: String, _ content: String) async throws -> Answer {
        let (body, type) = Self.uploadBody(content)
        return try await call(who, .POST, "/api/v1/documents", body, headers: ["Content-Type": type])
    }

    /// Every projection agrees with a replay of the stored chain, which verifies.
    func chainAgrees() async throws -> Bool {
        let store = LedgerStore(db: app.db)
        let replayed = try ChainReplayer.verify(export: try await store.exportAll(), parallelism: 2).get()
        let problems = try await store.projectionProblems(against: replayed.state)
        if !problems.isEmpty { Issue.record("projections differ: \(problems.prefix(5))") }
        return problems.isEmpty
    }

    var height: Int64 { get async { await app.sequencer!.height } }
}
