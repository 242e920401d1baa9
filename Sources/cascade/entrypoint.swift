import App
import Foundation
import Logging
import Vapor

@main
enum Entrypoint {
    static func main() async {
        let code = await run()
        exit(code)
    }

    static func run() async -> Int32 {
        do {
            var env = try Environment.detect()
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
