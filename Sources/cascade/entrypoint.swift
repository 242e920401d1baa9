import Commands
import Foundation
import Logging
import NIOCore
import NIOPosix
import Vapor

@main
enum Entrypoint {
    static func main() async {
        // Swift concurrency runs on the server's own event loops: a request's handler, the
        // sequencer and the database driver then share threads instead of handing each request
        // across two thread pools. Done first, before any other async work.
        _ = NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        let code = await run()
        exit(code)
    }

    static func run() async -> Int32 {
        do {
            var env = try Environment.detect()
            try takeDemoProfileOption(&env.arguments)
            try takeWitnessLogOptions(&env.arguments)
            // Logs (text or JSON lines) and, when OTEL_EXPORTER_OTLP_ENDPOINT is set, traces.
            let exporter = try Telemetry.bootstrap(&env)
            exporter?.start()
            let app = try await Application.make(env)
            var code: Int32 = 0
            do {
                try await configure(app)
                try await app.execute()
                try await app.asyncShutdown()
            } catch let failure as CommandFailure {
                try? await app.asyncShutdown()
                code = failure.exitCode
            } catch {
                app.logger.report(error: error)
                try? await app.asyncShutdown()
                code = 1
            }
            await exporter?.stop()
            return code
        } catch {
            FileHandle.standardError.write(Data("cascade: \(error)\n".utf8))
            return 1
        }
    }
}
