import Fluent
import FluentPostgresDriver
import FluentSQLiteDriver
import Foundation
import SQLKit
import Vapor

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
            databases.use(.sqlite(.file(path)), as: .sqlite)
        case .postgres(let url, let schema):
            var config = try SQLPostgresConfiguration(url: url)
            config.searchPath = schema.map { [$0] }
            databases.use(.postgres(configuration: config), as: .psql)
        }
        for migration in try SQLFileMigration.load(from: URL(fileURLWithPath: directory.workingDirectory).appendingPathComponent("Migrations")) {
            migrations.add(migration)
        }
    }

    public var sql: any SQLDatabase { db as! any SQLDatabase }  // both drivers are SQL databases
}

/// One file of `Migrations/`, applied once, inside a transaction, and recorded under its file
/// name. A `NNNN_name.postgres.sql` / `.sqlite.sql` pair stands in for one file where the two
/// databases must differ; each database runs only its own twin.
struct SQLFileMigration: AsyncMigration {
    let name: String
    let statements: [String]
    let dialect: String?

    static let separator = "-- split"

    static func load(from folder: URL) throws -> [SQLFileMigration] {
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

    func prepare(on database: any Database) async throws {
        let sql = database as! any SQLDatabase
        if let dialect, dialect != sql.dialect.name { return }
        try await database.transaction { db in
            let sql = db as! any SQLDatabase
            for statement in statements { try await sql.raw(SQLQueryString(statement)).run() }
        }
    }

    func revert(on database: any Database) async throws {
        throw ConfigurationError("migration \(name) cannot be reverted: the schema only moves forward")
    }
}
