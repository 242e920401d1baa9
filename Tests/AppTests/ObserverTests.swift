import Foundation
import Ledger
import SQLKit
import Testing
import VaporTesting

@testable import Core
@testable import Web
@testable import Commands

/// Two nodes on loopback: the demo writer, and an observer with its own database following it
/// over HTTP. They converge; then the writer serves a forged block, or a rewritten one, and the
/// observer catches it and keeps its verified copy.
@Suite struct ObserverTests {
    static func twoNodes(profile: CryptoProfile = .standard, _ body: (DemoPlatform, Application, Follower) async throws -> Void) async throws {
        try await DemoPlatform.with(profile: profile) { d in
            let port = 21_000 + Int.random(in: 0..<4_000)
            try await d.app.server.start(address: .hostname("127.0.0.1", port: port))
            do {
                try await TestDatabase.with { observer in
                    try await configure(observer)
                    let follower = try await Follower.load(app: observer, upstream: "http://127.0.0.1:\(port)", token: d.keys["regulator"]!)
                    observer.follower = follower
                    try await body(d, observer, follower)
                }
            } catch {
                await d.app.server.shutdown()
                throw error
            }
            await d.app.server.shutdown()
        }
    }

    static func status(_ app: Application) async throws -> JSON {
        var json: JSON = .null
        try await app.testing().test(.GET, "/api/v1/node/status") { res in json = (try? JSON.parse(Array(res.body.readableBytesView))) ?? .null }
        return json
    }

    /// The observer's tables hold exactly what a replay of its own stored chain implies.
    static func agrees(_ app: Application) async throws -> (height: Int64, problems: [String]) {
        let store = LedgerStore(db: app.db)
        let replayed = try ChainReplayer.verify(export: try await store.exportAll(), parallelism: 2).get()
        return (replayed.height, try await store.projectionProblems(against: replayed.state))
    }

    @Test func anObserverConvergesAndRefusesEveryWrite() async throws {
        try await Self.twoNodes { d, observer, follower in
            let upstreamHeight = await d.height
            #expect(try await follower.poll() == Int(upstreamHeight) + 1)
            #expect(try await Self.agrees(observer) == (upstreamHeight, []))
            let status = try await Self.status(observer)
            #expect(status["role"] == .string("observer") && status["height"] == .int(upstreamHeight) && status["state"] == .string("following"))
            #expect(try await Self.status(d.app)["role"] == .string("writer"))
            // The writer moves on; the observer follows.
            let token = try await d.call("tier1", .GET, "/api/v1/tokens?status=active").items.first { $0["amountFen"] == .int(600_000_00) }!["id"]!.stringValue!
            #expect(try await d.call("tier1", .POST, "/api/v1/tokens/\(token)/transfer", #"{"toOrgId":"\#(d.orgs["tier2"]!)","amountFen":100}"#).status == .created)
            #expect(try await follower.poll() == 1)
            #expect(try await follower.poll() == 0)
            #expect(try await Self.agrees(observer).height == upstreamHeight + 1)
            // Its read API answers from its own copy; every write is refused.
            let regulator = try #require(try await observer.sql.raw("SELECT id FROM orgs WHERE role = 'regulator'").first()?.decode(column: "id", as: String.self))
            let user = try await Accounts(sql: observer.sql).createUser(org: OrgID(regulator)!, email: "watch@observer.example", name: "watch", role: .admin, password: "x", nowMs: 0)
            let key = try await Accounts(sql: observer.sql).createAPIKey(for: Caller(userId: user, orgId: OrgID(regulator)!, email: "watch@observer.example", name: "w", userRole: .admin, viaAPIKey: false),
                                                                          name: "t", nowMs: 0).secret
            try await observer.testing().test(.GET, "/api/v1/tokens/\(token)", headers: ["Authorization": "Bearer \(key)"]) { res in
                #expect(res.status == .ok && String(buffer: res.body).contains("\"status\":\"spent\""))
            }
            for (method, path) in [(HTTPMethod.POST, "/api/v1/tokens/\(token)/accept"), (.POST, "/api/v1/transactions"), (.PUT, "/api/v1/policy"), (.POST, "/api/v1/api-keys")] {
                try await observer.testing().test(method, path, headers: ["Authorization": "Bearer \(key)", "Content-Type": "application/json"], body: ByteBuffer(string: "{}")) { res in
                    #expect(res.status == .forbidden, "\(method) \(path)")
                }
            }
        }
    }

