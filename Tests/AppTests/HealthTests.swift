import Foundation
import Logging
import NIOConcurrencyHelpers
import Ledger
import SQLKit
import Testing
import VaporTesting

@testable import Core
@testable import Web
@testable import Commands

/// Operators' monitoring: `GET /metrics` (Prometheus text), `GET /healthz`, `GET /readyz`.
@Suite struct HealthTests {
    static func get(_ app: Application, _ path: String, headers: HTTPHeaders = [:]) async throws -> (HTTPResponseStatus, String, HTTPHeaders) {
        var answer: (HTTPResponseStatus, String, HTTPHeaders)?
        try await app.testing().test(.GET, path, headers: headers) { res in answer = (res.status, String(buffer: res.body), res.headers) }
        return answer!
    }

    @Test func metricsCountRequestsBlocksAndWhatIsWaiting() async throws {
        try await DemoPlatform.with { d in
            let metrics = d.app.metrics
            await d.app.sequencer!.setCommitObserver { took, count in metrics.block(duration: took, transactions: count) }
            let receivable = try await d.call("core", .GET, "/api/v1/receivables").items[0]["id"]!.stringValue!
            _ = try await d.call("core", .GET, "/api/v1/receivables/\(receivable)")
            _ = try await d.call("core", .GET, "/api/v1/receivables/\(String(repeating: "0", count: 64))")
            let token = try await d.call("tier1", .GET, "/api/v1/tokens?status=active").items[0]["id"]!.stringValue!
            #expect(try await d.call("tier1", .POST, "/api/v1/financings", #"{"tokenId":"\#(token)","bankId":"\#(d.orgs["bank"]!)"}"#).status == .created)
            let (status, text, headers) = try await Self.get(d.app, "/metrics")
            #expect(status == .ok && headers.contentType?.description.hasPrefix("text/plain") == true)
            for line in [#"cascade_http_requests_total{method="GET",route="/api/v1/receivables/:id",status="200"} 1"#,
                         #"cascade_http_requests_total{method="GET",route="/api/v1/receivables/:id",status="404"} 1"#,
                         #"cascade_http_requests_total{method="POST",route="/api/v1/financings",status="201"} 1"#,
                         #"cascade_block_transactions_count 1"#, #"cascade_writer_state{state="writing"} 1"#, #"cascade_writer_state{state="stopped"} 0"#,
                         "cascade_sequencer_queue_depth 0", "cascade_webhook_backlog 0", "cascade_metrics_read_errors 0", "# TYPE cascade_block_commit_seconds histogram",
                         #"cascade_http_request_duration_seconds_bucket{method="GET",route="/api/v1/receivables/:id",le="+Inf"} 2"#] {
                #expect(text.contains(line), "\(line) in:\n\(text.prefix(4000))")
            }
            #expect(text.contains("cascade_chain_height \(await d.height)"))
            #expect(!text.contains(receivable), "a route's pattern, never its ids")
            #expect(text.contains("cascade_sweep_lag_seconds"))

            // With a token set, a scraper must send it.
            d.app.makeMetrics(token: "scrape-me")
            #expect(try await Self.get(d.app, "/metrics").0 == .unauthorized)
            #expect(try await Self.get(d.app, "/metrics", headers: ["Authorization": "Bearer nope"]).0 == .unauthorized)
            #expect(try await Self.get(d.app, "/metrics", headers: ["Authorization": "Bearer scrape-me"]).0 == .ok)
        }
    }

    @Test func healthAndReadiness() async throws {
        try await DemoPlatform.with { d in
            let (health, body, _) = try await Self.get(d.app, "/healthz")
            #expect(health == .ok && body.contains("ok"))
            let (ready, readyBody, _) = try await Self.get(d.app, "/readyz")
            #expect(ready == .ok && readyBody.contains(#""role":"writer""#), "\(readyBody)")
        }
        // A node whose writer has not started is alive, and not ready.
        try await TestDatabase.with { app in
            try await configure(app)
            #expect(try await Self.get(app, "/healthz").0 == .ok)
            let (status, body, _) = try await Self.get(app, "/readyz")
            #expect(status == .serviceUnavailable && body.contains("starting"), "\(body)")
        }
    }
}

extension HealthTests {
    /// `CASCADE_LOG_FORMAT=json`: one JSON object a line, the metadata flattened beside the
    /// message, the metadata provider's (the current span's trace and span ids) included.
    @Test func logsAreJSONLinesWithTheTraceIds() throws {
        let lines = NIOLockedValueBox<[String]>([])
        let provider = Logger.MetadataProvider { ["trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "span_id": "00f067aa0ba902b7"] }
        var logger = Logger(label: "cascade.test") { label in
            JSONLogHandler(label: label, level: .info, metadataProvider: provider) { line in lines.withLockedValue { $0.append(line) } }
        }
        logger[metadataKey: "node"] = "writer"
        logger.debug("not at this level")
        logger.info("block \"7\" committed\nwith a newline", metadata: ["height": .stringConvertible(7), "tags": .array(["a", "b"])])
        logger.warning("the wallet did not answer")
        let written = lines.withLockedValue { $0 }
        #expect(written.count == 2 && written.allSatisfy { $0.hasSuffix("\n") && $0.dropLast().allSatisfy { $0 != "\n" } })
        let first = try JSONSerialization.jsonObject(with: Data(written[0].utf8)) as! [String: Any]
        #expect(first["message"] as? String == "block \"7\" committed\nwith a newline" && first["level"] as? String == "info" && first["label"] as? String == "cascade.test")
        #expect(first["trace_id"] as? String == "4bf92f3577b34da6a3ce929d0e0e4736" && first["span_id"] as? String == "00f067aa0ba902b7")
        #expect(first["height"] as? String == "7" && first["node"] as? String == "writer" && first["tags"] as? [String] == ["a", "b"])
        #expect((first["time"] as? String)?.hasSuffix("Z") == true && first["source"] == nil)
        let second = try JSONSerialization.jsonObject(with: Data(written[1].utf8)) as! [String: Any]
        #expect((second["source"] as? String)?.contains("HealthTests.swift") == true, "a warning says where")
    }
}
