import Core
import Fluent
import Ledger
import SQLKit
import Vapor

package enum NodeController {
    package struct Status: Content {
        package var role: String
        package var height: Int64
        package var businessDate: String
        package var upstream: String?
        package var state: String?
        package var problem: String?
        /// The chain's crypto profile (SPEC §4): `ed25519-sha256` or `sm2-sm3`.
        package var profile: String = CryptoProfile.standard.rawValue
        /// The transaction log's note verifier key (`origin+keyhash+base64`), on the node that signs its heads.
        package var logKey: String?
        /// Each witness the writer sends heads to: the size it last cosigned, and what went wrong.
        package var witnesses: [WitnessStanding]?
    }

    package struct WitnessStanding: Content {
        package var verifierKey: String
        package var cosignedSize: Int64
        package var problem: String?
    }

    /// Every configured witness's standing, as the writer's cosigning holds it (never waiting for the database).
    static func witnesses(_ app: Application) async -> [WitnessStanding]? {
        guard let cosigning = app.logCosigning else { return nil }
        return await cosigning.standings().map { WitnessStanding(verifierKey: $0.witness, cosignedSize: $0.cosignedSize, problem: $0.problem) }
    }

    /// `{role, height, businessDate}`: height is the last stored block (genesis is 0; -1 before it).
    package static func query(on sql: any SQLDatabase, nowMs: Int64) async throws -> Status {
        Status(role: "writer", height: try await sql.storedHeight(), businessDate: BusinessDate(epochMs: nowMs).description, state: "writing",
               profile: try await ChainQueries.profile(on: sql).rawValue)
    }

    /// `Public/openapi.yaml`, the description of every route.
    @Sendable package static func openAPI(req: Request) async throws -> Response {
        let path = req.application.directory.publicDirectory + "openapi.yaml"
        guard let data = FileManager.default.contents(atPath: path) else { throw Problem(.notFound, "the OpenAPI document is not installed") }
        var headers = HTTPHeaders()
        headers.replaceOrAdd(name: .contentType, value: "application/yaml; charset=utf-8")
        return Response(status: .ok, headers: headers, body: .init(data: data))
    }

    /// `{role, height, businessDate, state}`; an observer adds `upstream` and, once halted, `problem`.
    /// A writer's state is `writing`, `reconnecting` (to its database) or `stopped` (with the
    /// problem); a read-only replica's is `reading`.
    @Sendable package static func status(req: Request) async throws -> Status {
        if let follower = req.application.follower {
            let s = await follower.status
            var status = Status(role: "observer", height: s.height, businessDate: req.application.businessDate.description,
                                upstream: s.upstream, state: s.state.rawValue, problem: s.problem)
            status.profile = (try? await ChainQueries.profile(on: req.application.sql))?.rawValue ?? status.profile
            return status
        }
        if !req.application.readOnlyReplica, let sequencer = req.application.sequencer {
            // The writer knows its own height: its status never waits for the database, whatever
            // state that is in (a failover, a server that does not answer).
            var status = Status(role: "writer", height: await sequencer.height, businessDate: req.application.businessDate.description,
                                state: "writing", profile: sequencer.signingKeys.profile.rawValue, logKey: req.application.transactionLog?.verifierKey,
                                witnesses: await witnesses(req.application))
            if let stopped = await sequencer.broken {
                status.state = "stopped"
                status.problem = stopped
            } else if await sequencer.recovering != nil {
                status.state = "reconnecting"
            }
            return status
        }
        var status = try await query(on: req.application.sql, nowMs: req.application.ledgerClock.nowMs())
        if req.application.readOnlyReplica {
            status.role = "replica"
            status.state = "reading"
        }
        return status
    }
}
