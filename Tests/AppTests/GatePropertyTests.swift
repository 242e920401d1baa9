import Foundation
import Ledger
import SQLKit
import Testing
import VaporTesting

@testable import Core
@testable import Web
@testable import Commands

/// Random operations through every way in — the custodial JSON API, the console's forms and
/// `POST /transactions` signed by the org itself — with edge sizes: empty, one item, at the
/// limit, one past it; strings at and past their length; every control character; unpaired
/// surrogates. Whatever is accepted replays to the state the writer holds; whatever is refused
/// changed nothing; nothing answers 5xx.
@Suite struct GatePropertyTests {
    /// A memo as a test writes it: its scalars, or a lone surrogate (only JSON can carry one).
    struct Text {
        var scalars: [UInt32]
        /// The oracle, written apart from the server's rule: 1 to 500 characters, no C0, DEL or
        /// C1 control, no surrogate.
        var valid: Bool {
            let string = self.string
            return !scalars.isEmpty && (string.map { $0.count <= Limits.maxMemoLength } ?? false)
                && !scalars.contains { $0 < 0x20 || (0x7F...0x9F).contains($0) || (0xD800...0xDFFF).contains($0) }
        }
        var string: String? {
            var s = ""
            for v in scalars {
                guard let u = Unicode.Scalar(v) else { return nil }
                s.unicodeScalars.append(u)
            }
            return s
        }
        /// As a JSON string literal, escaping what JSON requires and every surrogate as `\uXXXX`.
        var json: String {
            var out = "\""
            for v in scalars {
                switch v {
                case 0x22: out += "\\\""
                case 0x5C: out += "\\\\"
                case 0..<0x20, 0xD800...0xDFFF: out += String(format: "\\u%04x", v)
                default: out.unicodeScalars.append(Unicode.Scalar(v)!)
                }
            }
            return out + "\""
        }
    }

    static func edgeTexts() -> [Text] {
        var texts: [Text] = [Text(scalars: []), Text(scalars: [0x61]),
                             Text(scalars: Array(repeating: 0x957F, count: Limits.maxMemoLength)),      // 长 × 500: at the limit
                             Text(scalars: Array(repeating: 0x957F, count: Limits.maxMemoLength + 1)),  // one past
                             Text(scalars: Array(repeating: 0x1F6A2, count: Limits.maxMemoLength)),     // 🚢 × 500
                             Text(scalars: [0x61, 0xD800, 0x62]), Text(scalars: [0xDC00]), Text(scalars: [0x7F]), Text(scalars: [0x85]),
                             Text(scalars: [0x22, 0x5C, 0x2F, 0x4E2D])]
        for c in UInt32(0)..<0x20 { texts.append(Text(scalars: [0x78, c, 0x79])) }
        return texts
    }

    enum Door: CaseIterable { case api, console, selfSigned }

