import FluentSQLiteDriver
import Foundation
import NIOConcurrencyHelpers
import SQLKit
import class Vapor.Application
import protocol Vapor.StorageKey

/// SQLite takes one writer at a time. Left to SQLite, a second writer waits in its busy handler,
/// asleep on one of the few threads every SQLite call runs on, while holding its connection (one
/// per event loop): under load the writer it waits for could not get a thread to finish, and
/// requests timed out waiting for a connection. Here the writes of this process take turns
/// before they reach SQLite: a write transaction, or a single statement that writes, waits its
/// turn without a thread or a connection, and SQLite never has to make it wait. Reads do not
/// take turns (write-ahead logging lets them run beside the writer).
package enum SQLiteWrites {
    /// How long a write waits for its turn before it is answered 503: far beyond any write's
    /// length, even a block of thousands of rows on a loaded machine.
    package static let turnLimit: Duration = .seconds(120)

    private static let turns = Turns()
    @TaskLocal private static var holding = false

    /// Runs `body` in this process's turn to write. Nested calls in the same task run at once.
    package static func inTurn<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        if holding { return try await body() }
        return try await turns.run(within: turnLimit, waiting: "the database is busy: a write") { try await $holding.withValue(true) { try await body() } }
    }

    /// Whether `query` writes: its first word, as SQLite will read it.
    package static func writes(_ query: any SQLExpression, on database: any SQLDatabase) -> Bool {
        var serializer = SQLSerializer(database: database)
        query.serialize(to: &serializer)
        let first = serializer.sql.drop { $0 == " " || $0 == "\n" || $0 == "(" }.prefix { $0.isLetter }.uppercased()
        return ["INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER", "WITH"].contains(first)
    }

    /// An SQLite database whose writing statements take their turn (`inTurn`).
    package struct Serialized: SQLDatabase {
        package let base: any SQLDatabase
        package var logger: Logger { base.logger }
        package var eventLoop: any EventLoop { base.eventLoop }
        package var dialect: any SQLDialect { base.dialect }
        package var version: (any SQLDatabaseReportedVersion)? { base.version }
        package var queryLogLevel: Logger.Level? { base.queryLogLevel }

        package func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) -> EventLoopFuture<Void> {
            guard SQLiteWrites.writes(query, on: base) else { return base.execute(sql: query, onRow) }
            let base = self.base
            return eventLoop.makeFutureWithTask { try await SQLiteWrites.inTurn { try await base.execute(sql: query, onRow) } }
        }

        package func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) async throws {
            guard SQLiteWrites.writes(query, on: base) else { return try await base.execute(sql: query, onRow) }
            let base = self.base
            try await SQLiteWrites.inTurn { try await base.execute(sql: query, onRow) }
        }

        package func withSession<R: Sendable>(_ closure: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
            try await base.withSession { session in try await closure(Serialized(base: session)) }
        }
    }

    /// `database` as SQL, its writes taking turns when it is SQLite.
    package static func sql(_ database: any Database) -> any SQLDatabase {
        let sql = database as! any SQLDatabase  // both drivers are SQL databases
        return sql.dialect.name == "sqlite" ? Serialized(base: sql) : sql
    }
}
