import Foundation
import Ledger
import Testing
import VaporTesting

@testable import Core
@testable import Web
@testable import Commands

@Suite struct ChainRouteTests {
    func json(_ res: TestingHTTPResponse) -> JSON { (try? JSON.parse(Array(res.body.readableBytesView))) ?? .null }

    @Test func theRegulatorExportsAChainThatVerifiesAndASupplierMayNot() async throws {
        try await SelfSignedTransactionTests.withServer { app, c in
            let keys = try await TokenReadTests.keys(app, c, ["reg", "s1"])
            _ = try await c.activeToken()
            try await app.testing().test(.GET, "/api/v1/chain/export", headers: ["Authorization": "Bearer \(keys["reg"]!)"]) { res in
                #expect(res.status == .ok)
                let replayed = ChainReplayer.verify(export: Array(res.body.readableBytesView), parallelism: 2)
                #expect((try? replayed.get())?.state.tokens.count == 1)
            }
            try await app.testing().test(.GET, "/api/v1/chain/export?fromHeight=2", headers: ["Authorization": "Bearer \(keys["reg"]!)"]) { res in
                let lines = String(buffer: res.body).split(separator: "\n")
                #expect(lines.first.map { (try? JSON.parse(String($0)))?["header"]?["height"] } == .int(2))
            }
            try await app.testing().test(.GET, "/api/v1/chain/export", headers: ["Authorization": "Bearer \(keys["s1"]!)"]) { res in
                #expect(res.status == .forbidden && json(res)["code"] == .string("forbidden"))
            }
        }
    }

    @Test func aPartyGetsAProofItCanCheckWithoutTheDatabase() async throws {
        try await SelfSignedTransactionTests.withServer { app, c in
            let keys = try await TokenReadTests.keys(app, c, ["s1", "s2", "s3", "reg"])
            let token = try await c.activeToken()
            let tx = try await c.submit("s1", .transfer(tokenId: token, toOrgId: c.ids["s2"]!, amountFen: 1_000, memo: nil)).effects.transactionId
            for who in ["s1", "s2", "reg"] {
                try await app.testing().test(.GET, "/api/v1/transactions/\(tx)/proof", headers: ["Authorization": "Bearer \(keys[who]!)"]) { res in
                    #expect(res.status == .ok, "\(who)")
                    let proof = try? InclusionProof(json: json(res))
                    #expect(proof?.transactionId == tx.description)
                    #expect(proof?.problem(sealerPublicKey: c.signers["op"]!.publicKey) == nil)
                }
            }
            try await app.testing().test(.GET, "/api/v1/transactions/\(tx)/proof", headers: ["Authorization": "Bearer \(keys["s3"]!)"]) { res in
                #expect(res.status == .notFound && json(res)["code"] == .string("not_found"))
            }
            try await app.testing().test(.GET, "/api/v1/transactions/xyz/proof", headers: ["Authorization": "Bearer \(keys["s1"]!)"]) { res in
                #expect(res.status == .unprocessableEntity)
            }
        }
    }
}
