import Foundation
import Ledger
import SQLKit

/// A snapshot as stored: the block it stands at, its state's hash and bytes, and the operator's
/// signature over height, block hash and state hash (empty for an observer's own).
package struct StoredSnapshot: Sendable {
    package var height: Int64
    package var blockHash: String
    package var stateHash: String
    package var keyId: String
    package var signature: String
    package var transactions: Int64
    package var state: [UInt8]

    /// What the operator signs: a snapshot stands for this state at this block, and no other.
    package static func message(height: Int64, blockHash: String, stateHash: String) -> [UInt8] {
        Array("cascade-checkpoint-1\n\(height)\n\(blockHash)\n\(stateHash)".utf8)
    }

    /// The snapshot of `state` at `tip`, signed by `signer` when there is one.
    package static func make(_ state: LedgerState, at tip: ChainTip, signer: (any TransactionSigner)?) throws -> StoredSnapshot {
        let bytes = state.snapshotBytes(at: tip)
        let hash = state.profile.hashHex(bytes)
        let signature = try signer.map { Base64.encode(try $0.sign(message(height: tip.height, blockHash: tip.hash, stateHash: hash))) } ?? ""
        return StoredSnapshot(height: tip.height, blockHash: tip.hash, stateHash: hash, keyId: signer?.keyId ?? "", signature: signature,
                                transactions: Int64(state.transactionCount), state: bytes)
    }

    /// The state it holds, once every check passes: the bytes hash to what was stored, the operator
    /// signed them (when `operatorKey` is given), the bytes stand at the block they claim, and the
    /// database holds that block. Throws a sentence saying what failed.
    package func open(operatorKey: [UInt8]?, storedHash: String?) throws -> (state: LedgerState, tip: ChainTip) {
        // The bytes name the chain's profile first; the hash, the signature and the block checked
        // below all hold only in the profile the chain really has.
        guard let profile = LedgerState.snapshotProfile(state) else { throw SnapshotRefused("its bytes do not name a crypto profile of layout 3") }
        guard profile.hashHex(state) == stateHash else { throw SnapshotRefused("its bytes do not hash to the stored state hash") }
        if let operatorKey {
            guard keyId == profile.keyId(publicKey: operatorKey) else {
                throw SnapshotRefused(keyId.isEmpty ? "it is not signed" : "it is signed by key \(keyId), not the operator's current key")
            }
            guard let sig = Base64.decode(signature),
                  profile.isValidSignature(sig, for: Self.message(height: height, blockHash: blockHash, stateHash: stateHash), publicKey: operatorKey) else {
                throw SnapshotRefused("its signature does not verify under the operator's key")
            }
        }
        let restored: (state: LedgerState, tip: ChainTip)
        do {
            restored = try LedgerState.restore(snapshot: state)
        } catch {
            throw SnapshotRefused("its bytes cannot be read: \(error)")
        }
        guard restored.tip.height == height, restored.tip.hash == blockHash else { throw SnapshotRefused("its bytes stand at another block") }
        if let operatorKey, restored.state.operatorKey != operatorKey { throw SnapshotRefused("its operator is not the one whose key seals blocks") }
        guard storedHash == blockHash else { throw SnapshotRefused("the database's block \(height) is \(storedHash == nil ? "missing" : "another block")") }
        return restored
    }
}

package struct SnapshotRefused: Error, CustomStringConvertible {
    package var description: String
    package init(_ description: String) { self.description = description }
}

extension LedgerStore {
    /// The snapshots kept: older ones are removed as new ones are written.
    package static let snapshotsKept = 2

    package func writeSnapshot(_ c: StoredSnapshot, nowMs: Int64) async throws {
        try await sql.raw("""
            INSERT INTO snapshots (height, block_hash, state_hash, key_id, signature, transactions, size, state, created_ms)
            VALUES (\(bind: c.height), \(bind: c.blockHash), \(bind: c.stateHash), \(bind: c.keyId), \(bind: c.signature),
                    \(bind: c.transactions), \(bind: Int64(c.state.count)), \(bind: Data(c.state)), \(bind: nowMs))
            ON CONFLICT (height) DO NOTHING
            """).run()
        try await sql.raw("""
            DELETE FROM snapshots WHERE height NOT IN (SELECT height FROM snapshots ORDER BY height DESC LIMIT \(unsafeRaw: String(Self.snapshotsKept)))
            """).run()
    }

    /// The latest snapshot, if any.
    package func latestSnapshot() async throws -> StoredSnapshot? {
        guard let row = try await sql.raw("""
            SELECT height, block_hash, state_hash, key_id, signature, transactions, state FROM snapshots ORDER BY height DESC LIMIT 1
            """).first() else { return nil }
        return StoredSnapshot(height: try row.decode(column: "height", as: Int64.self), blockHash: try row.decode(column: "block_hash", as: String.self),
                                stateHash: try row.decode(column: "state_hash", as: String.self), keyId: try row.decode(column: "key_id", as: String.self),
                                signature: try row.decode(column: "signature", as: String.self), transactions: try row.decode(column: "transactions", as: Int64.self),
                                state: Array(try row.decode(column: "state", as: Data.self)))
    }
}
