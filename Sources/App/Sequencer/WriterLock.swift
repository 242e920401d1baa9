import Crypto
import Foundation
import Logging
import NIOCore
import NIOPosix
import PostgresKit
import PostgresNIO

#if canImport(Glibc)
    import Glibc
#endif

/// Only one process may write a given database. PostgreSQL: a session advisory lock held on a
/// connection of its own for as long as the writer lives; every block is written through that
/// same connection, so no block is ever written by a process that does not hold the lock. SQLite:
/// an exclusive lock on a file beside the database. A second writer does not start; it says which
/// database is taken.
final class WriterLock: @unchecked Sendable {
    /// The advisory lock key: "CASCADE1" as a 64-bit integer, the same in every Cascade process.
    static let advisoryKey: Int64 = 0x4341_5343_4144_4531

    /// The key for a database, or for one schema of it: each schema is a ledger of its own.
    static func advisoryKey(schema: String?) -> Int64 {
        guard let schema else { return advisoryKey }
        return SHA256.hash(data: Array("CASCADE1/\(schema)".utf8)).withUnsafeBytes { Int64(bitPattern: $0.loadUnaligned(as: UInt64.self)) }
    }

    private var key = advisoryKey

    /// The writer's own PostgreSQL connection, on the writer's thread.
    private(set) var connection: PostgresConnection?
    private var fileDescriptor: Int32 = -1

    private init() {}

    struct Taken: Error, CustomStringConvertible {
        let description: String
    }

    static func acquire(_ location: DatabaseLocation, logger: Logger) async throws -> WriterLock {
        let lock = WriterLock()
        switch location {
        case .postgres(let url, let schema):
            let config = try SQLPostgresConfiguration(url: url).coreConfiguration
            let connection = try await PostgresConnection.connect(on: WriterThread.loop, configuration: config, id: 1, logger: logger)
            if let schema {
                _ = try await connection.query("SELECT set_config('search_path', \(schema), false)", logger: logger)
            }
            let key = advisoryKey(schema: schema)
            let rows = try await connection.query("SELECT pg_try_advisory_lock(\(key)) AS locked", logger: logger)
            var locked = false
            for try await row in rows { locked = try row.decode(Bool.self) }
            guard locked else {
                try? await connection.close()
                throw Taken(description: "another Cascade writer already holds this PostgreSQL database (advisory lock \(key)); run this one as a reader or stop the other")
            }
            lock.connection = connection
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

    func release() async {
        if let connection {
            // Checked and sent in one turn of the connection's event loop: a query written to a
            // connection that has closed (the server may have ended it) would never be answered.
            let key = self.key, logger = Logger(label: "cascade.writer-lock")
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
enum WriterThread {
    static let loop: any EventLoop = MultiThreadedEventLoopGroup(numberOfThreads: 1).next()
}
