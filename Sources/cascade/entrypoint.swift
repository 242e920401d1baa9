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
            try LoggingSystem.bootstrap(from: &env)
            let app = try await Application.make(env)
            do {
                try await configure(app)
                try await app.execute()
                try await app.asyncShutdown()
                return 0
            } catch let failure as CommandFailure {
                try? await app.asyncShutdown()
                return failure.exitCode
            } catch {
                app.logger.report(error: error)
                try? await app.asyncShutdown()
                return 1
            }
        } catch {
            FileHandle.standardError.write(Data("cascade: \(error)\n".utf8))
            return 1
        }
    }
}
