import Core
import Foundation
import Ledger
import Vapor

/// `cascade verify-receipt FILE --log-key K [--witnesses "K1;K2"] [--quorum N] [--sealer-key B64]`:
/// checks a receipt a supplier saved (`GET /transactions/{id}/proof`) offline, with keys it trusts:
/// the transaction sits at its index in a head of the transaction log signed by the log's key,
/// and that head is cosigned by at least `quorum` of the witnesses named (all of them by
/// default); with the sealer's key, the block header too. Exit status 0 only when all holds.
struct VerifyReceiptCommand: AsyncCommand {
    struct Signature: CommandSignature {
        @Argument(name: "file", help: "The receipt: the JSON of GET /transactions/{id}/proof.")
        var file: String

        @Option(name: "log-key", help: "The transaction log's note verifier key (GET /node/status: logKey).")
        var logKey: String?

        @Option(name: "witnesses", help: "The witnesses' verifier keys, separated by ;")
        var witnesses: String?

        @Option(name: "quorum", help: "How many of them must have cosigned the head (default: all).")
        var quorum: Int?

        @Option(name: "sealer-key", help: "The operator's public key in base64, to check the block header's signature too.")
        var sealerKey: String?

        init() {}
    }

    var help: String { "Checks a saved receipt offline: its place in the transaction log, the log's signature and the witnesses' cosignatures." }

    func run(using context: CommandContext, signature: Signature) async throws {
        func fail(_ why: String) throws -> Never {
            context.console.error("FAILED \(why)")
            throw CommandFailure(exitCode: 1, why)
        }
        guard let bytes = FileManager.default.contents(atPath: signature.file) else { try fail("cannot read \(signature.file)") }
        let proof: InclusionProof
        do {
            proof = try InclusionProof(json: try JSON.parse(Array(bytes)))
        } catch {
            try fail("the receipt cannot be read: \(error)")
        }
        guard let logKeyText = signature.logKey else { try fail("--log-key is required: the log's verifier key, from GET /node/status") }
        let logKey: NoteVerifier
        let witnesses: [CosignatureKey]
        do {
            logKey = try NoteVerifier(verifierKey: logKeyText)
            witnesses = try (signature.witnesses ?? "").split(separator: ";").map { try CosignatureKey(verifierKey: $0.trimmingCharacters(in: .whitespaces)) }
        } catch {
            try fail("a key is not a verifier key: \(error)")
        }
        let quorum = signature.quorum ?? witnesses.count
        guard quorum >= 0, quorum <= witnesses.count else { try fail("--quorum must lie between 0 and the \(witnesses.count) witnesses named") }
        if let sealer = signature.sealerKey {
            guard let key = Base64.decode(sealer) else { try fail("--sealer-key is not base64") }
            if let problem = proof.problem(sealerPublicKey: key) { try fail("the block: \(problem)") }
            context.console.print("block \(proof.blockHeight): the audit path leads to its txRoot and the sealer signed its header")
        }
        let (problem, vouched) = proof.logProblem(logKey: logKey, witnesses: witnesses)
        if let problem { try fail(problem) }
        context.console.print("transaction \(proof.transactionId): leaf \(proof.log!.index) of the log \(logKey.name) at size \(proof.log!.size), signed by the log's key")
        guard vouched.count >= quorum else {
            try fail("the head is cosigned by \(vouched.count) of the \(quorum) witnesses required (\(vouched.joined(separator: ", ")))")
        }
        context.console.print("OK witnessed by \(vouched.count) of \(witnesses.count) (quorum \(quorum)): \(vouched.joined(separator: ", "))")
    }
}
