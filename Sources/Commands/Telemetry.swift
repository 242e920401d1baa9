import Foundation
import Instrumentation
import Logging
import NIOConcurrencyHelpers
import OTel
import ServiceLifecycle
import Tracing
import Vapor

/// Logs and traces for the whole process, set up before the application is made.
///
/// - Logs: text as the console shows it, or JSON lines with `CASCADE_LOG_FORMAT=json`; either way
///   a line written while a span is current carries its `trace_id` and `span_id`.
/// - Traces: off unless `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is
///   set; then swift-otel exports every span over OTLP/HTTP (protobuf): one per request (Vapor's
///   `TracingMiddleware`) and one per block the writer commits (`block.commit`). The other
///   `OTEL_*` variables (service name, sampler, headers) are read as OpenTelemetry defines them.
public enum Telemetry {
    /// The exporter's background work, when traces are on: run it beside the application and
    /// stop it (flushing what is left) at the end.
    public final class Exporter: Sendable {
        let group: ServiceGroup
        let task = NIOLockedValueBox<Task<Void, Never>?>(nil)

        init(service: some Service, logger: Logger) {
            group = ServiceGroup(configuration: .init(services: [.init(service: service)], gracefulShutdownSignals: [], logger: logger))
        }

        public func start() {
            let group = self.group
            task.withLockedValue { $0 = Task { try? await group.run() } }
        }

        public func stop() async {
            await group.triggerGracefulShutdown()
            await task.withLockedValue { $0 }?.value
        }
    }

    /// Sets up logging and, when configured, tracing; answers the exporter to start.
    public static func bootstrap(_ env: inout Environment) throws -> Exporter? {
        let level = try Logger.Level.detect(from: &env)
        let json = Environment.get("CASCADE_LOG_FORMAT")?.lowercased() == "json"
        let console = Terminal()
        LoggingSystem.bootstrap({ label, provider in
            json ? JSONLogHandler(label: label, level: level, metadataProvider: provider) as any LogHandler
                 : ConsoleLogger(label: label, console: console, level: level, metadataProvider: provider)
        }, metadataProvider: OTel.makeLoggingMetadataProvider())
        guard tracesConfigured(ProcessInfo.processInfo.environment) else { return nil }
        var configuration = OTel.Configuration.default
        configuration.serviceName = "cascade"
        configuration.traces.enabled = true
        configuration.metrics.enabled = false  // Prometheus text at GET /metrics instead
        configuration.logs.enabled = false  // the process's own logs, with the trace ids in them
        configuration.traces.otlpExporter.protocol = .httpProtobuf
        let (tracer, service) = try OTel.makeTracingBackend(configuration: configuration)
        InstrumentationSystem.bootstrap(tracer)
        return Exporter(service: service, logger: Logger(label: "cascade.traces"))
    }

    static func tracesConfigured(_ environment: [String: String]) -> Bool {
        ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"].contains { !(environment[$0] ?? "").isEmpty }
    }
}

/// One JSON object a line: `time` (RFC 3339, milliseconds), `level`, `label`, `message`, then
/// every metadata key (the current span's `trace_id` and `span_id` among them), for log pipelines
/// that read JSON (Loki, Elasticsearch, 阿里云 SLS).
public struct JSONLogHandler: LogHandler {
    public let label: String
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    let write: @Sendable (String) -> Void

    public init(label: String, level: Logger.Level, metadataProvider: Logger.MetadataProvider?,
                write: @escaping @Sendable (String) -> Void = { line in FileHandle.standardOutput.write(Data(line.utf8)) }) {
        self.label = label
        self.logLevel = level
        self.metadataProvider = metadataProvider
        self.write = write
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields: [String: Any] = [:]
        for (key, value) in metadata.merging(metadataProvider?.get() ?? [:], uniquingKeysWith: { $1 }).merging(event.metadata ?? [:], uniquingKeysWith: { $1 }) {
            fields[key] = Self.plain(value)
        }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        fields["time"] = formatter.string(from: Date())
        fields["level"] = event.level.rawValue
        fields["label"] = label
        fields["message"] = event.message.description
        if event.level >= .warning { fields["source"] = "\(event.file):\(event.line)" }
        guard let data = try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys, .withoutEscapingSlashes]) else { return }
        write(String(decoding: data, as: UTF8.self) + "\n")
    }

    static func plain(_ value: Logger.Metadata.Value) -> Any {
        switch value {
        case .string(let s): s
        case .stringConvertible(let c): c.description
        case .array(let items): items.map(plain)
        case .dictionary(let d): d.mapValues(plain)
        }
    }
}
