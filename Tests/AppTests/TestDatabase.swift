import FluentKit
import Foundation
import PostgresKit
import PostgresNIO
import SQLKit
import Vapor

@testable import Core
@testable import Web
@testable import Commands

/// A fresh database for one test: a new SQLite file, or — when `CASCADE_TEST_POSTGRES_URL` is
/// set — a new schema in that PostgreSQL, dropped afterwards. Migrated, ready to use.
enum TestDatabase {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let vectors = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/vectors")

    static var postgresURL: String? { ProcessInfo.processInfo.environment["CASCADE_TEST_POSTGRES_URL"].flatMap { $0.isEmpty ? nil : $0 } }

    /// `ownDatabase`: on PostgreSQL, a database of the test's own (named `TestDatabase.name(app)`)
    /// instead of a schema, so that the test can take it away from every connection at once.
    /// `sqlite`: an SQLite file whatever the run's database (a witness's own store, beside a
    /// platform on PostgreSQL, without taking more of its connections).
    static func with(arguments: [String] = [], ownDatabase: Bool = false, sqlite: Bool = false, _ body: (Application) async throws -> Void) async throws {
        // Accounts made by the hundreds: bcrypt at its lowest cost (at 12, they were most of the run's CPU).
        Passwords.useLowestCostForTests()
        let app = try await Application.make(Environment(name: "testing", arguments: ["cascade"] + arguments))
        app.directory = DirectoryConfiguration(workingDirectory: packageRoot.path + "/")
        let name = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased()
        var sqliteFile: URL?
        do {
            // Many tests run at once against one server: a small pool each.
            app.databasePoolSize = 1
            if sqlite {
                sqliteFile = FileManager.default.temporaryDirectory.appendingPathComponent("cascade-\(name).sqlite")
                try app.useDatabase(.sqlite(path: sqliteFile!.path))
            } else if ownDatabase, let url = postgresURL {
                try await admin("CREATE DATABASE \(name)")
                app.storage[DatabaseKey.self] = name
                try app.useDatabase(.postgres(url: url.replacingDatabase(with: name), schema: nil))
            } else if let url = postgresURL {
                app.storage[SchemaKey.self] = name
                try app.useDatabase(.postgres(url: url, schema: name))
                try await app.sql.raw("CREATE SCHEMA \(ident: name)").run()
            } else {
                sqliteFile = FileManager.default.temporaryDirectory.appendingPathComponent("cascade-\(name).sqlite")
                try app.useDatabase(.sqlite(path: sqliteFile!.path))
            }
            try await app.migrateDatabase()
            try await body(app)
        } catch {
            try? await cleanUp(app, schema: name, file: sqliteFile)
            throw error
        }
        try await cleanUp(app, schema: name, file: sqliteFile)
    }

    private struct SchemaKey: StorageKey { typealias Value = String }
    private struct DatabaseKey: StorageKey { typealias Value = String }

    /// The test's own PostgreSQL database, when it has one.
    static func ownDatabase(_ app: Application) -> String? { app.storage[DatabaseKey.self] }

    /// This test's schema and the advisory key its writer locks.
    static func writerLockKey(_ app: Application) async throws -> (schema: String, key: Int64) {
        let schema = try await app.sql.raw("SELECT current_schema() AS s").first()!.decode(column: "s", as: String.self)
        return (schema, WriterLock.advisoryKey(schema: schema))
    }

    /// `pg_locks` rows of advisory lock `key`, held (`granted`) or waited for.
    static func lockRows(_ key: Int64, granted: Bool) -> SQLQueryString {
        let k = UInt64(bitPattern: key)
        return "locktype = 'advisory' AND granted = \(unsafeRaw: granted ? "true" : "false") AND classid::bigint = \(bind: Int64(k >> 32)) AND objid::bigint = \(bind: Int64(k & 0xFFFF_FFFF))"
    }

    /// Ends the session holding this test's writer lock; how many were ended.
    static func endWriterLockHolder(_ app: Application) async throws -> Int {
        let (_, key) = try await writerLockKey(app)
        return try await app.sql.raw("SELECT pg_terminate_backend(pid) AS ended FROM pg_locks WHERE \(lockRows(key, granted: true))").all().count
    }

