import Foundation
import Ledger

/// Paths of the repository and of the shared conformance vectors beside it.
enum Paths {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let vectors = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/vectors")
    /// Format 2's vectors: the compliance rules and early payment.
    static let vectors2 = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/vectors-2")

    static func vector(_ name: String, in set: URL = vectors) throws -> [UInt8] {
        Array(try Data(contentsOf: set.appendingPathComponent(name)))
    }
}

extension JSON {
    /// What of `self` differs from `expected`, section by section and object by object: the same
    /// ids, and for each the fields `expected` names (an earlier format's expected state names
    /// fewer fields than a replay now writes). Empty when they agree.
    func differences(from expected: JSON) -> [String] {
        guard case .object(let sections) = expected else { return ["the expected state is not an object"] }
        var out: [String] = []
        for (key, want) in sections {
            guard case .object(let wantItems) = want else {
                if self[key.string] != want { out.append("\(key.string): expected \(want.canonicalString), got \(self[key.string]?.canonicalString ?? "nothing")") }
                continue
            }
            guard case .object(let got)? = self[key.string] else { out.append("missing \(key.string)"); continue }
            if Set(got.keys) != Set(wantItems.keys) { out.append("\(key.string): ids differ") }
            for (id, value) in wantItems {
                guard case .object(let fields) = value, case .object(let have)? = got[id] else { out.append("\(key.string) \(id.string) missing"); continue }
                for (field, v) in fields where have[field] != v {
                    out.append("\(key.string) \(id.string).\(field.string): expected \(v.canonicalString), got \(have[field]?.canonicalString ?? "nothing")")
                }
            }
        }
        return out
    }
}
