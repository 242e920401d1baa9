import Core
import Foundation
import Ledger
import SQLKit
import Vapor

/// Operators' monitoring, beside the API (not under `/api/v1`): `GET /metrics` in Prometheus
/// text, `GET /healthz` (the process answers) and `GET /readyz` (it can do its work now).
package enum HealthController {
    /// `CASCADE_METRICS_TOKEN`, when set, is the bearer token a scraper must send.
    @Sendable package static func metrics(req: Request) async throws -> Response {
        if let token = req.application.metrics.token {
            guard let sent = req.headers.bearerAuthorization?.token, TOTP.constantTimeEqual(sent, token) else {
                throw Problem(.unauthorized, "send the metrics token (CASCADE_METRICS_TOKEN) as a bearer token")
            }
        }
        var headers = HTTPHeaders()
        headers.replaceOrAdd(name: .contentType, value: "text/plain; version=0.0.4; charset=utf-8")
        headers.replaceOrAdd(name: .cacheControl, value: "no-store")
        return Response(status: .ok, headers: headers, body: .init(string: await req.application.metrics.scrape(req.application)))
    }

    @Sendable package static func healthz(req: Request) async throws -> Response {
        JSON.object(["status": "ok"]).response()
    }

    /// 200 `{ready: true, role}` when this node can do its work: a writer that holds its lock and
    /// whose database answers; an observer that follows (not halted); a replica whose database
    /// answers and has replayed all it received. Otherwise 503 problem+json with why.
    @Sendable package static func readyz(req: Request) async throws -> Response {
        let app = req.application
        let role: String
        if let follower = app.follower {
            role = "observer"
            let status = await follower.status
            guard status.state == .following else { throw Unavailable("the observer halted: \(status.problem ?? "the chain it follows does not verify")") }
        } else if app.readOnlyReplica {
            role = "replica"
            try await answers(app.sql)
            guard await MonitoringQueries.replayedAllReceived(on: app.sql) else {
                throw Unavailable("the replica's database has not yet replayed all the writer sent it")
            }
        } else if let sequencer = app.sequencer {
            role = "writer"
            if let broken = await sequencer.broken { throw Unavailable("the writer stopped: \(broken)") }
            if let recovering = await sequencer.recovering { throw Unavailable("the writer is reconnecting to its database: \(recovering)") }
            try await answers(app.sql)
        } else {
            throw Unavailable("the node is starting")
        }
        return JSON.object(["ready": true, "role": .string(role)]).response()
    }

    /// The database answers a trivial statement within two seconds.
    static func answers(_ sql: any SQLDatabase) async throws {
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await MonitoringQueries.answers(on: sql) }
                group.addTask {
                    try await Task.sleep(for: .seconds(2))
                    throw Unavailable("the database did not answer within 2 seconds")
                }
                try await group.next()
                group.cancelAll()
            }
        } catch let error as Unavailable {
            throw error
        } catch {
            throw Unavailable("the database does not answer: \(error)")
        }
    }
}

/// Counts every request by its route's pattern and status, and times it (`GET /metrics`).
package struct RequestMetrics: AsyncMiddleware {
    package init() {}

    package func respond(to req: Request, chainingTo next: any AsyncResponder) async throws -> Response {
        let started = ContinuousClock.now
        do {
            let response = try await next.respond(to: req)
            record(req, status: Int(response.status.code), since: started)
            return response
        } catch {
            record(req, status: Int(Problem.from(error).problem.status), since: started)
            throw error
        }
    }

    func record(_ req: Request, status: Int, since started: ContinuousClock.Instant) {
        let route = req.route.map { "/" + $0.path.map(\.description).joined(separator: "/") } ?? "unrouted"
        let took = ContinuousClock.now - started
        req.application.metrics.request(method: req.method.rawValue, route: route, status: status, duration: took)
        // The access log, inside the request's span (its trace id in the line); quiet in tests.
        let ms = took.components.seconds * 1000 + took.components.attoseconds / 1_000_000_000_000_000
        req.logger.log(level: req.application.environment == .testing ? .debug : .info, "\(req.method.rawValue) \(route) \(status)",
                       metadata: ["status": .stringConvertible(status), "duration_ms": .stringConvertible(ms), "route": .string(route)])
    }
}