    /// Early payments reach an observer as every other row: offered, taken, paid; its tables agree
    /// with its own replay, and it takes no offer or clearing itself.
    @Test func anObserverFollowsEarlyPayments() async throws {
        try await Self.twoNodes { d, observer, follower in
            _ = try await follower.poll()
            #expect(try await d.call("core", .PUT, "/api/v1/orgs/\(d.orgs["core"]!)/early-payment-program",
                                     #"{"active":true,"hurdleBps":600,"dailyBudgetFen":50000000,"cutoffTime":"15:00"}"#).status == .ok)
            let token = try await EarlyPaymentTests.token(d)
            let id = try await EarlyPaymentTests.offer(d, token, rate: 800)["id"]!.stringValue!
            #expect(try await d.call("core", .POST, "/api/v1/early-payments/clear")["approved"]?.arrayValue?.count == 1)
            #expect(try await d.call("core", .POST, "/api/v1/early-payments/\(id)/confirm", #"{"reference":"HAND-OBS-1"}"#).status == .ok)
            #expect(try await follower.poll() > 0)
            let (height, problems) = try await Self.agrees(observer)
            #expect(height == (await d.height) && problems.isEmpty, "\(problems)")
            let row = try #require(try await observer.sql.raw("SELECT status, reference FROM early_payments WHERE id = \(bind: id)").first())
            #expect(try row.decode(column: "status", as: String.self) == "paid" && row.decode(column: "reference", as: String.self) == "HAND-OBS-1")
            for path in ["/api/v1/early-payments", "/api/v1/early-payments/clear", "/api/v1/early-payments/\(id)/approve"] {
                try await observer.testing().test(.POST, path, headers: ["Content-Type": "application/json"], body: ByteBuffer(string: "{}")) { res in
                    #expect(res.status.code >= 400 && res.status.code < 500, "\(path): \(res.status)")
                }
            }
        }
    }

    @Test func anObserverStartsFromItsOwnSnapshot() async throws {
        try await Self.twoNodes { d, observer, follower in
            _ = try await follower.poll()
            try await follower.writeSnapshot()
            let at = await follower.height
            let token = try await d.call("tier1", .GET, "/api/v1/tokens?status=active").items.first { $0["amountFen"] == .int(600_000_00) }!["id"]!.stringValue!
            #expect(try await d.call("tier1", .POST, "/api/v1/tokens/\(token)/transfer", #"{"toOrgId":"\#(d.orgs["tier2"]!)","amountFen":100}"#).status == .created)
            let restarted = try await Follower.load(app: observer, upstream: follower.upstream, token: follower.token)
            #expect(await restarted.start == "from the snapshot at block \(at), then 0 block(s)")
            #expect(try await restarted.poll() == 1)
            #expect(try await Self.agrees(observer) == (at + 1, []))
            // Its snapshot damaged, it says so and replays what it holds.
            try await observer.sql.raw("UPDATE snapshots SET state_hash = \(bind: String(repeating: "0", count: 64))").run()
            let again = try await Follower.load(app: observer, upstream: follower.upstream, token: follower.token)
            #expect(await again.start.hasSuffix("because the snapshot at block \(at) is refused: its bytes do not hash to the stored state hash"))
            #expect(await again.height == at + 1)
        }
    }

    @Test func aForgedBlockHaltsTheObserverWhichKeepsItsVerifiedCopy() async throws {
        try await Self.twoNodes { d, observer, follower in
            _ = try await follower.poll()
            let verified = await d.height
            // A new block on the writer, then forged where it is stored: the amount of its transfer changed.
            let token = try await d.call("tier1", .GET, "/api/v1/tokens?status=active").items.first { $0["amountFen"] == .int(600_000_00) }!["id"]!.stringValue!
            #expect(try await d.call("tier1", .POST, "/api/v1/tokens/\(token)/transfer", #"{"toOrgId":"\#(d.orgs["tier2"]!)","amountFen":100}"#).status == .created)
            try await d.app.sql.raw("UPDATE transactions SET body = REPLACE(body, '\"amountFen\":100,', '\"amountFen\":100000,') WHERE block_height = \(bind: verified + 1)").run()
            #expect(try await follower.poll() == 0)
            let status = try await Self.status(observer)
            #expect(status["state"] == .string("halted") && status["height"] == .int(verified))
            #expect(status["problem"]?.stringValue?.contains("does not verify") == true, "\(status)")
            #expect(try await Self.agrees(observer) == (verified, []))
            // Halted, it stays halted: nothing more is taken from that upstream.
            #expect(try await follower.poll() == 0)
        }
    }

