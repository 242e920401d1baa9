import Foundation
import Ledger

/// Paths of the repository and of the shared conformance vectors beside it.
enum Paths {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let vectors = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/vectors")

    static func vector(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: vectors.appendingPathComponent(name)))
    }
}
