import Core
import Foundation
import Ledger
import NIOConcurrencyHelpers
import Vapor

/// RFC 9457 problem details with the stable codes of SPEC §5:
/// `{"type", "title", "status", "detail", "code", "errors"?}` as `application/problem+json`.
package struct Problem: Error, Content {
    package var type: String
    package var title: String
    package var status: Int
    package var detail: String
    package var code: String
    package var errors: [FieldError]?

    package init(_ code: ErrorCode, _ detail: String, errors: [FieldError]? = nil) {
        type = "https://cascade.example/problems/\(code.rawValue)"
        title = code.rawValue.replacingOccurrences(of: "_", with: " ").capitalized
        status = code.httpStatus
        self.detail = detail
        self.code = code.rawValue
        self.errors = errors
    }

    /// Anything thrown while handling a request, as the problem the caller sees. Errors from
    /// outside the ledger's vocabulary are never shown as they are: no internals leak.
    package static func from(_ error: any Error) -> (problem: Problem, unexpected: Bool) {
        switch error {
        case let p as Problem: return (p, false)
        case let r as ReauthenticationRequired: return (Problem(.forbidden, r.description), false)
        case let e as LedgerError: return (Problem(e.code, e.message, errors: e.fields.isEmpty ? nil : e.fields), false)
        case let e as Unavailable: return (Problem(.unavailable, e.description), false)
        case let e as DecodingError: return (Problem(.validationFailed, "the request body does not have the expected shape", errors: [fieldError(e)]), false)
        case let abort as any AbortError:
            switch abort.status {
            case .notFound: return (Problem(.notFound, "no such resource"), false)
            case .unauthorized: return (Problem(.unauthorized, abort.reason), false)
            case .forbidden: return (Problem(.forbidden, abort.reason), false)
            case .payloadTooLarge: return (Problem(.payloadTooLarge, "the request body is larger than allowed"), false)
            case .tooManyRequests: return (Problem(.rateLimited, abort.reason), false)
            case .unsupportedMediaType, .badRequest: return (Problem(.malformedJSON, "the request body is not valid JSON"), false)
            case .methodNotAllowed: return (Problem(.notFound, "no such resource for this method"), false)
            default:
                if abort.status.code < 500 { return (Problem(.validationFailed, abort.reason), false) }
                return (internalProblem, true)
            }
        default:
            // Not logged per request: the writer and the pool log the outage itself, once.
            if let reason = Unavailable.databaseFault(error) { return (Problem(.unavailable, reason), false) }
            return (internalProblem, true)
        }
    }

    /// What a 503 asks the caller to wait before trying again.
    package static let retryAfterSeconds = 2

    package static var internalProblem: Problem {
        var p = Problem(.validationFailed, "an unexpected error happened; it has been logged")
        p.status = 500
        p.code = "internal_error"
        p.title = "Internal Error"
        p.type = "https://cascade.example/problems/internal_error"
        return p
    }

    package static func fieldError(_ error: DecodingError) -> FieldError {
        func path(_ context: DecodingError.Context) -> String {
            context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case .typeMismatch(let type, let c): return FieldError(field: path(c), message: "must be \(type)")
        case .valueNotFound(_, let c): return FieldError(field: path(c), message: "is required")
        case .keyNotFound(let key, let c): return FieldError(field: (path(c).isEmpty ? "" : path(c) + ".") + key.stringValue, message: "is required")
        case .dataCorrupted(let c): return FieldError(field: path(c), message: c.debugDescription)
        @unknown default: return FieldError(field: "", message: "is not valid")
        }
    }
}

extension ErrorCode {
    /// SPEC §5: each stable code answers with exactly one HTTP status. Only text that is not
    /// JSON at all is a 400; a well-formed body with a value the ledger refuses is a 422.
    package var httpStatus: Int {
        switch self {
        case .malformedJSON: 400
        case .unauthorized, .otpRequired: 401
        case .forbidden, .notHolder, .csrfFailed: 403
        case .notFound: 404
        case .tokenNotActive, .financingNotOpen, .insufficientCredit, .creditLineUnusable, .noCreditLine,
            .tierLimitExceeded, .pastDue, .notYetDue, .financingCutoff, .duplicateInvoice, .orgSuspended, .issuerInDefault, .termReviewRequired, .filingRequired, .earlyPaymentNotOpen,
            .idempotencyConflict, .approvalNotPending, .insufficientBalance:
            409
        case .payloadTooLarge: 413
        case .validationFailed, .amountOutOfRange, .splitSumMismatch, .termOutOfRange, .invalidCounterparty: 422
        case .rateLimited: 429
        case .unavailable: 503
        }
    }
}

