import Core
import Web
import Leaf
import LeafKit
import NIOConcurrencyHelpers
import Vapor

/// Builds the application: the database, the middleware, the routes and the commands. The
/// writer itself (lock, keys, sequencer) starts in `serve` and `demo`.
public func configure(_ app: Application) async throws {
    // The sandboxes play the outside world, and a witness is a bank's or the regulator's: none
    // has a database of the platform's.
    let sandbox = ["wallet-sandbox", "bank-sandbox", "witness", "verify-receipt"].contains(CommandLine.arguments.dropFirst().first ?? "")
    if !sandbox, app.environment != .testing || Environment.get("DATABASE_URL") != nil {
        try app.useDatabase(DatabaseLocation(url: try databaseURL(app.environment)))
    }
    app.loginThrottle = LoginThrottle()
    app.chainVerification = ChainVerification()
    app.background = BackgroundWork()
    // SIGTERM: requests still running after this are cut off, so that the process stops in seconds.
    app.http.server.configuration.shutdownTimeout = .seconds(3)
    app.lifecycle.use(BackgroundWork.Stopper())
    app.idempotencyInFlight = NIOLockedValueBox([])
    app.approvalsInFlight = NIOLockedValueBox([])
    app.registrationsInFlight = NIOLockedValueBox([])
    app.walletChecks = TakingTurns()
    app.earlyPaymentMarkets = TakingTurns(waiting: "the early-payment market is clearing")
    app.webhookRegistrations = TakingTurns(waiting: "another of the organisation's webhook endpoints is being registered")
    app.inboxReading = NIOLockedValueBox(false)
    app.monitoringAlerts = .fromEnvironment()
    app.rails = ["bank": BankTransferRail.fromEnvironment()]
    if let ecny = EcnyRail.fromEnvironment(app) { app.rails["ecny"] = ecny }
    app.middleware = Middlewares()
    app.makeMetrics()
    // A span for every request (a no-op unless traces are configured: Telemetry).
    app.middleware.use(TracingMiddleware(), at: .beginning)
    app.middleware.use(RequestMetrics())
    app.middleware.use(SecurityHeaders())
    app.middleware.use(ProblemMiddleware())
    app.middleware.use(MultipartGuard())
    app.middleware.use(ReadOnlyNode())
    app.middleware.use(PublicFiles(files: FileMiddleware(publicDirectory: app.directory.publicDirectory)))
    let templates = app.directory.workingDirectory + "Templates/"
    try ConsolePages.useTemplates(templates, on: app)
    app.routes.defaultMaxBodySize = "64kb"
    try routes(app)
    app.asyncCommands.use(WriterServeCommand(), as: "serve", isDefault: true)
    app.asyncCommands.use(DemoCommand(), as: "demo")
    app.asyncCommands.use(FollowCommand(), as: "follow")
    app.asyncCommands.use(MigrateCommand(), as: "migrate")
    app.asyncCommands.use(ExportCommand(), as: "export")
    app.asyncCommands.use(VerifyCommand(), as: "verify")
    app.asyncCommands.use(BenchCommand(), as: "bench")
    app.asyncCommands.use(WalletSandboxCommand(), as: "wallet-sandbox")
    app.asyncCommands.use(BankSandboxCommand(), as: "bank-sandbox")
    app.asyncCommands.use(WitnessCommand(), as: "witness")
    app.asyncCommands.use(VerifyReceiptCommand(), as: "verify-receipt")
}

/// `DATABASE_URL`, or outside production the embedded demo database in `.cascade/`, where
/// `.gitignore` keeps it, its master key and its writer lock out of commits. Production names
/// its database explicitly or does not start.
func databaseURL(_ environment: Environment) throws -> String {
    if let url = Environment.get("DATABASE_URL"), !url.isEmpty { return url }
    guard environment != .production else {
        throw ConfigurationError("DATABASE_URL is not set: production needs sqlite:///path or postgres://… named explicitly")
    }
    return "sqlite://./.cascade/demo.sqlite"
}
