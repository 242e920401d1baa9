import Core
import Foundation
import Ledger
import SQLKit
import Vapor
import Web

/// `cascade follow --upstream URL --token T [--hostname H] [--port P]`: a read-only observer
/// with its own database (`DATABASE_URL`). `CASCADE_OBSERVER_EMAIL` and
/// `CASCADE_OBSERVER_PASSWORD` give the node a local sign-in for the regulator's pages.
package struct FollowCommand: AsyncCommand {
    package struct Signature: CommandSignature {
        @Option(name: "upstream", help: "The writer's base URL, e.g. https://cascade.example")
        package var upstream: String?
        @Option(name: "token", help: "An API key or session of a regulator or operator on the upstream")
        package var token: String?
        @Option(name: "hostname", help: "Where to listen (default 127.0.0.1)")
        package var hostname: String?
        @Option(name: "port", help: "Port to listen on (default 8080)")
        package var port: Int?
        @Option(name: "interval", help: "Seconds between polls (default 2)")
        package var interval: Int?
        package init() {}
    }

    package var help: String { "Runs a read-only observer node that verifies and keeps its own copy of the upstream's chain." }

    package func run(using context: CommandContext, signature: Signature) async throws {
        guard let upstream = signature.upstream, let token = signature.token else {
            context.console.error("follow: --upstream URL and --token T are required")
            throw CommandFailure(exitCode: 2, "missing arguments")
        }
        let app = context.application
        try await app.migrateDatabase()
        // The witnesses this observer trusts: a head they cosigned must be the one it verified.
        app.witnessSettings = try WitnessSettings.parse(witnesses: Environment.get("CASCADE_WITNESSES"), quorum: Environment.get("CASCADE_WITNESS_QUORUM"))
        let follower = try await Follower.load(app: app, upstream: upstream, token: token)
        app.follower = follower
        if let email = Environment.get("CASCADE_OBSERVER_EMAIL"), let password = Environment.get("CASCADE_OBSERVER_PASSWORD") {
            try await FollowCommand.localUser(app, follower: follower, email: email, password: password)
        }
        let interval = max(1, signature.interval ?? 2)
        let poller = Task {
            while !Task.isCancelled {
                do {
                    let added = try await follower.poll()
                    if added > 0 {
                        let height = await follower.height
                        app.logger.info("observer: \(added) blocks verified and stored, height \(height)")
                        if let email = Environment.get("CASCADE_OBSERVER_EMAIL"), let password = Environment.get("CASCADE_OBSERVER_PASSWORD") {
                            try? await FollowCommand.localUser(app, follower: follower, email: email, password: password)
                        }
                    }
                } catch {
                    app.logger.warning("observer: \(error)")
                }
                try? await Task.sleep(for: .seconds(interval))
            }
        }
        app.lifecycle.use(StopPolling(task: poller))
        // Vapor's own serve command listens, and stops cleanly on SIGINT or SIGTERM.
        var serve = CommandContext(console: context.console,
                                   input: CommandInput(arguments: ["cascade", "--hostname", signature.hostname ?? "127.0.0.1", "--port", String(signature.port ?? 8080)]))
        serve.application = app
        try await app.servers.asyncCommand.run(using: &serve)
    }

    package struct StopPolling: LifecycleHandler {
        package let task: Task<Void, Never>
        package func shutdownAsync(_ app: Application) async { task.cancel() }
    }

    /// A local sign-in bound to the chain's regulator, made once the chain names one.
    package static func localUser(_ app: Application, follower: Follower, email: String, password: String) async throws {
        guard try await OrgQueries.org(ofUserWithEmail: email, on: app.sql) == nil else { return }
        guard let org = try await OrgQueries.first(.regulator, on: app.sql) else { return }
        try await Accounts(sql: app.sql).createUser(org: org, email: email, name: "Observer", role: .admin, password: password, nowMs: app.wallClock.nowMs())
    }
}
