import Foundation
import Ledger
import Testing
import VaporTesting

@testable import App

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
