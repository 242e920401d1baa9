import Foundation
import Logging
import NIOCore
import PostgresKit
import PostgresNIO

/// The PostgreSQL servers a `DATABASE_URL` names. After libpq, it may list several, tried in
/// order: `postgres://u:p@10.0.0.1:5432,10.0.0.2:5432/cascade?target_session_attrs=read-write`.
/// The writer always wants the one that takes writes (the primary); a read-only node takes the
/// first that answers unless `target_session_attrs=read-write` says otherwise.
package struct PostgresServers: Sendable, Equatable {
    /// One URL per server, in the order given, each naming that server alone.
    package var urls: [String]
    /// `target_session_attrs=read-write`: only a server that takes writes will do.
    package var readWrite: Bool

    package init(_ url: String) throws {
        let scheme: String
        if url.hasPrefix("postgres://") { scheme = "postgres://" } else if url.hasPrefix("postgresql://") { scheme = "postgresql://" } else {
            throw ConfigurationError("a PostgreSQL DATABASE_URL starts with postgres://")
        }
        let rest = url.dropFirst(scheme.count)
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = rest[..<slash], tail = rest[slash...]
        var userInfo = "", hostList = authority
        if let at = authority.lastIndex(of: "@") {
            userInfo = String(authority[...at])
            hostList = authority[authority.index(after: at)...]
        }
        let hosts = hostList.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        guard !hosts.isEmpty, hosts.allSatisfy({ !$0.isEmpty }) else {
            throw ConfigurationError("DATABASE_URL names an empty PostgreSQL host")
        }
        var path = String(tail), kept: [String] = []
        readWrite = false
        if let q = tail.firstIndex(of: "?") {
            path = String(tail[..<q])
            for parameter in tail[tail.index(after: q)...].split(separator: "&") {
                let parts = parameter.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts[0] == "target_session_attrs" else {
                    kept.append(String(parameter))
                    continue
                }
                switch parts.count > 1 ? parts[1] : "" {
                case "read-write", "primary": readWrite = true
                case "any": readWrite = false
                default: throw ConfigurationError("target_session_attrs must be read-write, primary or any")
                }
            }
        }
        let query = kept.isEmpty ? "" : "?" + kept.joined(separator: "&")
        urls = hosts.map { scheme + userInfo + $0 + path + query }
    }

    /// Whether the server at `url` takes writes (it is not a standby in recovery).
    package static func takesWrites(_ connection: PostgresConnection, logger: Logger) async throws -> Bool {
        let row = try await GuardedConnection(connection: connection, limit: GuardedConnection.answerLimit, logger: logger)
            .raw("SELECT pg_is_in_recovery() AS standby").first()
        return try row?.decode(column: "standby", as: Bool.self) == false
    }

    /// The first server, in order, that answers and (if `writes`) takes writes: its URL and a
    /// connection to it on `loop`. Throws the last server's error when none does.
    package func connect(writes: Bool, on loop: any EventLoop, logger: Logger) async throws -> (url: String, connection: PostgresConnection) {
        var last: any Error = ConfigurationError("DATABASE_URL names no PostgreSQL server")
        for url in urls {
            do {
                let config = try SQLPostgresConfiguration(url: url).coreConfiguration
                let connection = try await PostgresConnection.connect(on: loop, configuration: config, id: 1, logger: logger)
                if writes, try await !Self.takesWrites(connection, logger: logger) {
                    try? await connection.close()
                    last = Unavailable("\(Self.hostPart(url)) is a standby: it takes no writes")
                    continue
                }
                return (url, connection)
            } catch {
                last = error
            }
        }
        throw last
    }

    /// `host:port` of a single-server URL, for messages (never the password).
    package static func hostPart(_ url: String) -> String {
        let rest = url.split(separator: "/", maxSplits: 3)
        guard rest.count > 1 else { return url }
        let authority = rest[1]
        return String(authority.split(separator: "@").last ?? authority)
    }
}
