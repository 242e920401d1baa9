import Foundation
import Ledger
import Testing
import VaporTesting

@testable import Core
@testable import Web
@testable import Commands

@Suite struct APITests {
    @Test func nodeStatusNamesTheWriterAndItsHeight() async throws {
        try await TestDatabase.with { app in
            try await configure(app)
            app.ledgerClock = FakeClock("2026-09-01")
            try await app.testing().test(.GET, "/api/v1/node/status") { res in
                #expect(res.status == .ok)
                let status = try res.content.decode(NodeController.Status.self)
                #expect(status.role == "writer" && status.height == -1 && status.businessDate == "2026-09-01")
            }
            _ = try await StoreTests.storeVectorChain(LedgerStore(db: app.db))
            try await app.testing().test(.GET, "/api/v1/node/status") { res in
                let status = try res.content.decode(NodeController.Status.self)
                #expect(status.height == 49)
            }
        }
    }

    @Test func unknownRoutesAreProblemJSONNotFound() async throws {
        try await TestDatabase.with { app in
            try await configure(app)
            try await app.testing().test(.GET, "/api/v1/nothing-here") { res in
                #expect(res.status == .notFound)
                #expect(res.headers.contentType?.description == "application/problem+json; charset=utf-8")
                let problem = try JSONSerialization.jsonObject(with: Data(buffer: res.body)) as? [String: Any]
                #expect(problem?["code"] as? String == "not_found" && problem?["status"] as? Int == 404)
            }
        }
    }

    @Test func ledgerErrorsKeepTheirCodeAndStatus() {
        let (problem, unexpected) = Problem.from(LedgerError.invalid("payload.faceFen", "must be an integer"))
        #expect(!unexpected && problem.status == 422 && problem.code == "validation_failed")
        #expect(problem.errors == [FieldError(field: "payload.faceFen", message: "must be an integer")])
        struct Internal: Error {}
        let (hidden, flagged) = Problem.from(Internal())
        #expect(flagged && hidden.status == 500 && !hidden.detail.contains("Internal"))
    }
}

/// `POST /api/v1/transactions`: transactions signed by the org itself.
@Suite struct SelfSignedTransactionTests {
    func post(_ app: Application, _ json: String, _ check: (TestingHTTPResponse) throws -> Void) async throws {
        try await app.testing().test(.POST, "/api/v1/transactions", headers: ["Content-Type": "application/json"],
                                     body: ByteBuffer(string: json)) { res in try check(res) }
    }

    func signed(_ c: Consortium, _ org: String, _ payload: Payload, signer: Ed25519Signer? = nil, keyId: String? = nil, timeMs: Int64? = nil) throws -> String {
        let key = signer ?? c.signers[org]!
        let body = TransactionBody(orgId: c.ids[org]!, keyId: keyId ?? c.signers[org]!.keyId, time: timeMs ?? c.clock.nowMs(), nonce: UUID().uuidString, payload: payload)
        let tx = try Transaction.sign(body, with: key)
        return JSON.object(["body": body.json, "signature": .string(Base64.encode(tx.signature))]).canonicalString
    }

    /// A configured server whose writer is a fresh consortium's sequencer, on its clock.
    static func withServer(_ body: (Application, Consortium) async throws -> Void) async throws {
        try await TestDatabase.with { app in
            try await configure(app)
            let c = try await Consortium.make(app)
            app.sequencer = c.sequencer
            app.ledgerClock = c.clock
            try await body(app, c)
        }
    }

    func code(_ res: TestingHTTPResponse) -> String? {
        (try? JSONSerialization.jsonObject(with: Data(buffer: res.body)) as? [String: Any])?["code"] as? String
    }

    @Test func aSelfSignedTransferIsCommittedAndAnswered() async throws {
        try await Self.withServer { app, c in
            let token = try await c.activeToken(faceFen: 1_000_000)
            try await post(app, try signed(c, "s1", .transfer(tokenId: token, toOrgId: c.ids["s2"]!, amountFen: 300_000, memo: "货款 \"加急\""))) { res in
                #expect(res.status == .created)
                let body = try JSON.parse(Array(res.body.readableBytesView))
                guard case .array(let tokens)? = body["tokens"] else { Issue.record("no tokens"); return }
                #expect(tokens.count == 3)  // created: the offer and the change; changed: the spent token
                #expect(tokens[0]["amountFen"] == .int(300_000) && tokens[0]["status"] == .string("pending") && tokens[0]["tier"] == .int(2))
                #expect(tokens[2]["status"] == .string("spent"))
            }
            // The same spend again: the token is no longer active.
            try await post(app, try signed(c, "s1", .transfer(tokenId: token, toOrgId: c.ids["s2"]!, amountFen: 1, memo: nil))) { res in
                #expect(res.status == .conflict && code(res) == "token_not_active")
            }
        }
    }

