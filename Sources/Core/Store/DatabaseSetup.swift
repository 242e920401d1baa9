import Fluent
import FluentPostgresDriver
import FluentSQLiteDriver
import Foundation
import SQLKit
import class Vapor.Application
import struct Vapor.Environment
import protocol Vapor.DebuggableError
import protocol Vapor.StorageKey

/// Where the data lives, from `DATABASE_URL`: `sqlite:///path/to/file.sqlite` (or
/// `sqlite://./relative.sqlite`) or `postgres://user:pass@host:port/db`.
public enum DatabaseLocation: Equatable, Sendable {
    case sqlite(path: String)
    case postgres(url: String, schema: String?)

    public init(url: String) throws {
        if url.hasPrefix("sqlite://") {
            let path = String(url.dropFirst("sqlite://".count))
            guard !path.isEmpty else { throw ConfigurationError("DATABASE_URL \(url) names no SQLite file") }
            self = .sqlite(path: path)
        } else if url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") {
            self = .postgres(url: url, schema: nil)
        } else {
            throw ConfigurationError("DATABASE_URL must start with sqlite:// or postgres://, not \(url.prefix(12))…")
        }
    }
}

public struct ConfigurationError: Error, CustomStringConvertible, DebuggableError {
    public var description: String
    public init(_ description: String) { self.description = description }
    public var identifier: String { "configuration" }
    public var reason: String { description }
}

extension Application {
    /// Connects Fluent (and so SQLKit) to the database and registers the SQL migrations.
    public func useDatabase(_ location: DatabaseLocation) throws {
        switch location {
        case .sqlite(let path):
            // The demo's default file lies in `.cascade/`, which a fresh clone does not have yet.
            let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            // One connection per event loop (the driver allows no more); a request waits for its
            // loop's connection for up to 30 s rather than fail at the first burst.
            databases.use(.sqlite(.file(path), connectionPoolTimeout: .seconds(30)), as: .sqlite)
        case .postgres(let url, let schema):
            let servers = try PostgresServers(url)
            storage[PostgresPoolKey.self] = PostgresPool(servers: servers, schema: schema, current: servers.urls[0])
            try usePostgres(servers.urls[0], schema: schema)
        }
        for migration in try SQLFileMigration.load(from: URL(fileURLWithPath: directory.workingDirectory).appendingPathComponent("Migrations")) {
            migrations.add(migration)
        }
    }

    /// The request pool as SQL. Once the databases are shut down (the process is stopping), a
    /// request or job still running is told the database is unavailable instead of trapping on
    /// Fluent's missing database.
    public var sql: any SQLDatabase {
        guard let database = try? database() else { return ShutDownDatabase(logger: logger, eventLoop: eventLoopGroup.any()) }
        return SQLiteWrites.sql(database)
    }

    /// The request pool as a Fluent database, or 503 once the databases are shut down (work
    /// still running as the process stops must not trap on Fluent's missing database).
    package func database() throws -> any Database {
        guard let database = databases.database(logger: logger, on: eventLoopGroup.any()) else { throw Unavailable("the platform is shutting down; try again shortly") }
        return database
    }

