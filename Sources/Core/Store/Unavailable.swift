import FluentSQLiteDriver
import Foundation
import NIOCore
import PostgresNIO
import class Vapor.Application
import protocol Vapor.StorageKey

/// The platform cannot answer this request just now, through no fault of the request: the
/// writer is reconnecting to its database, or the database cannot be reached or is busy. The
/// caller gets `503 unavailable` with `Retry-After`, and nothing was changed — or, for a ledger
/// operation whose block's fate is unknown, the transaction noted on its idempotency key tells a
/// retry what became of it once the writer is back.
package struct Unavailable: Error, CustomStringConvertible {
    package var description: String

    package init(_ description: String) { self.description = description }

    /// The reason, in the caller's terms, when `error` is the database being out of reach or busy
    /// rather than anything the request did; nil for every other error.
    package static func databaseFault(_ error: any Error) -> String? {
        switch error {
        case let e as Unavailable:
            return e.description
        case is ConnectionPoolTimeoutError, is ConnectionPoolError:
            return "the database is busy; try again shortly"
        case let e as PSQLError:
            switch e.code {
            case .connectionError, .serverClosedConnection, .clientClosedConnection, .uncleanShutdown, .poolClosed,
                 .sslUnsupported, .failedToAddSSLHandler:
                return "the database cannot be reached; try again shortly"
            case .server:
                guard let state = e.serverInfo?[.sqlState] else { return nil }
                // 08: connection exception; 57P0x: the server is shutting down or starting;
                // 25006: a standby refuses writes (mid-failover); 40: serialisation, deadlock;
                // 53: out of resources (too many connections); 55: not in a state to serve (a database
                // not accepting connections, a lock not available).
                if state.hasPrefix("08") || state.hasPrefix("57P") || state == "25006" || state.hasPrefix("40") || state.hasPrefix("53") || state.hasPrefix("55") {
                    return "the database is unavailable or busy; try again shortly"
                }
                return nil
            default:
                return nil
            }
        case let e as SQLiteError:
            switch e.reason {
            case .busy, .locked, .busyTimeout, .busyInRecovery, .busyInSnapshot:
                return "the database is busy; try again shortly"
            default:
                return nil
            }
        case is ChannelError, is IOError, is NIOConnectionError:
            return "the database cannot be reached; try again shortly"
        default:
            return nil
        }
    }
}
