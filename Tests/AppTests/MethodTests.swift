import Foundation
import Ledger
import Testing
import VaporTesting

@testable import Core
@testable import Web
@testable import Commands

/// A known path asked with a method it does not have answers 405 with `Allow`, as problem+json.
@Suite struct MethodTests {
    @Test func anUndeclaredMethodOnAKnownPathIs405WithAllow() async throws {
        try await DemoPlatform.with { d in
            let token = "0123456789abcdef0123456789abcdef"
            for (method, path, allow) in [(HTTPMethod.PATCH, "/api/v1/tokens/\(token)/accept", "POST"),
                                          (.DELETE, "/api/v1/receivables", "GET, HEAD, POST"),
                                          (.PUT, "/api/v1/auth/login", "POST"),
                                          // A resource of its own beside `{id}`: its own methods, not the parameter's.
                                          (.OPTIONS, "/api/v1/early-payments/clear", "POST"),
                                          (.GET, "/api/v1/early-payments/clear", "POST"),
                                          (.DELETE, "/api/v1/early-payments/market", "GET, HEAD")] {
                let answer = try await d.call("tier1", method, path)
                #expect(answer.status == .methodNotAllowed, "\(method) \(path)")
                #expect(answer.headers.first(name: .allow) == allow, "\(method) \(path)")
                #expect(answer.code == "method_not_allowed")
            }
            #expect(try await d.call("tier1", .GET, "/api/v1/no-such-thing").status == .notFound)
        }
    }
}

/// Multipart bodies that the multipart parser would stop the process on are refused before it
/// sees them, on the API and on the console's own form route (whose CSRF check parses the body).
@Suite struct MultipartGuardTests {
    @Test func aMalformedMultipartBodyIsRefusedAndTheServerGoesOn() async throws {
        try await DemoPlatform.with { d in
            for path in ["/api/v1/documents", "/receivables"] {
                for (boundary, body) in [("b", "--b\r\n\u{1F1FA}\u{1F1F8}--b--\r\n"), ("b", "--b\r\nContent-Disposition: form-data; name=\"kind\"\r\n\u{00E9}: x\r\n\r\nother\r\n--b--\r\n"),
                                         ("", "--\r\n\r\n")] {
                    var headers = HTTPHeaders()
                    headers.add(name: .authorization, value: "Bearer \(d.keys["core"]!)")
                    headers.replaceOrAdd(name: .contentType, value: "multipart/form-data; boundary=\(boundary)")
                    try await d.app.testing().test(.POST, path, headers: headers, body: ByteBuffer(string: body)) { res in
                        #expect(res.status == .unprocessableEntity, "\(path) \(body.debugDescription)")
                    }
                }
            }
            // A well-formed upload still works, with a UTF-8 file name.
            let form = "--b\r\nContent-Disposition: form-data; name=\"kind\"\r\n\r\ninvoice\r\n--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"发票.pdf\"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.4\r\n--b--\r\n"
            var headers = HTTPHeaders()
            headers.add(name: .authorization, value: "Bearer \(d.keys["core"]!)")
            headers.replaceOrAdd(name: .contentType, value: "multipart/form-data; boundary=b")
            try await d.app.testing().test(.POST, "/api/v1/documents", headers: headers, body: ByteBuffer(string: form)) { res in
                #expect(res.status == .created, "\(String(buffer: res.body))")
            }
            #expect(try await d.call("core", .GET, "/api/v1/me").status == .ok)
        }
    }

    @Test func theGuardFollowsTheParsersStates() {
        func trap(_ s: String, _ b: String = "b") -> Bool { MultipartGuard.wouldTrap(Array(s.utf8), boundary: Array(b.utf8)) }
        #expect(trap("--b\r\n\u{E9}x: y\r\n\r\nbody\r\n--b--"))
        #expect(trap("preamble\r\n--b\r\nA: 1\r\n\r\nbody\r\n--b\r\n\u{E9}: 2\r\n\r\n\r\n--b--"))
        #expect(!trap("--b\r\nContent-Disposition: form-data; name=\"\u{E9}\"\r\n\r\n\u{E9}\r\n--b--"))
        #expect(!trap("--b\r\nA: 1\r\n\r\nno closing delimiter \u{E9}: here"))
        #expect(!trap("no delimiter at all \u{E9}"))
    }
}
