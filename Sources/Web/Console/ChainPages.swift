import Core
import Foundation
import Ledger
import Leaf
import SQLKit
import Vapor

/// The chain: the regulator's and operator's explorer and one-click verification.
package enum ChainPages: ConsoleArea {
    package struct BlockView: Encodable {
        package var height: Int64
        package var hash: String
        package var txCount: Int64
        package var time: String
    }

    package struct ChainPage: Encodable {
        package var blocks: [BlockView]
        package var running: Bool
        package var percent: Int64
        package var blocksDone: Int64
        package var blocksTotal: Int64
        package var verified: Bool
        package var ok: Bool
        package var height: Int64
        package var txCount: Int64
        package var problems: [String]
        package var seconds: String
        /// Why the writer stopped accepting transactions (drift found, a chain it cannot take up).
        package var writerStopped: String?
        /// The chain's crypto profile (`ed25519-sha256`, `sm2-sm3`), and what it is, in the reader's language.
        package var profile: String
        package var profileText: String
        /// The witnesses the writer sends the log's heads to: how far each has cosigned, and a
        /// refusal that says it saw another history.
        package var witnesses: [WitnessView]
        package var logSize: Int64
    }

    package struct WitnessView: Encodable {
        package var name: String
        package var cosignedSize: Int64
        package var behind: Int64
        package var problem: String
    }

    @Sendable package static func chain(req: Request) async throws -> Response {
        let viewer = try await viewer(req)
        guard viewer.seesAll else { throw Problem(.forbidden, "the chain explorer is for the regulator and the operator") }
        let headers = try await ChainQueries.latestHeaders(limit: 30, on: req.application.sql)
        let progress = await req.application.chainVerification.current
        let profile = try await ChainQueries.profile(on: req.application.sql)
        var page = model(headers, progress: progress, writerStopped: await req.application.sequencer?.broken, profile: profile,
                         profileText: req.tr(profile == .sm2Sm3 ? "profile_sm2_sm3" : "profile_ed25519_sha256"))
        page.logSize = try await LogQueries.size(on: req.application.sql)
        let names = Dictionary(req.application.witnessSettings.witnesses.map { ($0.key.verifierKey, $0.key.name) }, uniquingKeysWith: { a, _ in a })
        page.witnesses = (await req.application.logCosigning?.standings() ?? []).map { s in
            WitnessView(name: names[s.witness] ?? s.witness, cosignedSize: s.cosignedSize, behind: max(0, page.logSize - s.cosignedSize), problem: s.problem ?? "")
        }
        return try await render(req, "regulator/chain", title: "nav_chain", page: page, refresh: progress.running)
    }

    /// The latest blocks, and the verification running or its last result.
    package static func model(_ headers: [ChainQueries.Header], progress p: ChainVerification.Progress, writerStopped: String?, profile: CryptoProfile, profileText: String) -> ChainPage {
        let r = p.result
        return ChainPage(
            blocks: headers.map { BlockView(height: $0.height, hash: String($0.hash.prefix(16)), txCount: $0.txCount, time: Time.local($0.timeMs)) },
            running: p.running, percent: p.blocksTotal > 0 ? min(100, p.blocksDone * 100 / p.blocksTotal) : 0, blocksDone: p.blocksDone,
            blocksTotal: p.blocksTotal, verified: r != nil && !p.running, ok: r?.ok ?? false, height: r?.height ?? 0, txCount: r?.txCount ?? 0,
            problems: r?.problems ?? [], seconds: r?.seconds ?? "", writerStopped: writerStopped,
            profile: profile.rawValue, profileText: profileText, witnesses: [], logSize: 0)
    }

    /// The regulator's one button: starts a verification in the background and shows its progress.
    @Sendable package static func verifyChain(req: Request) async throws -> Response {
        let viewer = try await viewer(req)
        guard viewer.seesAll else { throw Problem(.forbidden, "verification is for the regulator and the operator") }
        try await req.application.chainVerification.start(req.application, by: viewer.caller.email)
        return redirect("/chain")
    }
}
