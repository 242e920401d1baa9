import Crypto
import Foundation

/// C2SP `tlog-cosignature` (`cosignature/v1`, Ed25519): a witness's timestamped signature of a
/// checkpoint, saying that as of that time this is the largest consistent head of the log it has
/// seen. Its key is a note key of type 0x04.
public struct CosignatureKey: Sendable, Equatable {
    public let key: NoteKey
    public var name: String { key.name }
    public var publicKey: [UInt8] { key.publicKey }
    public var keyHash: UInt32 { key.keyHash }
    /// `<name>+<key hash>+<base64(0x04 ‖ key)>`.
    public var verifierKey: String { key.verifierKey }

    public init(name: String, publicKey: [UInt8]) throws {
        key = try NoteKey(name: name, type: SignedNote.cosignatureType, publicKey: publicKey)
    }

    public init(verifierKey text: String) throws {
        key = try NoteKey(verifierKey: text, type: SignedNote.cosignatureType)
    }

    /// `cosignature/v1\ntime <t>\n` and the checkpoint's text: what a cosignature signs.
    public static func message(checkpointText: String, time: UInt64) -> [UInt8] {
        Array("cosignature/v1\ntime \(time)\n\(checkpointText)".utf8)
    }

    /// The time of this key's valid cosignature of `checkpointText` among `signatures`, or nil.
    public func cosigned(_ checkpointText: String, in signatures: [SignedNote.Signature]) -> UInt64? {
        guard let key = try? Curve25519.Signing.PublicKey(rawRepresentation: publicKey) else { return nil }
        for s in signatures where s.name == name && s.keyHash == keyHash && s.bytes.count == 72 {
            let time = s.bytes.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            guard time <= UInt64(Int64.max) else { continue }
            if key.isValidSignature(Array(s.bytes.dropFirst(8)), for: Self.message(checkpointText: checkpointText, time: time)) { return time }
        }
        return nil
    }
}

/// A witness's own key: signs cosignatures.
public struct Cosigner: Sendable {
    public let key: CosignatureKey
    let signer: Ed25519Signer

    public init(name: String, seed: [UInt8]) throws {
        signer = try Ed25519Signer(seed: seed)
        key = try CosignatureKey(name: name, publicKey: signer.publicKey)
    }

    /// The cosignature line of `checkpointText` at `time` (POSIX seconds).
    public func cosign(_ checkpointText: String, time: UInt64) throws -> SignedNote.Signature {
        let signature = try signer.sign(CosignatureKey.message(checkpointText: checkpointText, time: time))
        return SignedNote.Signature(name: key.name, keyHash: key.keyHash, bytes: withUnsafeBytes(of: time.bigEndian) { Array($0) } + signature)
    }
}

/// C2SP `tlog-witness`'s `add-checkpoint` request: `old <size>`, up to 63 consistency proof
/// lines, an empty line, then the signed checkpoint.
public struct AddCheckpoint: Sendable, Equatable {
    public var oldSize: Int64
    public var proof: [LogTree.Hash]
    /// The checkpoint as sent: its text and every signature on it.
    public var note: String
    public var text: String
    public var signatures: [SignedNote.Signature]
    public var checkpoint: Checkpoint

    /// At most this many bytes are read: 63 proof lines and a checkpoint with a few signatures fit many times over.
    public static let maxBytes = 64 * 1024

    /// The request's body, read strictly; a body that is not one is refused with why (a 400).
    public init(body: [UInt8]) throws(SignedNote.Refused) {
        guard body.count <= Self.maxBytes else { throw SignedNote.Refused("the body is more than \(Self.maxBytes) bytes") }
        guard let text = String(validating: body, as: UTF8.self) else { throw SignedNote.Refused("the body is not UTF-8") }
        guard let blank = text.range(of: "\n\n") else { throw SignedNote.Refused("an empty line ends the old size and the proof") }
        let head = text[..<blank.lowerBound].split(separator: "\n", omittingEmptySubsequences: false)
        note = String(text[blank.upperBound...])
        guard let first = head.first, first.hasPrefix("old "), let old = Int64(first.dropFirst(4)), old >= 0, String(old) == first.dropFirst(4) else {
            throw SignedNote.Refused("the first line is `old <size>`, a decimal with no leading zeros")
        }
        oldSize = old
        guard head.count - 1 <= 63 else { throw SignedNote.Refused("a consistency proof has at most 63 lines") }
        proof = []
        for line in head.dropFirst() {
            guard let hash = Base64.decode(String(line)), hash.count == 32 else { throw SignedNote.Refused("a proof line is one 32-byte hash in base64") }
            proof.append(hash)
        }
        (self.text, signatures) = try SignedNote.parse(note)
        checkpoint = try Checkpoint(text: self.text)
    }

    /// The body of a request: `old`, the proof, an empty line, the signed checkpoint.
    public static func body(oldSize: Int64, proof: [LogTree.Hash], note: String) -> String {
        "old \(oldSize)\n" + proof.map { Base64.encode($0) + "\n" }.joined() + "\n" + note
    }
}

/// What a witness answers to an `add-checkpoint` (C2SP `tlog-witness`), decided from the request,
/// the log's key and what the witness last cosigned for it. Pure: the caller stores the new head
/// in the same step as it checks the old one.
public enum WitnessVerdict: Sendable, Equatable {
    /// 200: cosign, and remember this head.
    case cosign(size: Int64, root: LogTree.Hash)
    /// 400, 403, 404, 409 (with the witness's size), 422: refused, nothing stored.
    case refuse(status: Int, reason: String, size: Int64?)

    /// `log`: the key and hash profile of the log the checkpoint's origin names, nil when the
    /// witness does not witness it. `last`: the head it last cosigned for it.
    public static func judge(_ request: AddCheckpoint, log: (key: NoteVerifier, profile: CryptoProfile)?, last: (size: Int64, root: LogTree.Hash)?) -> WitnessVerdict {
        let c = request.checkpoint
        guard let log, log.key.name == c.origin else { return .refuse(status: 404, reason: "this witness does not witness the log \(c.origin)", size: nil) }
        guard log.key.verifies(request.note) else { return .refuse(status: 403, reason: "no signature of the log's key verifies", size: nil) }
        guard request.oldSize <= c.size else { return .refuse(status: 400, reason: "old \(request.oldSize) is larger than the checkpoint's size \(c.size)", size: nil) }
        let known = last?.size ?? 0
        guard request.oldSize == known else { return .refuse(status: 409, reason: "the witness last cosigned size \(known), not \(request.oldSize)", size: known) }
        if let last, c.size == last.size {
            guard c.root == last.root else { return .refuse(status: 409, reason: "a head of size \(c.size) with another root than the one cosigned", size: known) }
            guard request.proof.isEmpty else { return .refuse(status: 422, reason: "the proof between equal sizes is empty", size: nil) }
            return .cosign(size: c.size, root: c.root)
        }
        if request.oldSize == 0 {
            guard request.proof.isEmpty else { return .refuse(status: 422, reason: "the proof from size 0 is empty", size: nil) }
            return .cosign(size: c.size, root: c.root)
        }
        guard let last, LogTree.verifyConsistency(from: last.size, to: c.size, oldRoot: last.root, newRoot: c.root, proof: request.proof, profile: log.profile) else {
            return .refuse(status: 422, reason: "the consistency proof from \(request.oldSize) to \(c.size) does not verify", size: nil)
        }
        return .cosign(size: c.size, root: c.root)
    }
}