/// Turns every error into problem+json; logs the unexpected ones once, with the request.
package struct ProblemMiddleware: AsyncMiddleware {
    /// The paths every route of which is written out in full, and their methods: read from the
    /// routes at the first request (they are all registered by then).
    private let exact = NIOLockedValueBox<[String: Set<String>]?>(nil)

    package init() {
    }
    package func respond(to request: Request, chainingTo next: any AsyncResponder) async throws -> Response {
        // A path that names a resource of its own (`/early-payments/clear`) answers only its own
        // methods: another method is 405, not routed to a parameter that matches its name
        // (`GET /early-payments/{id}`).
        let path = request.url.path.count > 1 && request.url.path.hasSuffix("/") ? String(request.url.path.dropLast()) : request.url.path
        if let methods = exactPaths(request.application)[path], !methods.contains(request.method.rawValue) {
            return Self.response(for: Abort(.notFound), request: request)
        }
        do {
            return try await next.respond(to: request)
        } catch {
            return Self.response(for: error, request: request)
        }
    }

    package static func response(for error: any Error, request: Request) -> Response {
        var (problem, unexpected) = Problem.from(error)
        if unexpected { request.logger.report(error: error) }
        var headers = HTTPHeaders()
        // A known path asked with a method it does not have: 405 and the methods it does have.
        if problem.status == 404, let allowed = Self.methods(for: request), !allowed.isEmpty, !allowed.contains(request.method.rawValue) {
            problem = Problem(.notFound, "\(request.method.rawValue) is not allowed here; use \(allowed.joined(separator: ", "))")
            problem.status = 405
            problem.code = "method_not_allowed"
            problem.title = "Method Not Allowed"
            problem.type = "https://cascade.example/problems/method_not_allowed"
            headers.replaceOrAdd(name: .allow, value: allowed.joined(separator: ", "))
        }
        if problem.status == 503 { headers.replaceOrAdd(name: .retryAfter, value: String(Problem.retryAfterSeconds)) }
        headers.contentType = HTTPMediaType(type: "application", subType: "problem+json", parameters: ["charset": "utf-8"])
        let body = (try? JSONEncoder().encode(problem)) ?? Data(#"{"code":"internal_error","status":500}"#.utf8)
        return Response(status: HTTPResponseStatus(statusCode: problem.status), headers: headers, body: .init(data: body))
    }
}

extension ProblemMiddleware {
    private func exactPaths(_ app: Application) -> [String: Set<String>] {
        if let known = exact.withLockedValue({ $0 }) { return known }
        var table: [String: Set<String>] = [:]
        for route in app.routes.all where route.path.allSatisfy({ if case .constant = $0 { true } else { false } }) {
            let key = "/" + route.path.map(\.description).joined(separator: "/")
            table[key, default: []].insert(route.method.rawValue)
            if route.method == .GET { table[key, default: []].insert("HEAD") }
        }
        exact.withLockedValue { $0 = table }
        return table
    }

    /// The methods the application's routes answer at the request's path, or nil when none does.
    /// Where a path names a resource of its own (`/early-payments/clear`), the routes written for
    /// it count, not those whose parameter happens to match its name (`/early-payments/{id}`).
    package static func methods(for request: Request) -> [String]? {
        let parts = request.url.path.split(separator: "/", omittingEmptySubsequences: true)
        let matching = request.application.routes.all.filter { matches($0.path, parts) }
        func constants(_ route: Route) -> Int { route.path.filter { if case .constant = $0 { true } else { false } }.count }
        let most = matching.map(constants).max() ?? 0
        var methods: Set<String> = []
        for route in matching where constants(route) == most {
            methods.insert(route.method.rawValue)
        }
        if methods.contains("GET") { methods.insert("HEAD") }
        return methods.isEmpty ? nil : methods.sorted()
    }

    package static func matches(_ pattern: [PathComponent], _ parts: [Substring]) -> Bool {
        for (i, component) in pattern.enumerated() {
            switch component {
            case .catchall: return true
            case .constant(let c): guard i < parts.count, parts[i] == c else { return false }
            case .parameter, .anything: guard i < parts.count else { return false }
            }
        }
        return pattern.count == parts.count
    }
}
