import Foundation
import Logging
import PostgresKit
import PostgresNIO

#if canImport(Glibc)
    import Glibc
#endif

/// Only one process may write a given database. PostgreSQL: a session advisory lock held on a
/// connection of its own for as long as the writer lives. SQLite: an exclusive lock on a file
/// beside the database. A second writer does not start; it says which database is taken.
final class WriterLock: @unchecked Sendable {
    /// The advisory lock key: "CASCADE1" as a 64-bit integer, the same in every Cascade process.
    static let advisoryKey: Int64 = 0x4341_5343_4144_4531

    private var connection: PostgresConnection?
    private var fileDescriptor: Int32 = -1

    private init() {}

    struct Taken: Error, CustomStringConvertible {
        let description: String
    }

    static func acquire(_ location: DatabaseLocation, logger: Logger) async throws -> WriterLock {
        let lock = WriterLock()
        switch location {
        case .postgres(let url, _):
            let config = try SQLPostgresConfiguration(url: url).coreConfiguration
            let connection = try await PostgresConnection.connect(configuration: config, id: 1, logger: logger)
            let rows = try await connection.query("SELECT pg_try_advisory_lock(\(advisoryKey)) AS locked", logger: logger)
            var locked = false
            for try await row in rows { locked = try row.decode(Bool.self) }
            guard locked else {
                try? await connection.close()
                throw Taken(description: "another Cascade writer already holds this PostgreSQL database (advisory lock \(advisoryKey)); run this one as a reader or stop the other")
            }
            lock.connection = connection
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
            _ = try? await connection.query("SELECT pg_advisory_unlock(\(Self.advisoryKey))", logger: Logger(label: "cascade.writer-lock"))
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