    @Test func randomOperationsThroughEveryDoorReplayToTheWritersState() async throws {
        try await DemoPlatform.with { d in
            var rng = SplitMix64(seed: 20261201)  // deterministic: a failing round can be run again
            var token = try #require(try await d.call("tier1", .GET, "/api/v1/tokens?status=active").items.first { $0["amountFen"] == .int(600_000_00) }?["id"]?.stringValue)
            let tier2 = d.orgs["tier2"]!
            let tier1 = d.orgs["tier1"]!
            let signer = try #require(try await d.app.keyVault!.signer(for: tier1, on: d.app.sql))
            let session = try await ConsoleTests.session(d, "tier1")
            let texts = Self.edgeTexts()
            var counts = (accepted: 0, refused: 0)
            for round in 0..<240 {
                let door = Door.allCases[round % 3]
                let text = texts[Int(rng.next() % UInt64(texts.count))]
                let splitting = rng.next() % 4 == 0
                let pieces = [0, 1, 2, 3, 100, 101][Int(rng.next() % 6)]
                let heightBefore = await d.height
                let status: UInt
                let expected: Bool
                let tokenAmount = try await d.call("tier1", .GET, "/api/v1/tokens/\(token)")["amountFen"]!.intValue!
                if splitting {
                    // `pieces` amounts of 1 fen and the rest in the last: valid from 2 to 100 pieces.
                    let amounts = pieces == 0 ? [] : Array(repeating: Int64(1), count: pieces - 1) + [tokenAmount - Int64(pieces - 1)]
                    expected = (Limits.minSplitPieces...Limits.maxSplitPieces).contains(pieces)
                    switch door {
                    case .api:
                        status = try await d.call("tier1", .POST, "/api/v1/tokens/\(token)/split", #"{"amountsFen":[\#(amounts.map(String.init).joined(separator: ","))]}"#).status.code
                    case .console:
                        let yuan = amounts.map { String(format: "%d.%02d", $0 / 100, $0 % 100) }.joined(separator: "\n")
                        status = try await ConsoleTests.post(d, session, "/tokens/\(token)/split", ["amounts": yuan]).status.code
                    case .selfSigned:
                        status = try await Self.selfSigned(d, signer, tier1, payloadJSON: #"{"tokenId":"\#(token)","amountsFen":[\#(amounts.map(String.init).joined(separator: ","))]}"#, type: .split).code
                    }
                } else {
                    expected = text.valid
                    switch door {
                    case .api:
                        status = try await d.call("tier1", .POST, "/api/v1/tokens/\(token)/transfer", #"{"toOrgId":"\#(tier2)","amountFen":1,"memo":\#(text.json)}"#).status.code
                    case .console:
                        // A form carries only well-formed text: lone surrogates go through JSON alone.
                        guard let string = text.string, !string.isEmpty else { continue }
                        status = try await ConsoleTests.post(d, session, "/tokens/\(token)/transfer", ["toOrgId": tier2.description, "amount": "0.01", "memo": string]).status.code
                    case .selfSigned:
                        status = try await Self.selfSigned(d, signer, tier1, payloadJSON: #"{"tokenId":"\#(token)","toOrgId":"\#(tier2)","amountFen":1,"memo":\#(text.json)}"#, type: .transfer).code
                    }
                }
                let accepted = (200..<400).contains(Int(status))
                #expect(status < 500, "round \(round) \(door): \(status)")
                #expect(accepted == expected, "round \(round) \(door) split=\(splitting) pieces=\(pieces) scalars=\(text.scalars.prefix(4)): \(status)")
                if accepted {
                    counts.accepted += 1
                    // Carry on with the largest live piece the holder keeps.
                    token = try await d.app.sql.raw("SELECT id FROM tokens WHERE holder_id = \(bind: tier1.description) AND status = 'active' ORDER BY amount_fen DESC, id LIMIT 1").first()!
                        .decode(column: "id", as: String.self)
                } else {
                    counts.refused += 1
                    #expect(await d.height == heightBefore, "round \(round): a refusal changed the chain")
                }
            }
            print("gate property: \(counts.accepted) accepted, \(counts.refused) refused over 240 rounds through 3 doors")
            #expect(counts.accepted > 20 && counts.refused > 20)
            #expect(try await d.chainAgrees())
            // The writer's own state is the one a replay from genesis reaches.
            let replayed = try ChainReplayer.verify(export: try await LedgerStore(db: d.app.db).exportAll(), parallelism: 2).get()
            let writer = await d.app.sequencer!.read { $0.snapshotJSON.canonicalString }
            #expect(replayed.state.snapshotJSON.canonicalString == writer)
        }
    }

    /// `POST /transactions` with a body the org signed itself; a body that does not parse is sent
    /// with a stand-in signature (it must be refused before any signature is looked at).
    static func selfSigned(_ d: DemoPlatform, _ signer: any TransactionSigner, _ org: OrgID, payloadJSON: String, type: TxType) async throws -> HTTPResponseStatus {
        let bodyText = #"{"type":"\#(type.rawValue)","orgId":"\#(org)","keyId":"\#(signer.keyId)","time":\#(d.app.ledgerClock.nowMs()),"nonce":"\#(UUID().uuidString)","payload":\#(payloadJSON)}"#
        var signature = Base64.encode([UInt8](repeating: 0, count: 64))
        if let body = try? JSON.parse(bodyText) { signature = Base64.encode(try signer.sign(body.canonicalBytes)) }
        var status: HTTPResponseStatus = .internalServerError
        var headers = HTTPHeaders()
        headers.contentType = .json
        try await d.app.testing().test(.POST, "/api/v1/transactions", headers: headers, body: ByteBuffer(string: #"{"body":\#(bodyText),"signature":"\#(signature)"}"#)) { res in
            status = res.status
        }
        return status
    }
}
