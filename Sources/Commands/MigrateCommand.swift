import Core
import Web
import Fluent
import Foundation
import Ledger
import Vapor

/// `cascade migrate`: applies the files of `Migrations/` that have not run yet, in order.
struct MigrateCommand: AsyncCommand {
    struct Signature: CommandSignature { init() {} }
    var help: String { "Applies the SQL migrations in Migrations/ that have not run yet." }

    func run(using context: CommandContext, signature: Signature) async throws {
        let folder = URL(fileURLWithPath: context.application.directory.workingDirectory).appendingPathComponent("Migrations")
        guard FileManager.default.fileExists(atPath: folder.path) else {
            context.console.error("migrate: no Migrations/ folder in \(context.application.directory.workingDirectory); run from the repository root")
            throw CommandFailure(exitCode: 2, "no migrations")
        }
        try await context.application.migrateDatabase()
        let names = try await context.application.appliedMigrations()
        context.console.print("migrated: \(names.joined(separator: ", "))")
    }
}
