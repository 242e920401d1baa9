import Foundation
import Ledger
import Testing
import VaporTesting

@testable import App

/// A known path asked with a method it does not have answers 405 with `Allow`, as problem+json.
@Suite struct MethodTests {
    @Test func anUndeclaredMethodOnAKnownPathIs405WithAllow() async throws {
        try await DemoPlatform.with { d in
            let token = "0123456789abcdef0123456789abcdef"
            for (method, path, allow) in [(HTTPMethod.PATCH, "/api/v1/tokens/\(token)/accept", "POST"),
                                          (.DELETE, "/api/v1/receivables", "GET, HEAD, POST"),
                                          (.PUT, "/api/v1/auth/login", "POST")] {
                let answer = try await d.call("tier1", method, path)
                #expect(answer.status == .methodNotAllowed, "\(method) \(path)")
                #expect(answer.headers.first(name: .allow) == allow, "\(method) \(path)")
                #expect(answer.code == "method_not_allowed")
            }
            #expect(try await d.call("tier1", .GET, "/api/v1/no-such-thing").status == .notFound)
        }
    }
}
