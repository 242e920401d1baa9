import FluentKit
import Foundation
import SQLKit
import Vapor

@testable import App

/// A fresh database for one test: a new SQLite file, or — when `CASCADE_TEST_POSTGRES_URL` is
/// set — a new schema in that PostgreSQL, dropped afterwards. Migrated, ready to use.
enum TestDatabase {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let vectors = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/vectors")

    static var postgresURL: String? { ProcessInfo.processInfo.environment["CASCADE_TEST_POSTGRES_URL"].flatMap { $0.isEmpty ? nil : $0 } }

    static func with(arguments: [String] = [], _ body: (Application) async throws -> Void) async throws {
        let app = try await Application.make(Environment(name: "testing", arguments: ["cascade"] + arguments))
        app.directory = DirectoryConfiguration(workingDirectory: packageRoot.path + "/")
        let name = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased()
        var sqliteFile: URL?
        do {
            if let url = postgresURL {
                app.storage[SchemaKey.self] = name
                try app.useDatabase(.postgres(url: url, schema: name))
                try await app.sql.raw("CREATE SCHEMA \(ident: name)").run()
            } else {
                sqliteFile = FileManager.default.temporaryDirectory.appendingPathComponent("cascade-\(name).sqlite")
                try app.useDatabase(.sqlite(path: sqliteFile!.path))
            }
            try await app.autoMigrate()
            try await body(app)
        } catch {
            try? await cleanUp(app, schema: name, file: sqliteFile)
            throw error
        }
        try await cleanUp(app, schema: name, file: sqliteFile)
    }

    private struct SchemaKey: StorageKey { typealias Value = String }

    /// The store a writer uses on this database. On PostgreSQL that is the one production uses:
    /// this test's writer lock is taken, and blocks go through the connection holding it (the
    /// lock is let go when the application shuts down).
    static func writerStore(_ app: Application) async throws -> LedgerStore {
        guard let url = postgresURL, let schema = app.storage[SchemaKey.self] else { return LedgerStore(db: app.db) }
        let lock = try await WriterLock.acquire(.postgres(url: url, schema: schema), logger: app.logger)
        Platform.hold(lock, in: app)
        return LedgerStore(db: app.db, writer: lock.connection)
    }

    static func cleanUp(_ app: Application, schema: String, file: URL?) async throws {
        if postgresURL != nil { try await app.sql.raw("DROP SCHEMA \(ident: schema) CASCADE").run() }
        try await app.asyncShutdown()
        if let file { try? FileManager.default.removeItem(at: file) }
    }
}
