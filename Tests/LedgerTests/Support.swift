import Foundation
import Ledger

/// Paths of the repository and of the shared conformance vectors beside it.
enum Paths {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let vectors = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/vectors")
    /// Format 2's vectors: the compliance rules and early payment.
    static let vectors2 = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/vectors-2")
    /// The same scenario in the sm2-sm3 (国密) profile.
    static let vectorsSM = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/vectors-sm")

    static func vector(_ name: String, in set: URL = vectors) throws -> [UInt8] {
        Array(try Data(contentsOf: set.appendingPathComponent(name)))
    }
}
