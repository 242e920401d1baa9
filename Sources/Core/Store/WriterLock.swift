import Crypto
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import PostgresKit
import PostgresNIO
import class Vapor.Application
import protocol Vapor.StorageKey

#if canImport(Glibc)
    import Glibc
#endif

/// Only one process may write a given database. PostgreSQL: a session advisory lock held on a
/// connection of its own for as long as the writer lives; every block is written through that
/// same connection, so no block is ever written by a process that does not hold the lock. SQLite:
/// an exclusive lock on a file beside the database. A second writer does not start; it says which
/// database is taken.
package final class WriterLock: @unchecked Sendable {
    /// The advisory lock key: "CASCADE1" as a 64-bit integer, the same in every Cascade process.
    package static let advisoryKey: Int64 = 0x4341_5343_4144_4531

    /// The key for a database, or for one schema of it: each schema is a ledger of its own.
    package static func advisoryKey(schema: String?) -> Int64 {
        guard let schema else { return advisoryKey }
        return SHA256.hash(data: Array("CASCADE1/\(schema)".utf8)).withUnsafeBytes { Int64(bitPattern: $0.loadUnaligned(as: UInt64.self)) }
    }

    private var key = advisoryKey

    /// The writer's own PostgreSQL connection, on the writer's thread.
    package private(set) var connection: PostgresConnection?
    private var fileDescriptor: Int32 = -1

    private init() {}

    package struct Taken: Error, CustomStringConvertible {
        package let description: String
    }

    private var location: DatabaseLocation?
    private let logger = Logger(label: "cascade.writer-lock")

    package static func acquire(_ location: DatabaseLocation, logger: Logger) async throws -> WriterLock {
        let lock = WriterLock()
        lock.location = location
        switch location {
        case .postgres(let url, let schema):
            let key = advisoryKey(schema: schema)
            (lock.serverURL, lock.connection) = try await lockedConnection(url: url, schema: schema, key: key, logger: logger)
            lock.key = key
        case .sqlite(let path):
            let fd = open(path + ".writer-lock", O_CREAT | O_RDWR, 0o644)
            guard fd >= 0 else { throw Taken(description: "cannot open \(path).writer-lock to claim the database") }
            guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
                close(fd)
                throw Taken(description: "another Cascade process already writes \(path); stop it first")
            }
            lock.fileDescriptor = fd
        }
        return lock
    }

    /// The server the lock's connection is on (one of `DATABASE_URL`'s).
    package private(set) var serverURL: String?

    /// A new connection on the writer's thread, to the first of the servers that takes writes,
    /// that holds the advisory lock; or `Taken`.
    private static func lockedConnection(url: String, schema: String?, key: Int64, logger: Logger) async throws -> (String, PostgresConnection) {
        let (server, connection) = try await PostgresServers(url).connect(writes: true, on: WriterThread.loop, logger: logger)
        do {
            // A server that ends the new connection, or stops answering, fails the attempt (the
            // writer tries again) rather than holding it for ever.
            let sql = GuardedConnection(connection: connection, limit: GuardedConnection.answerLimit, logger: logger)
            if let schema {
                try await sql.raw("SELECT set_config('search_path', \(bind: schema), false)").run()
            }
            let locked = try await sql.raw("SELECT pg_try_advisory_lock(\(bind: key)) AS locked").first()?.decode(column: "locked", as: Bool.self) ?? false
            guard locked else {
                throw Taken(description: "another Cascade writer already holds this PostgreSQL database (advisory lock \(key)); run this one as a reader or stop the other")
            }
        } catch {
            try? await connection.close()
            throw error
        }
        return (server, connection)
    }

    /// After the lock's connection was lost: the old one is closed (so the server lets its lock go
    /// if it has not noticed yet), and a new one takes the lock again. `Taken` while another
    /// writer holds it. The SQLite lock is a file lock, never lost while the process lives.
    package func reconnect() async throws -> PostgresConnection? {
        guard !released else { throw Released() }
        guard case .postgres(let url, let schema) = location else { return nil }
        if let old = connection {
            connection = nil
            try? await old.close()
        }
        let (server, fresh) = try await Self.lockedConnection(url: url, schema: schema, key: key, logger: logger)
        connection = fresh
        serverURL = server
        return fresh
    }

    /// The lock was let go on purpose (the process is shutting down): it is not taken again.
    /// Read from other threads (the sequencer's watch on the connection).
    private let releasedBox = NIOLockedValueBox(false)
    package var released: Bool { releasedBox.withLockedValue { $0 } }

    package struct Released: Error, CustomStringConvertible {
        package var description: String { "the writer lock was let go: this process is shutting down" }
    }

    package func release() async {
        releasedBox.withLockedValue { $0 = true }
        if let connection {
            // Checked and sent in one turn of the connection's event loop: a query written to a
            // connection that has closed (the server may have ended it) would never be answered.
            let key = self.key, logger = self.logger
            _ = try? await connection.eventLoop.flatSubmit { () -> EventLoopFuture<Void> in
                if connection.isClosed { return connection.eventLoop.makeSucceededVoidFuture() }
                return connection.query("SELECT pg_advisory_unlock(\(key))", logger: logger).map { _ in }
            }.get()
            try? await connection.close()
            self.connection = nil
        }
        if fileDescriptor >= 0 {
            flock(fileDescriptor, LOCK_UN)
            close(fileDescriptor)
            fileDescriptor = -1
        }
    }
}

/// The thread the writer runs on: the sequencer's jobs and its database connection's I/O. Apart
/// from the request handlers' event loops, a block's commit is answered and the next block is
/// cut as soon as the database replies, not after the requests queued on a busy loop. One for
/// the process, living as long as it does.
package enum WriterThread {
    package static let loop: any EventLoop = MultiThreadedEventLoopGroup(numberOfThreads: 1).next()
}

extension Sequencer.Reconnect {
    /// Through `lock`: on PostgreSQL a new connection that takes the lock again, on the first of
    /// the servers that takes writes (after a failover, the promoted standby), with the request
    /// pool moved there too; on SQLite the same store, once the file answers.
    package static func through(_ lock: WriterLock, _ app: Application) -> Self {
        var reconnect = Sequencer.Reconnect(connect: { old in
            guard let connection = try await lock.reconnect() else { return try await Sequencer.Reconnect.sameStore.connect(old) }
            if let server = lock.serverURL { try await app.pointPostgres(at: server) }
            return LedgerStore(db: app.db, writer: connection)
        })
        reconnect.letGo = { lock.released }
        return reconnect
    }
}
