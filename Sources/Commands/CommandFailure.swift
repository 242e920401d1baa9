import Core
import Web
import Leaf
import LeafKit
import NIOConcurrencyHelpers
import Vapor

/// A command that finished its work but must end the process with a failure status, having
/// already said why.
public struct CommandFailure: DebuggableError, CustomStringConvertible {
    public var exitCode: Int32
    public var message: String
    public init(exitCode: Int32 = 1, _ message: String) {
        self.exitCode = exitCode
        self.message = message
    }
    public var description: String { message }
    public var identifier: String { "commandFailure" }
    public var reason: String { message }
    // The command has already told the user; Vapor need not report it again.
    public var logLevel: Logger.Level { .debug }
}
