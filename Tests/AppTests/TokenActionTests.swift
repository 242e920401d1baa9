import Crypto
import Foundation
import Ledger
import SQLKit
import Testing
import VaporTesting

@testable import Core
@testable import Web
@testable import Commands

/// Operations through the platform's custodial keys: accept, reject, transfer, split.
@Suite struct TokenActionTests {
    func json(_ res: TestingHTTPResponse) -> JSON { (try? JSON.parse(Array(res.body.readableBytesView))) ?? .null }

    /// The consortium's keys held by the platform, sealed under a fresh master key.
    static func custody(_ app: Application, _ c: Consortium) async throws {
        let vault = KeyVault(masterKey: SymmetricKey(size: .bits256))
        app.keyVault = vault
        for (name, signer) in c.signers {
            try await app.sql.insert(into: "org_keys").columns("org_id", "key_id", "sealed_seed", "created_ms")
                .values(SQLBind(c.ids[name]!.description), SQLBind(signer.keyId), SQLBind(try vault.seal(seed: signer.seed, for: c.ids[name]!)), SQLBind(Int64(0)))
                .run()
        }
    }

    @Test func aSupplierPaysItsSupplierWhoAcceptsAndSplits() async throws {
        try await SelfSignedTransactionTests.withServer { app, c in
            // setup
            try await Self.custody(app, c)
            let keys = try await TokenReadTests.keys(app, c, ["s1", "s2"])
            let token = try await c.activeToken(faceFen: 1_000_000)
            var offer = ""
            // act and check: transfer, accept (empty body, no content type), split
            try await app.testing().test(.POST, "/api/v1/tokens/\(token)/transfer", headers: ["Authorization": "Bearer \(keys["s1"]!)", "Content-Type": "application/json"],
                                         body: ByteBuffer(string: #"{"toOrgId":"\#(c.ids["s2"]!)","amountFen":300000,"memo":"五金 PO-1"}"#)) { res in
                #expect(res.status == .created)
                guard case .array(let tokens)? = json(res)["tokens"] else { Issue.record("no tokens"); return }
                offer = tokens[0]["id"]?.stringValue ?? ""
                #expect(tokens[0]["holderId"] == .string(c.ids["s2"]!.description) && tokens[0]["status"] == .string("pending"))
                #expect(tokens[1]["amountFen"] == .int(700_000) && tokens[1]["holderId"] == .string(c.ids["s1"]!.description))
            }
            try await app.testing().test(.POST, "/api/v1/tokens/\(offer)/accept", headers: ["Authorization": "Bearer \(keys["s2"]!)"]) { res in
                #expect(res.status == .ok)
            }
            try await app.testing().test(.POST, "/api/v1/tokens/\(offer)/split", headers: ["Authorization": "Bearer \(keys["s2"]!)", "Content-Type": "application/json"],
                                         body: ByteBuffer(string: #"{"amountsFen":[100000,200000]}"#)) { res in
                #expect(res.status == .created)
            }
            let store = LedgerStore(db: app.db)
            let replayed = try ChainReplayer.verify(export: try await store.exportAll(), parallelism: 2).get()
            #expect(try await store.projectionProblems(against: replayed.state) == [])
        }
    }

    @Test func wrongCallersAndBadBodiesChangeNothing() async throws {
        try await SelfSignedTransactionTests.withServer { app, c in
            try await Self.custody(app, c)
            let keys = try await TokenReadTests.keys(app, c, ["s1", "s3", "reg"])
            let token = try await c.activeToken(faceFen: 1_000_000)
            let height = await c.sequencer.height
            func transfer(_ who: String, _ body: String, _ check: @escaping (TestingHTTPResponse) -> Void) async throws {
                try await app.testing().test(.POST, "/api/v1/tokens/\(token)/transfer", headers: ["Authorization": "Bearer \(keys[who]!)", "Content-Type": "application/json"],
                                             body: ByteBuffer(string: body)) { res in check(res) }
            }
            let s2 = c.ids["s2"]!.description
            try await transfer("reg", #"{"toOrgId":"\#(s2)","amountFen":1}"#) { #expect($0.status == .forbidden && json($0)["code"] == .string("forbidden")) }
            try await transfer("s3", #"{"toOrgId":"\#(s2)","amountFen":1}"#) { #expect($0.status == .forbidden && json($0)["code"] == .string("not_holder")) }
            try await transfer("s1", #"{"toOrgId":"\#(s2)","amountFen":"1"}"#) { #expect($0.status == .unprocessableEntity && json($0)["code"] == .string("validation_failed")) }
            try await transfer("s1", #"{"toOrgId":"\#(s2)","amountFen":1,"fee":0}"#) { #expect(json($0)["code"] == .string("validation_failed")) }
            try await transfer("s1", #"{"toOrgId":"\#(s2)","amountFen":1000001}"#) { #expect(json($0)["code"] == .string("amount_out_of_range")) }
            try await transfer("s1", #"{"toOrgId":"\#(s2)","amountFen":0}"#) { #expect(json($0)["code"] == .string("amount_out_of_range")) }
            // A fraction is well-formed JSON with a value no amount may take: a 422 naming the field.
            try await transfer("s1", #"{"toOrgId":"\#(s2)","amountFen":1.5}"#) { #expect($0.status == .unprocessableEntity && json($0)["code"] == .string("validation_failed")) }
            try await transfer("s1", #"{"toOrgId":"\#(s2)","amountFen":1,"#) { #expect($0.status == .badRequest && json($0)["code"] == .string("malformed_json")) }
            try await transfer("s1", #"{"toOrgId":"\#(c.ids["bank"]!)","amountFen":1}"#) { #expect(json($0)["code"] == .string("invalid_counterparty")) }
            try await transfer("s1", #"{"toOrgId":"00000000-0000-4000-8000-999999999999","amountFen":1}"#) { #expect(json($0)["code"] == .string("not_found")) }
            #expect(await c.sequencer.height == height)
        }
    }
}
