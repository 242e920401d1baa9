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
    }

    @Sendable package static func chain(req: Request) async throws -> Response {
        let viewer = try await viewer(req)
        guard viewer.seesAll else { throw Problem(.forbidden, "the chain explorer is for the regulator and the operator") }
        let blocks = try await req.application.sql.raw("SELECT height, hash, tx_count, time_ms FROM blocks ORDER BY height DESC LIMIT 30").all().map {
            BlockView(height: try $0.decode(column: "height", as: Int64.self), hash: String(try $0.decode(column: "hash", as: String.self).prefix(16)),
                      txCount: try $0.decode(column: "tx_count", as: Int64.self), time: Time.local(try $0.decode(column: "time_ms", as: Int64.self)))
        }
        let p = await req.application.chainVerification.current
        let r = p.result
        return try await render(req, "regulator/chain", title: "nav_chain", page: ChainPage(
            blocks: blocks, running: p.running, percent: p.blocksTotal > 0 ? min(100, p.blocksDone * 100 / p.blocksTotal) : 0, blocksDone: p.blocksDone,
            blocksTotal: p.blocksTotal, verified: r != nil && !p.running, ok: r?.ok ?? false, height: r?.height ?? 0, txCount: r?.txCount ?? 0,
            problems: r?.problems ?? [], seconds: r?.seconds ?? "", writerStopped: await req.application.sequencer?.broken), refresh: p.running)
    }

    /// The regulator's one button: starts a verification in the background and shows its progress.
    @Sendable package static func verifyChain(req: Request) async throws -> Response {
        let viewer = try await viewer(req)
        guard viewer.seesAll else { throw Problem(.forbidden, "verification is for the regulator and the operator") }
        try await req.application.chainVerification.start(req.application, by: viewer.caller.email)
        return redirect("/chain")
    }
}
