import Foundation
import Ledger
import Testing
import VaporTesting

@testable import Core
@testable import Web
@testable import Commands

@Suite struct TokenReadTests {
    func json(_ res: TestingHTTPResponse) -> JSON { (try? JSON.parse(Array(res.body.readableBytesView))) ?? .null }

    /// An API key for a user of each named org.
    static func keys(_ app: Application, _ c: Consortium, _ names: [String]) async throws -> [String: String] {
        let accounts = Accounts(sql: app.sql)
        var out: [String: String] = [:]
        for name in names {
            let email = "\(name)@cascade.test"
            let id = try await accounts.createUser(org: c.ids[name]!, email: email, name: name, role: .admin, password: "x", nowMs: 0)
            out[name] = try await accounts.createAPIKey(for: Caller(userId: id, orgId: c.ids[name]!, email: email, name: name, userRole: .admin, viaAPIKey: false),
                                                        name: "test", nowMs: 0).secret
        }
        return out
    }

    @Test func aTokenIsVisibleToItsHolderIssuerAndRegulatorOnly() async throws {
        try await SelfSignedTransactionTests.withServer { app, c in
            // setup: s1 pays s2 part of its token; s2 accepts
            let keys = try await Self.keys(app, c, ["s1", "s2", "s3", "core", "reg", "bank"])
            let first = try await c.activeToken(faceFen: 1_000_000)
            let offer = try await c.submit("s1", .transfer(tokenId: first, toOrgId: c.ids["s2"]!, amountFen: 400_000, memo: nil)).effects.createdTokens[0]
            _ = try await c.submit("s2", .accept(tokenId: offer))
            // check: who sees the tier-2 token
            for (who, status) in [("s2", HTTPStatus.ok), ("core", .ok), ("reg", .ok), ("s1", .notFound), ("s3", .notFound), ("bank", .notFound)] {
                try await app.testing().test(.GET, "/api/v1/tokens/\(offer)", headers: ["Authorization": "Bearer \(keys[who]!)"]) { res in
                    #expect(res.status == status, "\(who)")
                    if status == .ok {
                        let t = json(res)
                        #expect(t["amountFen"] == .int(400_000) && t["tier"] == .int(2) && t["holderId"] == .string(c.ids["s2"]!.description))
                        #expect(t["parentId"] == .string(first.description) && t["status"] == .string("active"))
                    } else {
                        #expect(json(res)["code"] == .string("not_found"))
                    }
                }
            }
            // The holder sees the path back to issuance.
            try await app.testing().test(.GET, "/api/v1/tokens/\(offer)/ancestry", headers: ["Authorization": "Bearer \(keys["s2"]!)"]) { res in
                guard case .array(let items)? = json(res)["items"] else { Issue.record("no items"); return }
                #expect(items.map { $0["id"] } == [.string(offer.description), .string(first.description)])
                #expect(items.last?["parentId"] == .null)
            }
            try await app.testing().test(.GET, "/api/v1/tokens/not-a-token", headers: ["Authorization": "Bearer \(keys["s2"]!)"]) { res in
                #expect(res.status == .unprocessableEntity && json(res)["code"] == .string("validation_failed"))
            }
            try await app.testing().test(.GET, "/api/v1/tokens/\(offer)") { #expect($0.status == .unauthorized) }
        }
    }
}
