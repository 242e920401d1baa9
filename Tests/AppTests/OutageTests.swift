import Foundation
import Ledger
import NIOConcurrencyHelpers
import PostgresNIO
import SQLKit
import Testing
import VaporTesting

@testable import Core
@testable import Web
@testable import Commands

/// The database goes away under a running platform (every connection ended, new ones refused,
/// as while PostgreSQL restarts) and comes back. Meanwhile every request answers `503
/// unavailable` with `Retry-After`, never a 500 and never a wrong answer; afterwards the writer
/// has reconnected by itself, nothing acknowledged is lost and nothing was done twice.
@Suite(.enabled(if: TestDatabase.postgresURL != nil)) struct OutageTests {
    @Test func whileTheDatabaseIsAwayEveryoneHears503AndAfterwardsTheWriterGoesOn() async throws {
        try await DemoPlatform.with(ownDatabase: true) { d in
            // setup
            let tier2 = d.orgs["tier2"]!
            let tokens = try await d.call("tier1", .GET, "/api/v1/tokens?status=active").items.compactMap { $0["id"]?.stringValue }
            let height = await d.height
            let console = try await ConsoleTests.session(d, "tier1")
            // act 1: the database goes away
            try await TestDatabase.outage(d.app, down: true)
            // check 1: reads and writes answer 503 with Retry-After, and change nothing
            let read = try await d.call("tier1", .GET, "/api/v1/tokens")
            #expect(read.status == .serviceUnavailable && read.code == "unavailable" && read.headers.first(name: .retryAfter) != nil, "\(read.status) \(read.json)")
            let write = try await d.call("tier1", .POST, "/api/v1/tokens/\(tokens[0])/transfer", #"{"toOrgId":"\#(tier2)","amountFen":100000}"#,
                                         headers: ["Idempotency-Key": "outage-1"])
            #expect(write.status == .serviceUnavailable && write.code == "unavailable", "\(write.status) \(write.json)")
            let signIn = try await d.call(nil, .POST, "/api/v1/auth/login", #"{"email":"tier1@cascade.demo","password":"\#(DemoSeed.password)"}"#)
            #expect(signIn.status == .serviceUnavailable, "\(signIn.status) \(signIn.json)")
            // The console too: a page that says so, in the person's language, with Retry-After.
            let page = try await ConsoleTests.get(d, console, "/holdings")
            #expect(page.status == .serviceUnavailable && page.headers.first(name: .retryAfter) != nil && page.html.contains("reconnecting"), "\(page.status) \(page.html.prefix(300))")
            // act 2: it comes back
            try await TestDatabase.outage(d.app, down: false)
            // check 2: the writer goes on by itself; the same key runs the transfer now, once
            try await poll("the platform to answer again") {
                try await d.call("tier1", .POST, "/api/v1/tokens/\(tokens[1])/transfer", #"{"toOrgId":"\#(tier2)","amountFen":100000}"#).status == .created
            }
            let retried = try await d.call("tier1", .POST, "/api/v1/tokens/\(tokens[0])/transfer", #"{"toOrgId":"\#(tier2)","amountFen":100000}"#,
                                           headers: ["Idempotency-Key": "outage-1"])
            #expect(retried.status == .created, "\(retried.status) \(retried.json)")
            #expect(await d.height == height + 2)
            #expect(try await d.chainAgrees())
        }
    }

    /// The connection goes while a block is being written: its caller waits a while for the
    /// block's fate, then hears 503 with the transaction's id. A retry with the same
    /// Idempotency-Key never submits the operation a second time: it runs afresh only once the
    /// writer is back and knows the first was not committed.
    @Test func aRequestWhoseBlocksFateIsUnknownIsNeverDoneTwice() async throws {
        try await DemoPlatform.with(ownDatabase: true) { d in
            let tier2 = d.orgs["tier2"]!
            let token = try #require(try await d.call("tier1", .GET, "/api/v1/tokens?status=active").items.first?["id"]?.stringValue)
            let height = await d.height
            let app = d.app
            await app.sequencer!.setBeforeCommit { _ in
                try await TestDatabase.outage(app, down: true)
                try await poll("the writer's connection to close") { Platform.heldLock(app)?.connection?.isClosed ?? true }
            }
            let body = #"{"toOrgId":"\#(tier2)","amountFen":100000}"#
            let first = try await d.call("tier1", .POST, "/api/v1/tokens/\(token)/transfer", body, headers: ["Idempotency-Key": "fate-1"])
            await app.sequencer!.setBeforeCommit(nil)
            #expect(first.status == .serviceUnavailable && first.headers.first(name: .retryAfter) != nil, "\(first.status) \(first.json)")
            #expect(first.json["detail"]?.stringValue?.contains("not known yet") == true, "\(first.json)")
            try await TestDatabase.outage(app, down: false)
            try await poll("the writer to be back") { await app.sequencer!.recovering == nil }
            let again = try await d.call("tier1", .POST, "/api/v1/tokens/\(token)/transfer", body, headers: ["Idempotency-Key": "fate-1"])
            #expect(again.status == .created, "\(again.status) \(again.json)")
            let replay = try await d.call("tier1", .POST, "/api/v1/tokens/\(token)/transfer", body, headers: ["Idempotency-Key": "fate-1"])
            #expect(replay.status == .created && replay.headers.first(name: "Idempotent-Replayed") == "true")
            #expect(await d.height == height + 1)
            #expect(try await d.chainAgrees())
        }
    }
}

@Suite struct PostgresServersTests {
    @Test func aURLWithSeveralHostsNamesEachServerInOrder() throws {
        let servers = try PostgresServers("postgres://u:p%40ss@127.0.0.1:5432,127.0.0.1:5433/cascade?target_session_attrs=read-write&sslmode=disable")
        #expect(servers.urls == ["postgres://u:p%40ss@127.0.0.1:5432/cascade?sslmode=disable", "postgres://u:p%40ss@127.0.0.1:5433/cascade?sslmode=disable"])
        #expect(servers.readWrite)
        #expect(PostgresServers.hostPart(servers.urls[1]) == "127.0.0.1:5433")
        let one = try PostgresServers("postgresql://cascade@db/cascade")
        #expect(one.urls == ["postgresql://cascade@db/cascade"] && !one.readWrite)
        #expect(throws: ConfigurationError.self) { try PostgresServers("postgres://u@a,,b/db") }
        #expect(throws: ConfigurationError.self) { try PostgresServers("postgres://u@a/db?target_session_attrs=standby") }
    }
}

@Suite struct ReplicaTests {
    /// A read-only replica serves reads with credentials made on the writer and refuses every
    /// write, sign-in included, with 403; its status says it is a replica.
    @Test func aReplicaServesReadsAndRefusesWrites() async throws {
        try await DemoPlatform.with { d in
            d.app.readOnlyReplica = true
            let height = await d.height
            #expect(try await d.call("tier1", .GET, "/api/v1/tokens").status == .ok)
            #expect(try await d.call(nil, .GET, "/api/v1/node/status")["role"] == .string("replica"))
            let token = try #require(try await d.call("tier1", .GET, "/api/v1/tokens?status=active").items.first?["id"]?.stringValue)
            let write = try await d.call("tier1", .POST, "/api/v1/tokens/\(token)/split", #"{"amountsFen":[1,2]}"#)
            #expect(write.status == .forbidden && write.json["detail"]?.stringValue?.contains("replica") == true)
            #expect(try await d.call(nil, .POST, "/api/v1/auth/login", #"{"email":"tier1@cascade.demo","password":"\#(DemoSeed.password)"}"#).status == .forbidden)
            #expect(await d.height == height)
        }
    }
}

@Suite(.enabled(if: TestDatabase.postgresURL == nil)) struct SQLiteSettingsTests {
    /// Readers never wait for the writer (write-ahead log), and a connection waits a minute for
    /// another program's write lock (this process's own writes take turns before SQLite), then
    /// answers busy (503), rather than spin or fail at once.
    @Test func sqliteRunsInWALModeWithABusyTimeoutOnEveryConnection() async throws {
        try await TestDatabase.with { app in
            for loop in app.eventLoopGroup.makeIterator() {
                let db = app.databases.database(.sqlite, logger: app.logger, on: loop)! as! any SQLDatabase
                let mode = try await db.raw("PRAGMA journal_mode").first()!.decode(column: "journal_mode", as: String.self)
                let timeout = try await db.raw("PRAGMA busy_timeout").first()!.decode(column: "timeout", as: Int.self)
                #expect(mode == "wal" && timeout == 60_000, "\(mode) \(timeout)")
            }
        }
    }
}

/// A transaction on PostgreSQL whose connection the server closes between two statements, or
/// that stops answering, fails with `Unavailable` (503) and keeps nothing: it never leaves its
/// request waiting, and the pool serves on. (A statement written to a connection after it
/// closed is never answered; a failover's requests used to wait for ever on one.)
@Suite(.enabled(if: TestDatabase.postgresURL != nil)) struct GuardedTransactionTests {
    @Test func aConnectionClosedBetweenTwoStatementsFailsTheTransactionAtOnce() async throws {
        try await TestDatabase.with { app in
            // setup
            try await app.sql.raw("CREATE TABLE guarded (n INT)").run()
            let admin = try await TestDatabase.connection()
            // act: the server ends the session in the middle of the transaction
            let outcome = try await Self.ending {
                try await app.db.sqlTransaction { sql in
                    try await sql.raw("INSERT INTO guarded VALUES (1)").run()
                    let pid = try await sql.raw("SELECT pg_backend_pid() AS pid").first()!.decode(column: "pid", as: Int32.self)
                    _ = try await admin.query("SELECT pg_terminate_backend(\(pid))", logger: admin.logger)
                    try await poll("the server to end the session") {
                        try await admin.query("SELECT 1 FROM pg_stat_activity WHERE pid = \(pid)", logger: admin.logger).collect().isEmpty
                    }
                    try await sql.raw("INSERT INTO guarded VALUES (2)").run()
                }
            }
            try await admin.close()
            // check: 503, nothing kept, and the pool answers
            #expect(Unavailable.databaseFault(outcome) != nil, "\(outcome)")
            #expect(try await app.sql.raw("SELECT count(*) AS n FROM guarded").first()!.decode(column: "n", as: Int.self) == 0)
        }
    }

    @Test func aStatementTheDatabaseDoesNotAnswerInTimeFailsTheTransaction() async throws {
        try await TestDatabase.with { app in
            // setup
            try await app.sql.raw("CREATE TABLE guarded (n INT)").run()
            let started = ContinuousClock.now
            // act: a statement that takes far longer than the transaction may wait
            let outcome = try await Self.ending {
                try await app.db.sqlTransaction(within: .milliseconds(300)) { sql in
                    try await sql.raw("INSERT INTO guarded VALUES (1)").run()
                    // The server notices the connection closed within 100 ms, rather than at the sleep's end.
                    try await sql.raw("SET LOCAL client_connection_check_interval = 100").run()
                    try await sql.raw("SELECT pg_sleep(30)").run()
                }
            }
            // check
            #expect(outcome is Unavailable && "\(outcome)".contains("did not answer within 300 ms"), "\(outcome)")
            #expect(ContinuousClock.now - started < .seconds(10))
            #expect(try await app.sql.raw("SELECT count(*) AS n FROM guarded").first()!.decode(column: "n", as: Int.self) == 0)
        }
    }

    /// The error `transaction` ends with. Polled rather than awaited, so that a transaction that
    /// hangs fails the test instead of hanging it.
    static func ending(_ transaction: @escaping @Sendable () async throws -> Void) async throws -> any Error {
        let ended = NIOLockedValueBox<Result<Void, any Error>?>(nil)
        Task {
            do { try await transaction(); ended.withLockedValue { $0 = .success(()) } } catch { ended.withLockedValue { $0 = .failure(error) } }
        }
        try await poll("the transaction to end") { ended.withLockedValue { $0 != nil } }
        guard case .failure(let error)? = ended.withLockedValue({ $0 }) else { throw Committed() }
        return error
    }

    struct Committed: Error {}
}
