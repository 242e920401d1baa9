import Crypto
import Foundation

/// C2SP `signed-note`: a text and the signatures of named keys over it, as Go's
/// `golang.org/x/mod/sumdb/note` writes them. The log signs its heads with one, and witnesses
/// cosign them (SPEC §4): Ed25519 in every crypto profile, the only kind C2SP defines.
public enum SignedNote {
    /// What does not parse or verify, and why.
    public struct Refused: Error, Sendable, Equatable, CustomStringConvertible {
        public var description: String
        public init(_ description: String) { self.description = description }
    }

    /// One signature line: `— <name> <base64(key hash ‖ signature)>`.
    public struct Signature: Sendable, Equatable {
        public var name: String
        public var keyHash: UInt32
        public var bytes: [UInt8]

        public init(name: String, keyHash: UInt32, bytes: [UInt8]) {
            self.name = name
            self.keyHash = keyHash
            self.bytes = bytes
        }

        public var line: String {
            "\u{2014} \(name) \(Base64.encode(withUnsafeBytes(of: keyHash.bigEndian) { Array($0) } + bytes))\n"
        }
    }

    /// The signature types of C2SP: an Ed25519 signature of the text, and `cosignature/v1`.
    public static let ed25519Type: UInt8 = 0x01
    public static let cosignatureType: UInt8 = 0x04

    /// A key name: not empty, no space or other Unicode white space, no `+`.
    public static func isKeyName(_ name: String) -> Bool {
        !name.isEmpty && !name.unicodeScalars.contains { $0 == "+" || $0.properties.isWhitespace || $0.value < 0x20 || $0.value == 0x7F }
    }

    /// The first four bytes of SHA-256(name ‖ "\n" ‖ type ‖ public key), big-endian.
    public static func keyHash(name: String, type: UInt8, publicKey: [UInt8]) -> UInt32 {
        let digest = Array(SHA256.hash(data: Array(name.utf8) + [0x0A, type] + publicKey))
        return digest.prefix(4).reduce(0) { $0 << 8 | UInt32($1) }
    }

    /// A note: `text` (ending in a newline, no other control characters), a blank line, one line
    /// per signature.
    public static func encode(text: String, signatures: [Signature]) -> String {
        text + "\n" + signatures.map(\.line).joined()
    }

    /// The text and signatures of a note. Refuses a note that is not valid UTF-8 text ending in
    /// a signature block, or a signature line that does not parse.
    public static func parse(_ note: String) throws(Refused) -> (text: String, signatures: [Signature]) {
        guard note.hasSuffix("\n") else { throw Refused("a note ends with a newline") }
        guard !note.unicodeScalars.contains(where: { ($0.value < 0x20 && $0 != "\n") || $0.value == 0x7F }) else {
            throw Refused("a note holds no control characters but newlines")
        }
        guard let split = note.range(of: "\n\n", options: .backwards) else { throw Refused("a note's signatures follow a blank line") }
        let text = String(note[..<split.lowerBound]) + "\n"
        let block = note[split.upperBound...]
        guard !block.isEmpty else { throw Refused("a note has at least one signature") }
        var signatures: [Signature] = []
        for line in block.split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
            guard line.hasPrefix("\u{2014} ") else { throw Refused("a signature line starts with an em dash and a space") }
            let parts = line.dropFirst(2).split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 2, isKeyName(String(parts[0])) else { throw Refused("a signature line is `— <name> <signature>`") }
            guard let raw = Base64.decode(String(parts[1])), raw.count > 4 else { throw Refused("a signature is base64 of a key hash and the signature") }
            signatures.append(Signature(name: String(parts[0]), keyHash: raw.prefix(4).reduce(0) { $0 << 8 | UInt32($1) }, bytes: Array(raw.dropFirst(4))))
        }
        return (text, signatures)
    }
}

/// A named Ed25519 key of a note of one signature type (0x01 a note's signature, 0x04 a
/// cosignature): `<name>+<key hash>+<base64(type ‖ key)>` is its verifier key, as Go's
/// `sumdb/note` writes it.
public struct NoteKey: Sendable, Equatable {
    public let name: String
    public let type: UInt8
    public let publicKey: [UInt8]
    public let keyHash: UInt32

    public init(name: String, type: UInt8, publicKey: [UInt8]) throws(SignedNote.Refused) {
        guard SignedNote.isKeyName(name) else { throw SignedNote.Refused("a key name is not empty and holds no space or +") }
        guard publicKey.count == 32, (try? Curve25519.Signing.PublicKey(rawRepresentation: publicKey)) != nil else {
            throw SignedNote.Refused("an Ed25519 public key is 32 bytes")
        }
        self.name = name
        self.type = type
        self.publicKey = publicKey
        keyHash = SignedNote.keyHash(name: name, type: type, publicKey: publicKey)
    }

