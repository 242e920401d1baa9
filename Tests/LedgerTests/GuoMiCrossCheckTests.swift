import Foundation
import Ledger
import Testing

/// OpenSSL's SM2 and SM3 against an implementation nobody here wrote: the pure-Python `gmssl`
/// package from PyPI (`pip install gmssl`; CI installs it). It verifies what Swift signs, signs
/// what Swift verifies, and hashes as Swift hashes.
@Suite struct GuoMiCrossCheckTests {
    static let script = #"""
    import json, sys
    from gmssl import sm2, sm3, func
    cases = json.load(sys.stdin)
    out = []
    for c in cases:
        msg = bytes.fromhex(c["message"])
        # The keys are set after construction: gmssl's constructor strips a leading "04" with
        # str.lstrip, which also eats an x coordinate's own leading 0s and 4s (one key in 256).
        theirs = sm2.CryptSM2(private_key=c["theirPrivate"], public_key="", asn1=True)
        theirs.public_key = c["theirPublic"][2:]
        ours = sm2.CryptSM2(private_key=None, public_key="", asn1=True)
        ours.public_key = c["ourPublic"][2:]
        out.append({"verifiesOurs": ours.verify_with_sm3(c["ourSignature"], msg),
                    "verifiesOursOnAnotherMessage": ours.verify_with_sm3(c["ourSignature"], msg + b"x"),
                    "theirSignature": theirs.sign_with_sm3(msg),
                    "sm3": sm3.sm3_hash(func.bytes_to_list(msg))})
    json.dump(out, sys.stdout)
    """#

    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    @Test func gmsslVerifiesWhatSwiftSignsAndSwiftVerifiesWhatGmsslSigns() throws {
        var cases: [[String: String]] = [], ours: [SM2PrivateKey] = [], theirs: [SM2PrivateKey] = [], messages: [[UInt8]] = []
        // Keys whose x coordinate starts with the byte 04 as well as random ones: gmssl's constructor
        // mangles those unless the key is set after it (one key in 256).
        func keyStarting04() throws -> SM2PrivateKey {
            while true {
                let key = try SM2PrivateKey()
                if key.publicKey[1] == 0x04 { return key }
            }
        }
        for (i, length) in [0, 1, 14, 100, 1000, 10_000, 32].enumerated() {
            let message = (0..<length).map { _ in UInt8.random(in: 0...255) }
            let mine = i == 6 ? try keyStarting04() : try SM2PrivateKey(), other = i == 6 ? try keyStarting04() : try SM2PrivateKey()
            ours.append(mine); theirs.append(other); messages.append(message)
            cases.append(["message": Self.hex(message), "ourPublic": Self.hex(mine.publicKey), "ourSignature": Self.hex(try mine.signature(for: message)),
                          "theirPrivate": Self.hex(other.rawRepresentation), "theirPublic": Self.hex(other.publicKey)])
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", Self.script]
        let input = Pipe(), output = Pipe(), errors = Pipe()
        process.standardInput = input; process.standardOutput = output; process.standardError = errors
        try process.run()
        input.fileHandleForWriting.write(try JSONSerialization.data(withJSONObject: cases))
        try input.fileHandleForWriting.close()
        let answer = output.fileHandleForReading.readDataToEndOfFile()
        let complaint = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "python3 with gmssl (pip install gmssl): \(complaint)")
        let results = try #require(try JSONSerialization.jsonObject(with: answer) as? [[String: Any]])
        try #require(results.count == cases.count)
        for (i, r) in results.enumerated() {
            #expect(r["verifiesOurs"] as? Bool == true, "gmssl refused Swift's signature of \(messages[i].count) bytes")
            #expect(r["verifiesOursOnAnotherMessage"] as? Bool == false)
            let signature = try #require((r["theirSignature"] as? String).flatMap { GuoMiTests.hex($0) })
            #expect(try SM2.isValidSignature(signature, for: messages[i], publicKey: theirs[i].publicKey), "Swift refused gmssl's signature of \(messages[i].count) bytes")
            #expect(try !SM2.isValidSignature(signature, for: messages[i] + [0x78], publicKey: theirs[i].publicKey))
            #expect(r["sm3"] as? String == Self.hex(SM3.hash(messages[i])))
        }
    }
}