    /// A block the observer's own database does not take (here its table is gone for a while)
    /// is put back from the undo record: the observer stays where its stored chain ends, its state
    /// exactly what a replay of that chain gives, and takes the block at its next poll.
    @Test func aBlockItsDatabaseDoesNotTakeIsPutBackAndTakenAtTheNextPoll() async throws {
        try await Self.twoNodes { d, observer, follower in
            _ = try await follower.poll()
            let verified = await d.height
            let token = try await d.call("tier1", .GET, "/api/v1/tokens?status=active").items.first { $0["amountFen"] == .int(600_000_00) }!["id"]!.stringValue!
            #expect(try await d.call("tier1", .POST, "/api/v1/tokens/\(token)/split", #"{"amountsFen":[100,59999900]}"#).status == .created)
            try await observer.sql.raw("ALTER TABLE blocks RENAME TO blocks_away").run()
            await #expect(throws: (any Error).self) { try await follower.poll() }
            try await observer.sql.raw("ALTER TABLE blocks_away RENAME TO blocks").run()
            #expect(await follower.height == verified)
            let replayed = try ChainReplayer.verify(export: try await LedgerStore(db: observer.db).exportAll(), parallelism: 2).get()
            #expect(await follower.replayer.state.snapshotJSON == replayed.state.snapshotJSON)
            #expect(try await follower.poll() > 0)
            #expect(await follower.height == (await d.height))
            #expect(try await Self.agrees(observer) == (await d.height, []))
        }
    }

    @Test func aRewrittenHistoryHaltsTheObserver() async throws {
        try await Self.twoNodes { d, observer, follower in
            _ = try await follower.poll()
            let verified = await d.height
            // The operator re-seals its last block differently: same height, another hash.
            try await d.app.sql.raw("UPDATE blocks SET hash = \(bind: String(repeating: "e", count: 64)) WHERE height = \(bind: verified)").run()
            #expect(try await follower.poll() == 0)
            let status = try await Self.status(observer)
            #expect(status["state"] == .string("halted") && status["problem"]?.stringValue?.contains("rewritten history") == true, "\(status)")
            #expect(try await Self.agrees(observer) == (verified, []))
        }
    }
}