    /// Reads a verifier key of `type`; refuses a hash that is not the key's, or another type of key.
    public init(verifierKey text: String, type: UInt8) throws(SignedNote.Refused) {
        let parts = text.split(separator: "+", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, parts[1].count == 8, let hash = UInt32(parts[1], radix: 16), parts[1] == parts[1].lowercased() else {
            throw SignedNote.Refused("a verifier key is <name>+<8 hex digits>+<base64 key>")
        }
        guard let raw = Base64.decode(String(parts[2])), raw.first == type else {
            throw SignedNote.Refused("a verifier key's key is base64 of 0x\(String(format: "%02x", type)) and an Ed25519 key")
        }
        let name = String(parts[0]), key = Array(raw.dropFirst())
        guard SignedNote.keyHash(name: name, type: type, publicKey: key) == hash else {
            throw SignedNote.Refused("the verifier key's hash \(parts[1]) is not its key's")
        }
        try self.init(name: name, type: type, publicKey: key)
    }

    public var verifierKey: String {
        "\(name)+\(String(format: "%08x", keyHash))+\(Base64.encode([type] + publicKey))"
    }
}

/// The key that signs notes of a log (type 0x01).
public struct NoteVerifier: Sendable, Equatable {
    public let key: NoteKey
    public var name: String { key.name }
    public var publicKey: [UInt8] { key.publicKey }
    public var keyHash: UInt32 { key.keyHash }
    public var verifierKey: String { key.verifierKey }

    public init(name: String, publicKey: [UInt8]) throws {
        key = try NoteKey(name: name, type: SignedNote.ed25519Type, publicKey: publicKey)
    }

    public init(verifierKey text: String) throws {
        key = try NoteKey(verifierKey: text, type: SignedNote.ed25519Type)
    }

    /// Whether `note` carries this key's valid signature of its text.
    public func verifies(_ note: String) -> Bool {
        guard let (text, signatures) = try? SignedNote.parse(note),
              let key = try? Curve25519.Signing.PublicKey(rawRepresentation: publicKey) else { return false }
        return signatures.contains { $0.name == name && $0.keyHash == keyHash && $0.bytes.count == 64 && key.isValidSignature($0.bytes, for: Array(text.utf8)) }
    }
}

/// The key that signs notes: an Ed25519 seed and a name.
public struct NoteSigner: Sendable {
    public let verifier: NoteVerifier
    let signer: Ed25519Signer

    public init(name: String, seed: [UInt8]) throws {
        signer = try Ed25519Signer(seed: seed)
        verifier = try NoteVerifier(name: name, publicKey: signer.publicKey)
    }

    /// The signature line of `text`.
    public func signature(of text: String) throws -> SignedNote.Signature {
        SignedNote.Signature(name: verifier.name, keyHash: verifier.keyHash, bytes: try signer.sign(Array(text.utf8)))
    }

    /// `text` as a note signed by this key.
    public func sign(_ text: String) throws -> String {
        SignedNote.encode(text: text, signatures: [try signature(of: text)])
    }
}

/// C2SP `tlog-checkpoint`: the origin, the tree size in decimal, the root hash in base64, each on
/// its line, then any extension lines.
public struct Checkpoint: Sendable, Equatable {
    public var origin: String
    public var size: Int64
    public var root: [UInt8]
    public var extensions: [String]

    public init(origin: String, size: Int64, root: [UInt8], extensions: [String] = []) {
        self.origin = origin
        self.size = size
        self.root = root
        self.extensions = extensions
    }

    public var text: String { ([origin, String(size), Base64.encode(root)] + extensions).map { $0 + "\n" }.joined() }

    /// Reads a checkpoint's text (a note's text, without its signatures).
    public init(text: String) throws(SignedNote.Refused) {
        guard text.hasSuffix("\n") else { throw SignedNote.Refused("a checkpoint ends with a newline") }
        let lines = text.dropLast().split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard lines.count >= 3 else { throw SignedNote.Refused("a checkpoint is an origin, a size and a root hash") }
        guard !lines[0].isEmpty else { throw SignedNote.Refused("a checkpoint's origin is not empty") }
        guard let size = Int64(lines[1]), size >= 0, String(size) == lines[1] else {
            throw SignedNote.Refused("a checkpoint's size is a decimal number without leading zeros")
        }
        guard let root = Base64.decode(lines[2]), root.count == 32 else { throw SignedNote.Refused("a checkpoint's root hash is 32 bytes in base64") }
        guard !lines.dropFirst(3).contains(where: \.isEmpty) else { throw SignedNote.Refused("a checkpoint has no empty line") }
        self.init(origin: lines[0], size: size, root: root, extensions: Array(lines.dropFirst(3)))
    }
}