    /// A connection of its own to the test server's main database.
    static func connection() async throws -> PostgresConnection {
        let config = try SQLPostgresConfiguration(url: postgresURL!).coreConfiguration
        return try await PostgresConnection.connect(on: MultiThreadedEventLoopGroup.singleton.next(), configuration: config, id: 9, logger: Logger(label: "test.admin"))
    }

    /// One statement on the test server's main database, on a connection of its own.
    static func admin(_ statement: String) async throws {
        let connection = try await connection()
        do {
            _ = try await connection.query(PostgresQuery(unsafeSQL: statement), logger: connection.logger)
        } catch {
            try? await connection.close()
            throw error
        }
        try await connection.close()
    }

    /// Takes the test's own database away from everyone (`down`: connections ended, new ones
    /// refused), or gives it back.
    static func outage(_ app: Application, down: Bool) async throws {
        let name = ownDatabase(app)!
        try await admin("ALTER DATABASE \(name) ALLOW_CONNECTIONS \(down ? "false" : "true")")
        if down { try await admin("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '\(name)'") }
    }

    /// The store a writer uses on this database. On PostgreSQL that is the one production uses:
    /// this test's writer lock is taken, and blocks go through the connection holding it (the
    /// lock is let go when the application shuts down).
    static func writerStore(_ app: Application) async throws -> LedgerStore {
        guard let url = postgresURL else { return LedgerStore(db: app.db) }
        let location: DatabaseLocation
        if let own = ownDatabase(app) {
            location = .postgres(url: url.replacingDatabase(with: own), schema: nil)
        } else if let schema = app.storage[SchemaKey.self] {
            location = .postgres(url: url, schema: schema)
        } else {
            return LedgerStore(db: app.db)
        }
        let lock = try await WriterLock.acquire(location, logger: app.logger)
        Platform.hold(lock, in: app)
        return LedgerStore(db: app.db, writer: lock.connection)
    }

    /// How this test's writer gets its database back: through the lock `writerStore` took.
    static func reconnect(_ app: Application) -> Sequencer.Reconnect {
        guard let lock = Platform.heldLock(app) else { return .sameStore }
        var reconnect = Sequencer.Reconnect.through(lock, app)
        reconnect.firstDelay = .milliseconds(10)
        reconnect.maxDelay = .milliseconds(200)
        reconnect.fateWait = .seconds(1)
        return reconnect
    }

    static func cleanUp(_ app: Application, schema: String, file: URL?) async throws {
        if let own = ownDatabase(app) {
            try await app.asyncShutdown()
            try await admin("DROP DATABASE IF EXISTS \(own) WITH (FORCE)")
            return
        }
        // The application shuts down whatever the drop does: a writer lock's connection must be
        // closed before it goes.
        var dropped: (any Error)?
        if postgresURL != nil, file == nil {
            do { try await app.sql.raw("DROP SCHEMA \(ident: schema) CASCADE").run() } catch { dropped = error }
        }
        try await app.asyncShutdown()
        if let dropped { throw dropped }
        if let file { try? FileManager.default.removeItem(at: file) }
    }
}

/// Waits until `condition` holds, checking every 10 ms, for at most `seconds`: for what another
/// task or process does in its own time. Fails the test when the deadline passes.
func poll(_ what: String, seconds: Double = 20, _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(10))
    }
    throw ConfigurationError("timed out after \(seconds) s waiting for \(what)")
}

extension String {
    /// A PostgreSQL URL naming another database on the same server.
    func replacingDatabase(with name: String) -> String {
        let (base, query) = split(separator: "?", maxSplits: 1).map(String.init).splitFirst()
        let server = base[..<base.lastIndex(of: "/")!]
        return server + "/" + name + (query.map { "?" + $0 } ?? "")
    }
}

extension Array where Element == String {
    fileprivate func splitFirst() -> (String, String?) { (self[0], count > 1 ? self[1] : nil) }
}