    func detail(_ res: TestingHTTPResponse) -> String {
        (try? JSONSerialization.jsonObject(with: Data(buffer: res.body)) as? [String: Any])?["detail"] as? String ?? ""
    }

    /// After a rotation only the new key signs: a signature is checked with the key the body
    /// names, and only when that is the org's current key.
    @Test func aKeyRotatedAwaySignsNothing() async throws {
        try await Self.withServer { app, c in
            let token = try await c.activeToken()
            let old = c.signers["s1"]!, new = try Ed25519Signer(seed: [UInt8](repeating: 99, count: 32))
            _ = try await c.submit("op", .rotateKey(orgId: c.ids["s1"]!, publicKey: new.publicKey))
            let height = await c.sequencer.height
            let transfer = Payload.transfer(tokenId: token, toOrgId: c.ids["s2"]!, amountFen: 1_000, memo: nil)
            try await post(app, try signed(c, "s1", transfer, signer: old, keyId: old.keyId)) { res in
                #expect(res.status == .unauthorized && detail(res).contains("is not the current key"), "\(detail(res))")
            }
            try await post(app, try signed(c, "s1", transfer, signer: old, keyId: new.keyId)) { res in
                #expect(res.status == .unauthorized && detail(res).contains("does not verify"), "\(detail(res))")
            }
            #expect(await c.sequencer.height == height)
            try await post(app, try signed(c, "s1", transfer, signer: new, keyId: new.keyId)) { #expect($0.status == .created) }
        }
    }

    @Test func badInputIsRefusedPreciselyAndChangesNothing() async throws {
        try await Self.withServer { app, c in
            let token = try await c.activeToken()
            let height = await c.sequencer.height
            let transfer = Payload.transfer(tokenId: token, toOrgId: c.ids["s2"]!, amountFen: 1, memo: nil)
            try await post(app, "{not json") { #expect($0.status == .badRequest && code($0) == "malformed_json") }
            try await post(app, "[1,2]") { #expect($0.status == .unprocessableEntity && code($0) == "validation_failed") }
            try await post(app, try signed(c, "s1", transfer, signer: c.signers["s2"]!)) { #expect($0.status == .unauthorized && code($0) == "unauthorized") }
            try await post(app, try signed(c, "reg", transfer)) { #expect($0.status == .forbidden && code($0) == "forbidden") }
            try await post(app, try signed(c, "s1", transfer, timeMs: c.clock.nowMs() - 86_400_000)) { #expect(code($0) == "validation_failed") }
            try await post(app, try signed(c, "s1", .transfer(tokenId: token, toOrgId: c.ids["s2"]!, amountFen: -5, memo: nil))) {
                #expect($0.status == .unprocessableEntity && code($0) == "amount_out_of_range")
            }
            try await post(app, try signed(c, "s1", .transfer(tokenId: token, toOrgId: c.ids["s2"]!, amountFen: 9_007_199_254_740_991, memo: nil))) {
                #expect(code($0) == "amount_out_of_range")
            }
            var withExtra = try JSON.parse(try signed(c, "s1", transfer))
            if case .object(var f) = withExtra { f["admin"] = true; withExtra = .object(f) }
            try await post(app, withExtra.canonicalString) { #expect($0.status == .unprocessableEntity && code($0) == "validation_failed") }
            try await post(app, #"{"body":{"type":"transfer","orgId":"x"},"signature":"AA=="}"#) { #expect(code($0) == "validation_failed") }
            try await post(app, String(repeating: "x", count: 70_000)) { #expect($0.status == .payloadTooLarge && code($0) == "payload_too_large", "\($0.status) \(String(buffer: $0.body))") }
            #expect(await c.sequencer.height == height)
        }
    }
}
