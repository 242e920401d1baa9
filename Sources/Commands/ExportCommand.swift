import Core
import Web
import Fluent
import Foundation
import Ledger
import Vapor

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
