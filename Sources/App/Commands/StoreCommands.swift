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
        let names = try await context.application.sql.raw("SELECT name FROM _fluent_migrations ORDER BY name").all()
            .map { try $0.decode(column: "name", as: String.self) }
        context.console.print("migrated: \(names.joined(separator: ", "))")
    }
}

/// `cascade export --out chain.jsonl [--from-height N]`: the stored chain as JSON Lines.
struct ExportCommand: AsyncCommand {
    struct Signature: CommandSignature {
        @Option(name: "out", help: "Where to write the export (default: standard output).")
        var out: String?
        @Option(name: "from-height", help: "First block to export (default 0).")
        var fromHeight: Int64?
        init() {}
    }

    var help: String { "Writes the stored chain as JSON Lines, one block per line." }

    func run(using context: CommandContext, signature: Signature) async throws {
        let store = LedgerStore(db: context.application.db)
        let handle: FileHandle
        if let out = signature.out {
            guard FileManager.default.createFile(atPath: out, contents: nil) else {
                context.console.error("export: cannot create \(out)")
                throw CommandFailure(exitCode: 2, "cannot create \(out)")
            }
            handle = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
        } else {
            handle = FileHandle.standardOutput
        }
        var blocks = 0
        try await store.exportLines(fromHeight: signature.fromHeight ?? 0) { line in
            handle.write(Data(line + [0x0A]))
            blocks += 1
        }
        if signature.out != nil {
            try handle.close()
            context.console.print("exported \(blocks) blocks to \(signature.out!)")
        }
    }
}
