import Foundation
import Ledger
import NIOConcurrencyHelpers
import Prometheus
import SQLKit
import class Vapor.Application
import protocol Vapor.StorageKey
import struct Vapor.Environment

/// What `GET /metrics` shows, in Prometheus text: counted as things happen (requests, blocks,
/// sweeps), or read when scraped (the writer's state and queue, payments, witnesses, webhooks).
/// One registry per application, so that tests running side by side count apart.
package final class PlatformMetrics: Sendable {
    package let registry = PrometheusCollectorRegistry()
    let blockSeconds: DurationHistogram
    let blockTransactions: ValueHistogram
    let lastSweepMs = NIOLockedValueBox<Int64?>(nil)
    let startedMs: Int64
    /// The bearer token a scraper must send (`CASCADE_METRICS_TOKEN`), if one is set.
    package let token: String?

    package init(nowMs: Int64, token: String? = nil) {
        startedMs = nowMs
        self.token = token.flatMap { $0.isEmpty ? nil : $0 }
        blockSeconds = registry.makeDurationHistogram(
            name: "cascade_block_commit_seconds", buckets: [.milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
                                                           .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(5)],
            help: "Time to seal a block and write it with its projections, in seconds")
        blockTransactions = registry.makeValueHistogram(name: "cascade_block_transactions", buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000],
                                                        help: "Transactions in each block the writer commits")
    }

    static let requestBuckets: [Duration] = [.milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
                                             .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10)]

    /// One answered request, by its route's pattern (never the ids in it) and status.
    package func request(method: String, route: String, status: Int, duration: Duration) {
        registry.makeCounter(name: "cascade_http_requests_total", labels: [("method", method), ("route", route), ("status", String(status))],
                             help: "Requests answered, by route and status").increment()
        registry.makeDurationHistogram(name: "cascade_http_request_duration_seconds", labels: [("method", method), ("route", route)],
                                       buckets: Self.requestBuckets, help: "Time to answer a request, by route, in seconds").record(duration)
    }

    /// A block the writer committed: how long sealing and writing took, and its size.
    package func block(duration: Duration, transactions: Int) {
        blockSeconds.record(duration)
        blockTransactions.record(Double(transactions))
    }

    /// The background sweep (jobs, early-payment markets, payments) finished a round.
    package func sweepFinished(nowMs: Int64) {
        lastSweepMs.withLockedValue { $0 = nowMs }
    }

    func gauge(_ name: String, _ help: String, _ labels: [(String, String)] = [], _ value: Double) {
        let gauge = labels.isEmpty ? registry.makeGauge(name: name, help: help) : registry.makeGauge(name: name, labels: labels, help: help)
        gauge.set(value)
    }

    /// Reads what is read when scraped, then the registry as Prometheus text. What cannot be read
    /// (a database that does not answer) is left at its last value, and `cascade_metrics_read_errors` says so.
    package func scrape(_ app: Application) async -> String {
        var errors = 0
        if let sequencer = app.sequencer, !app.readOnlyReplica {
            gauge("cascade_chain_height", "The last block's height", [], Double(await sequencer.height))
            gauge("cascade_sequencer_queue_depth", "Transactions waiting for the writer's next block", [], Double(await sequencer.queued))
            let broken = await sequencer.broken != nil, recovering = await sequencer.recovering != nil
            for state in ["writing", "reconnecting", "stopped"] {
                let now = state == "stopped" ? broken : state == "reconnecting" ? (!broken && recovering) : (!broken && !recovering)
                gauge("cascade_writer_state", "1 for the state the writer is in: writing, reconnecting (to its database) or stopped", [("state", state)], now ? 1 : 0)
            }
        } else if let follower = app.follower {
            let status = await follower.status
            gauge("cascade_chain_height", "The last block's height", [], Double(status.height))
            gauge("cascade_observer_halted", "1 when the observer stopped on a chain that does not verify", [], status.state == .halted ? 1 : 0)
        }
        let nowMs = app.wallClock.nowMs()
        let last = lastSweepMs.withLockedValue { $0 } ?? startedMs
        gauge("cascade_sweep_lag_seconds", "Seconds since the background sweep (jobs, markets, payments) last finished a round", [], Double(max(0, nowMs - last)) / 1000)
        do {
            for row in try await MonitoringQueries.paymentsByRailAndStatus(on: app.sql) {
                gauge("cascade_payments", "Payments instructed through the rails, by rail and status", [("rail", row.rail), ("status", row.status)], Double(row.count))
            }
            let backlog = try await MonitoringQueries.webhookBacklog(on: app.sql)
            gauge("cascade_webhook_backlog", "Webhook deliveries stored and not yet delivered (retries included)", [], Double(backlog.pending))
            gauge("cascade_webhook_oldest_pending_seconds", "Age of the oldest webhook delivery not yet delivered", [], Double(backlog.oldestAgeMs(nowMs: nowMs)) / 1000)
        } catch {
            errors += 1
        }
        if let cosigning = app.logCosigning {
            let size = (try? await LogQueries.size(on: app.sql)) ?? 0
            for standing in await cosigning.standings() {
                gauge("cascade_witness_lag", "Log entries the witness has not yet cosigned (the log's size less its last cosigned size)",
                      [("witness", String(standing.witness.prefix { $0 != "+" }))], Double(max(0, size - standing.cosignedSize)))
            }
        }
        gauge("cascade_metrics_read_errors", "Parts of this scrape that could not be read (a database that did not answer)", [], Double(errors))
        return registry.emitToString()
    }
}

extension Application {
    private struct MetricsKey: StorageKey { typealias Value = PlatformMetrics }

    /// The process's metrics, made when the application is configured (before any request:
    /// the storage is not written while requests read it).
    package var metrics: PlatformMetrics {
        if let made = storage[MetricsKey.self] { return made }
        let made = PlatformMetrics(nowMs: wallClock.nowMs())
        storage[MetricsKey.self] = made
        return made
    }

    package func makeMetrics(token: String? = Environment.get("CASCADE_METRICS_TOKEN")) {
        storage[MetricsKey.self] = PlatformMetrics(nowMs: wallClock.nowMs(), token: token)
    }
}