/// "Verify my receipt": a supplier's proof, checked by anyone without trusting the database.
@Suite struct ReceiptTests {
    @Test func aPastedProofIsCheckedAndATamperedOneIsNot() async throws {
        try await DemoPlatform.with { d in
            let token = try await d.call("tier1", .GET, "/api/v1/tokens?status=active").items.first { $0["amountFen"] == .int(600_000_00) }!["id"]!.stringValue!
            let paid = try await d.call("tier1", .POST, "/api/v1/tokens/\(token)/transfer", #"{"toOrgId":"\#(d.orgs["tier2"]!)","amountFen":100}"#)
            let proof = try await d.call("tier1", .GET, "/api/v1/transactions/\(paid["transactionId"]!.stringValue!)/proof").json
            func check(_ text: String) async throws -> String { try await Self.check(d, text) }
            let good = try await check(proof.canonicalString)
            #expect(good.contains("The proof holds") && good.contains("<p class=\"notice\" id=\"receipt-chain\">"))
            guard case .object(var fields) = proof else { Issue.record("no proof"); return }
            fields["transactionId"] = .string(String(repeating: "0", count: 64))
            let forged = try await check(JSON.object(fields).canonicalString)
            #expect(forged.contains("does not lead to the block") && forged.contains("The proof does not hold"))
            #expect(try await check("not json").contains("The proof cannot be read"))
        }
    }

    /// The console's `/receipt` page's answer to a pasted proof, in English.
    static func check(_ d: DemoPlatform, _ text: String) async throws -> String {
        var pre = ""
        try await d.app.testing().test(.GET, "/receipt") { res in pre = res.headers.setCookie?[ConsoleSession.preCookie]?.string ?? "" }
        var html = ""
        let body = "_csrf=\(pre)&proof=\(text.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)"
        try await d.app.testing().test(.POST, "/receipt", headers: ["Content-Type": "application/x-www-form-urlencoded", "Cookie": "\(ConsoleSession.preCookie)=\(pre); lang=en"],
                                       body: ByteBuffer(string: body)) { res in html = String(buffer: res.body) }
        return html
    }
}

extension ObserverTests {
    @Test func aTransactionEditedUnderAnUnchangedHeaderIsARewrite() async throws {
        try await Self.twoNodes { d, observer, follower in
            _ = try await follower.poll()
            let verified = await d.height
            try await d.app.sql.raw("UPDATE transactions SET signature = \(bind: Base64.encode([UInt8](repeating: 7, count: 64))) WHERE block_height = \(bind: verified)").run()
            #expect(try await follower.poll() == 0)
            let status = try await Self.status(observer)
            #expect(status["state"] == .string("halted") && status["problem"]?.stringValue?.contains("different contents") == true, "\(status)")
        }
    }
}

/// The regulator's verification runs in the background, shows how far it got, and names the
/// first problem.
@Suite struct BackgroundVerificationTests {
    @Test func aLongVerificationReportsProgressAndTheFirstProblem() async throws {
        try await DemoPlatform.with { d in
            let verification = d.app.chainVerification
            try await verification.start(d.app, by: "test")
            await verification.wait()
            var p = await verification.current
            let height = await d.height
            #expect(!p.running && p.result?.ok == true && p.blocksDone == p.blocksTotal && p.blocksTotal == height + 1)
            // A transaction edited where it is stored: the run names it.
            let tx = try await d.app.sql.raw("SELECT id FROM transactions WHERE block_height = 5").first()!.decode(column: "id", as: String.self)
            try await d.app.sql.raw("UPDATE transactions SET body = REPLACE(body, '\"nonce\":\"', '\"nonce\":\"x') WHERE id = \(bind: tx)").run()
            try await verification.start(d.app, by: "test")
            await verification.wait()
            p = await verification.current
            #expect(p.result?.ok == false && p.result?.problems.first?.contains(String(tx.prefix(8))) == true, "\(String(describing: p.result))")
            let s = try await ConsoleTests.session(d, "regulator")
            let page = try await ConsoleTests.get(d, s, "/chain")
            #expect(page.html.contains("id=\"verify-result\"") && page.html.contains(String(tx.prefix(8))))
        }
    }
}

@Suite struct ExposureTests {
    @Test func anOrgsExposureByCoreAndBank() async throws {
        try await DemoPlatform.with { d in
            let tier1 = d.orgs["tier1"]!.description, core = d.orgs["core"]!.description, bank = d.orgs["bank"]!.description
            let core2 = d.orgs["core2"]!.description, bank2 = d.orgs["bank2"]!.description
            let e = try await d.call("regulator", .GET, "/api/v1/orgs/\(tier1)/exposure")
            // The demo: tier 1 keeps ¥600,000 of the first receivable and ¥220,000 of the second, and has the
            // third, ¥250,000, offered to it, all owed by 华东重工集团; and ¥120,000 overdue at 苏南机电集团.
            let holdings = e["holdings"]!.arrayValue!
            #expect(holdings.count == 2 && holdings.contains { $0["coreId"] == .string(core) && $0["outstandingFen"] == .int(1_070_000_00) }
                    && holdings.contains { $0["coreId"] == .string(core2) && $0["outstandingFen"] == .int(120_000_00) })
            // It financed ¥200,000 without recourse at 江南商业银行 and the 200-day ¥2,000,000 with recourse at
            // 沪上保理: that one is its contingent liability until the core enterprise pays the bank.
            let financed = e["financedAsSupplier"]!.arrayValue!
            #expect(financed.count == 2 && financed.contains { $0["bankId"] == .string(bank) && $0["amountFen"] == .int(200_000_00) && $0["withRecourseFen"] == .int(0) }
                    && financed.contains { $0["bankId"] == .string(bank2) && $0["withRecourseFen"] == .int(2_000_000_00) && $0["withoutRecourseFen"] == .int(0) })
            #expect(e["contingentFen"] == .int(2_000_000_00))
            let atBank = try await d.call("regulator", .GET, "/api/v1/orgs/\(bank)/exposure")
            #expect(atBank["financedAsBank"]!.arrayValue![0]["supplierId"] == .string(tier1) && atBank["financedAsBank"]!.arrayValue![0]["withoutRecourseFen"] == .int(200_000_00))
            #expect(try await d.call("regulator", .GET, "/api/v1/orgs/\(core)/exposure")["issuedOutstandingFen"] == .int(3_750_000_00))
            let page = try await ConsoleTests.get(d, try await ConsoleTests.session(d, "regulator"), "/orgs/\(tier1)/exposure").html
            #expect(page.contains("id=\"exposure-contingent\"") && page.contains("¥2,000,000.00"))
            #expect(try await d.call("tier1", .GET, "/api/v1/orgs/\(tier1)/exposure").status == .ok)
            #expect(try await d.call("tier2", .GET, "/api/v1/orgs/\(tier1)/exposure").code == "forbidden")
            // Totals by core enterprise, and financing cost by bank and tier.
            let stats = try await d.call("regulator", .GET, "/api/v1/stats")
            #expect(stats["byCore"]?.arrayValue?.contains { $0["coreId"] == .string(core) && $0["outstandingFen"] == .int(3_750_000_00) } == true)
            let cost = try #require(stats["financingCost"]?.arrayValue)
            #expect(cost.count == 2 && cost.contains { $0["bankId"] == .string(bank) && $0["tier"] == .int(1) && $0["averageRateBps"] == .int(350) }
                    && cost.contains { $0["bankId"] == .string(bank2) && $0["averageRateBps"] == .int(420) })
        }
    }
}