    /// What `sql` answers once the databases are shut down: every statement fails with 503.
    package struct ShutDownDatabase: SQLDatabase {
        package let logger: Logger
        package let eventLoop: any EventLoop
        package var dialect: any SQLDialect { PostgresDialect() }
        package var version: (any SQLDatabaseReportedVersion)? { nil }
        package func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) -> EventLoopFuture<Void> {
            eventLoop.makeFailedFuture(Unavailable("the platform is shutting down; try again shortly"))
        }
    }

    /// The PostgreSQL servers of `DATABASE_URL`, and the one the request pool uses now.
    package struct PostgresPool: Sendable {
        package var servers: PostgresServers
        package var schema: String?
        package var current: String
    }
    package struct PostgresPoolKey: StorageKey { package typealias Value = PostgresPool }
    package var postgresPool: PostgresPool? { storage[PostgresPoolKey.self] }

    private func usePostgres(_ url: String, schema: String?) throws {
        var config = try SQLPostgresConfiguration(url: url)
        config.searchPath = schema.map { [$0] }
        // Requests read while others wait on the database: several connections per event loop.
        let pool = DatabaseConfigurationFactory.postgres(configuration: config, maxConnectionsPerEventLoop: databasePoolSize, connectionPoolTimeout: .seconds(30))
        databases.use(DatabaseConfigurationFactory { RequestPool(base: pool.make()) }, as: .psql, isDefault: true)
    }

    /// PostgreSQL's request pool, whose shutdown never waits. Fluent shuts a pool down while it
    /// holds the lock every request takes to reach its database; the pool's shutdown in turn
    /// waits for the event loops, where requests may be waiting for that very lock. After a
    /// failover, moving the requests to the new primary then stopped the whole server. The old
    /// pool is now let go at once and closes on its own: its idle connections are closed, the
    /// requests waiting for one hear 503, and connections still lent out close when returned.
    package struct RequestPool: DatabaseConfiguration {
        package var base: any DatabaseConfiguration
        package var middleware: [any AnyModelMiddleware] {
            get { base.middleware }
            set { base.middleware = newValue }
        }

        package func makeDriver(for databases: Databases) -> any DatabaseDriver { Driver(base: base.makeDriver(for: databases)) }

        package struct Driver: DatabaseDriver {
            package let base: any DatabaseDriver
            package func makeDatabase(with context: DatabaseContext) -> any Database { base.makeDatabase(with: context) }
            package func shutdown() {
                let base = self.base
                Task.detached { await base.shutdownAsync() }
            }
            package func shutdownAsync() async { await base.shutdownAsync() }
        }
    }

    private struct PoolSizeKey: StorageKey { typealias Value = Int }

    /// PostgreSQL connections per event loop for requests (`CASCADE_DB_POOL`, default 4), set
    /// before `useDatabase`. The writer has its own connection besides.
    package var databasePoolSize: Int {
        get { storage[PoolSizeKey.self] ?? Environment.get("CASCADE_DB_POOL").flatMap(Int.init).map { max(1, min($0, 64)) } ?? 4 }
        set { storage[PoolSizeKey.self] = newValue }
    }

    /// Points the request pool at `url` (one of `DATABASE_URL`'s servers), after a failover: the
    /// old pool's connections are closed and new ones go to `url`. Nothing to do if it is there.
    package func pointPostgres(at url: String) async throws {
        guard var pool = postgresPool, pool.current != url else { return }
        logger.notice("database: requests now go to \(PostgresServers.hostPart(url))")
        try usePostgres(url, schema: pool.schema)
        pool.current = url
        storage[PostgresPoolKey.self] = pool
        // The next request opens the new pool; the old one closes on its own (`RequestPool`).
        databases.reinitialize(.psql)
    }

    /// The names of the migrations applied, in order.
    package func appliedMigrations() async throws -> [String] {
        try await sql.raw("SELECT name FROM _fluent_migrations ORDER BY name").all().map { try $0.decode(column: "name", as: String.self) }
    }

    /// Empties a scratch PostgreSQL database (a benchmark's): its pgbench clients are cut off and
    /// the whole public schema goes.
    package func wipeScratchPostgres() async throws {
        try await sql.raw("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend' AND application_name = 'pgbench'").run()
        try await sql.raw("DROP SCHEMA IF EXISTS public CASCADE").run()
        try await sql.raw("CREATE SCHEMA public").run()
    }

    /// Brings the schema up to date. SQLite then runs in write-ahead-log mode (kept in the file):
    /// readers never wait for the writer, and the writer waits only for another writer.
    public func migrateDatabase() async throws {
        if let pool = postgresPool, pool.servers.urls.count > 1 {
            // Several servers: the schema is written on the one that takes writes.
            let (url, connection) = try await pool.servers.connect(writes: true, on: eventLoopGroup.next(), logger: logger)
            try? await connection.close()
            try await pointPostgres(at: url)
        }
        if sql.dialect.name == "sqlite" {
            try await setSQLiteWAL()
            try await setSQLiteBusyTimeout()
        }
        try await autoMigrate()
    }

    /// SQLite keeps the mode in the file. Switching needs the file to itself for a moment, and
    /// when it cannot have it SQLite quietly answers the old mode: asked until it says `wal`.
    private func setSQLiteWAL() async throws {
        for _ in 0..<100 {
            let mode = try await sql.raw("PRAGMA journal_mode = WAL").first()?.decode(column: "journal_mode", as: String.self)
            if mode?.lowercased() == "wal" { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw ConfigurationError("the SQLite database would not switch to write-ahead logging; is another program holding it?")
    }

    /// How long an SQLite connection waits for another's write lock before it answers "busy"
    /// (which requests see as 503 with Retry-After), instead of spinning on it without end. Far
    /// beyond what a write takes, even a block of thousands of rows on a loaded machine: a 503
    /// means the database is stuck (another program holds it), never that it was only busy.
    package static let sqliteBusyTimeoutMs = 60_000

    /// The driver keeps one connection per event loop, for the life of the process: each gets the
    /// busy timeout once.
    private func setSQLiteBusyTimeout() async throws {
        for loop in eventLoopGroup.makeIterator() {
            let db = databases.database(.sqlite, logger: logger, on: loop)! as! any SQLDatabase
            _ = try await db.raw("PRAGMA busy_timeout = \(unsafeRaw: String(Self.sqliteBusyTimeoutMs))").all()
        }
    }
}

/// One file of `Migrations/`, applied once, inside a transaction, and recorded under its file
/// name. A `NNNN_name.postgres.sql` / `.sqlite.sql` pair stands in for one file where the two
/// databases must differ; each database runs only its own twin.
package struct SQLFileMigration: AsyncMigration {
    package let name: String
    package let statements: [String]
    package let dialect: String?

    package static let separator = "-- split"

    package static func load(from folder: URL) throws -> [SQLFileMigration] {
        // Commands that need no schema (verify --file, bench) run from anywhere.
        guard FileManager.default.fileExists(atPath: folder.path) else { return [] }
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".sql") }.sorted()
        return try files.map { file in
            let text = try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8)
            let parts = file.dropLast(4).split(separator: ".")
            let dialect = parts.count > 1 ? String(parts.last!) : nil
            let statements = text.components(separatedBy: "\n").split { $0.trimmingCharacters(in: .whitespaces) == separator }
                .map { $0.joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines) }
                .filter { statement in statement.split(separator: "\n").contains { !$0.hasPrefix("--") } }
            return SQLFileMigration(name: String(file.dropLast(4)), statements: statements, dialect: dialect.map { $0 == "postgres" ? "postgresql" : $0 })
        }
    }

    package func prepare(on database: any Database) async throws {
        let sql = database as! any SQLDatabase
        if let dialect, dialect != sql.dialect.name { return }
        try await database.transaction { db in
            let sql = db as! any SQLDatabase
            for statement in statements { try await sql.raw(SQLQueryString(statement)).run() }
        }
    }

    package func revert(on database: any Database) async throws {
        throw ConfigurationError("migration \(name) cannot be reverted: the schema only moves forward")
    }
}
