import FluentKit
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import PostgresKit
import PostgresNIO
import SQLKit

extension Database {
    /// One database transaction around `body`, which may not hang on a connection that the
    /// server closed under it, or that stopped answering.
    ///
    /// A statement written to a PostgreSQL connection after it closed is never answered: the
    /// connection's handlers are gone, and the statement with them. Fluent's transactions write
    /// each statement from the task running the body, so a server that went away between two
    /// statements (a failover, a restarted server) could leave a request waiting for ever. Here
    /// every statement of the transaction is written from the connection's own event loop, and
    /// only while it is open (the writer's connection is written the same way), and it must be
    /// answered within `limit`, or the connection is closed. Either way the transaction fails
    /// with `Unavailable` (503), rolled back or never committed.
    ///
    /// SQLite: the transaction waits for this process's turn to write (`SQLiteWrites`), then
    /// takes the write lock at its start (`BEGIN IMMEDIATE`). A transaction that read first and
    /// then wrote (SQLite's default, as Fluent begins them) failed at once with "database is
    /// locked" when another connection wrote in between: requests that only had to wait failed.
    package func sqlTransaction<T: Sendable>(within limit: TimeAmount = GuardedConnection.answerLimit,
                                     _ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        guard let postgres = self as? any PostgresDatabase else {
            let sqlite = self as! any SQLDatabase  // both drivers are SQL databases
            return try await SQLiteWrites.inTurn {
                try await sqlite.withSession { session in try await session.inTransaction(begin: "BEGIN IMMEDIATE", body) }
            }
        }
        return try await postgres.withConnection { connection in
            connection.eventLoop.makeFutureWithTask {
                try await GuardedConnection(connection: connection, limit: limit, logger: self.logger).inTransaction(begin: "BEGIN", body)
            }
        }.get()
    }
}

extension SQLDatabase {
    /// `begin`, then `body` on this connection, then `COMMIT`; `ROLLBACK` if anything throws.
    package func inTransaction<T: Sendable>(begin: SQLQueryString, _ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await raw(begin).run()
        do {
            let result = try await body(self)
            try await raw("COMMIT").run()
            return result
        } catch {
            try? await raw("ROLLBACK").run()
            throw error
        }
    }
}

/// One leased PostgreSQL connection, each statement written from its event loop while it is
/// open and answered within `limit` (see `Database.sqlTransaction`).
package struct GuardedConnection: SQLDatabase {
    package let connection: PostgresConnection
    package let limit: TimeAmount
    package let logger: Logger
    private var base: any SQLDatabase { connection.sql(logger: logger) }

    package init(connection: PostgresConnection, limit: TimeAmount, logger: Logger) {
        self.connection = connection
        self.limit = limit
        self.logger = logger
    }

    /// How long a statement in a transaction may go unanswered (`CASCADE_DB_ANSWER_SECONDS`,
    /// default 30): longer than any statement of ours takes, short of a client giving up.
    package static let answerLimit: TimeAmount = .seconds(ProcessInfo.processInfo.environment["CASCADE_DB_ANSWER_SECONDS"].flatMap(Int64.init).map { max(1, $0) } ?? 30)

    package var eventLoop: any EventLoop { connection.eventLoop }
    package var version: (any SQLDatabaseReportedVersion)? { nil }
    package var dialect: any SQLDialect { PostgresDialect() }
    package var queryLogLevel: Logger.Level? { .debug }

    package func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) -> EventLoopFuture<Void> {
        let loop = connection.eventLoop, connection = self.connection, limit = self.limit, base = self.base
        return loop.flatSubmit {
            // On the connection's loop, it cannot close between this check and the write below.
            guard !connection.isClosed else {
                return loop.makeFailedFuture(Unavailable("the database connection closed in the middle of a transaction; nothing of it was kept"))
            }
            let answer = loop.makePromise(of: Void.self)
            let pending = NIOLockedValueBox(true)
            let finish: @Sendable (Result<Void, any Error>) -> Void = { result in
                guard pending.withLockedValue({ was in defer { was = false }; return was }) else { return }
                answer.completeWith(result)
            }
            let deadline = loop.scheduleTask(in: limit) {
                finish(.failure(Unavailable("the database did not answer within \(limit.nanoseconds / 1_000_000) ms; the transaction was not committed")))
                connection.close().whenComplete { _ in }
            }
            base.execute(sql: query) { row in if pending.withLockedValue({ $0 }) { onRow(row) } }
                .whenComplete { result in
                    deadline.cancel()
                    finish(result)
                }
            return answer.futureResult
        }
    }

    package func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) async throws {
        try await execute(sql: query, onRow).get()
    }

    package func withSession<R: Sendable>(_ closure: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        try await closure(self)
    }
}
