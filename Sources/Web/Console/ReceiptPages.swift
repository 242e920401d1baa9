import Core
import Foundation
import Ledger
import Leaf
import SQLKit
import Vapor

/// "Verify my receipt": anyone pastes an inclusion proof and sees it checked — the audit path
/// leads to the block's Merkle root, the header hashes to the block hash, the operator signed
/// it — and whether this node's own copy of that block is the same.
package enum ReceiptPages: ConsoleArea {
    package struct ReceiptPage: Encodable {
        package var proof: String
        package var checked: Bool
        package var ok: Bool
        package var problem: String
        package var matchesChain: Bool
        package var height: Int64
        package var transactionId: String
        /// The transaction log's part: checked (it carries one), its problem, the witnesses whose
        /// cosignature of the head verifies, and whether they make the quorum.
        package var logChecked = false
        package var logProblem = ""
        package var vouched: [String] = []
        package var witnessedByQuorum = false
        package var logIndex: Int64 = 0
        package var logSize: Int64 = 0
    }

    @Sendable package static func receiptForm(req: Request) async throws -> Response {
        try await receiptPage(req, ReceiptPage(proof: "", checked: false, ok: false, problem: "", matchesChain: false, height: 0, transactionId: ""))
    }

    package static func receiptPage(_ req: Request, _ page: ReceiptPage, status: HTTPResponseStatus = .ok) async throws -> Response {
        try await withPreSession(req) { try await render(req, "common/receipt", title: "receipt_title", page: page, status: status) }
    }

    @Sendable package static func checkReceipt(req: Request) async throws -> Response {
        let text = String((form(req)["proof"] ?? "").prefix(64 * 1024))
        var page = ReceiptPage(proof: text, checked: true, ok: false, problem: "", matchesChain: false, height: 0, transactionId: "")
        let proof: InclusionProof
        do {
            proof = try InclusionProof(json: try JSON.parse(Array(text.utf8)))
        } catch {
            page.problem = req.tr("receipt_unreadable") + " (\(error))"
            return try await receiptPage(req, page, status: .unprocessableEntity)
        }
        page.height = proof.blockHeight
        page.transactionId = proof.transactionId
        let sql = req.application.sql
        guard let key = try await ChainQueries.operatorKey(on: sql) else {
            page.problem = req.tr("receipt_no_chain")
            return try await receiptPage(req, page)
        }
        let profile = try await ChainQueries.profile(on: sql)
        if proof.profile != profile {
            page.problem = "the receipt is of a chain in the \(proof.profile.rawValue) profile; this chain is in \(profile.rawValue)"
        } else if let problem = proof.problem(sealerPublicKey: key) {
            page.problem = problem
        } else {
            page.ok = true
        }
        if proof.log != nil, let log = req.application.transactionLog {
            let settings = req.application.witnessSettings
            let (problem, vouched) = proof.logProblem(logKey: log.signer.verifier, witnesses: settings.witnesses.map(\.key))
            page.logChecked = true
            page.logProblem = problem ?? ""
            page.vouched = vouched
            page.witnessedByQuorum = problem == nil && settings.quorum > 0 && vouched.count >= settings.quorum
            page.logIndex = proof.log?.index ?? 0
            page.logSize = proof.log?.size ?? 0
            if problem != nil { page.ok = false }
        }
        let stored = try await ChainQueries.hash(at: proof.blockHeight, on: sql)
        page.matchesChain = stored == proof.hash
        return try await receiptPage(req, page)
    }
}
