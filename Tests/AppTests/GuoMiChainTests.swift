import Foundation
import Ledger
import SQLKit
import Testing
import VaporTesting

@testable import Commands
@testable import Core
@testable import Web

/// A whole chain in the `sm2-sm3` (国密) profile, SPEC §4: created so on an empty database, served
/// through the same API, console, proofs and exports, refusing keys and signatures of the other
/// profile, and keeping its profile for life.
@Suite struct GuoMiChainTests {
    @Test func theDemoRunsOnAnSM2SM3Chain() async throws {
        try await DemoPlatform.with(profile: .sm2Sm3) { d in
            // Block 0 names the profile; every block and transaction is SM3 and SM2.
            let export = try await LedgerStore(db: d.app.db).exportAll()
            let first = String(decoding: export.prefix { $0 != 0x0A }, as: UTF8.self)
            #expect(first.contains(#""profile":"sm2-sm3""#))
            let replayed = try ChainReplayer.verify(export: export, parallelism: 2).get()
            #expect(replayed.state.profile == .sm2Sm3)
            #expect(try await d.chainAgrees())
            for key in replayed.state.orgs.values.map(\.publicKey) { #expect(key.count == 65 && key[0] == 0x04) }
            #expect(try await d.call("regulator", .GET, "/api/v1/node/status")["profile"] == .string("sm2-sm3"))

            // The API works unchanged: a transfer, and its proof checks in the chain's profile.
            let token = try #require(try await d.call("tier1", .GET, "/api/v1/tokens?status=active").items.first { $0["amountFen"] == .int(600_000_00) }?["id"]?.stringValue)
            let paid = try await d.call("tier1", .POST, "/api/v1/tokens/\(token)/transfer", #"{"toOrgId":"\#(d.orgs["tier2"]!)","amountFen":100}"#)
            #expect(paid.status == .created, "\(paid.json)")
            let txId = try #require(paid["transactionId"]?.stringValue)
            let stored = try await d.call("tier1", .GET, "/api/v1/transactions/\(txId)")
            let signature = try #require(Base64.decode(stored["signature"]?.stringValue ?? ""))
            #expect(signature.first == 0x30 && CryptoProfile.sm2Sm3.signatureProblem(signature) == nil, "a DER SM2 signature")
            let proofJSON = try await d.call("tier1", .GET, "/api/v1/transactions/\(txId)/proof").json
            let proof = try InclusionProof(json: proofJSON)
            #expect(proof.profile == .sm2Sm3)
            let operatorKey = try #require(try await ChainQueries.operatorKey(on: d.app.sql))
            #expect(proof.problem(sealerPublicKey: operatorKey) == nil)
            // The same proof read as if it were of an ed25519-sha256 chain does not hold.
            var standard = proof
            standard.profile = .standard
            #expect(standard.problem(sealerPublicKey: operatorKey) != nil)
            // The console's receipt check takes it, and says so of a receipt of another profile.
            #expect(try await ReceiptTests.check(d, proofJSON.canonicalString).contains("The proof holds"))
            let other = try await ReceiptTests.check(d, standard.json.canonicalString)
            #expect(other.contains("The proof does not hold") && other.contains("this chain is in sm2-sm3"))
        }
    }

    @Test func postTransactionsTakesSM2AndRefusesTheOtherProfile() async throws {
        try await DemoPlatform.with(profile: .sm2Sm3) { d in
            let tier1 = d.orgs["tier1"]!, op = d.orgs["operator"]!
            let signer = try #require(try await d.app.keyVault!.signer(for: tier1, on: d.app.sql))
            let opSigner = try #require(try await d.app.keyVault!.signer(for: op, on: d.app.sql))
            #expect(signer.profile == .sm2Sm3 && signer.publicKey.count == 65)
            let token = try #require(try await d.call("tier1", .GET, "/api/v1/tokens?status=active").items.first { $0["amountFen"] == .int(600_000_00) }?["id"]?.stringValue)

            // A body the org signed itself with its SM2 key.
            let split = #"{"tokenId":"\#(token)","amountsFen":[10000000,50000000]}"#
            #expect(try await Self.post(d, signer, tier1, split, type: .split).status == .created)

            let before = await d.height
            // An Ed25519 signature (64 raw bytes) is not an SM2 signature.
            let ed = try await Self.post(d, signer, tier1, #"{"tokenId":"\#(token)"}"#, type: .accept, signature: Base64.encode([UInt8](repeating: 7, count: 64)))
            #expect(ed.status == .unprocessableEntity && ed.json["errors"]?.arrayValue?.first?["message"]?.stringValue?.contains("must be an SM2 signature") == true, "\(ed.json)")
            // A DER signature with a byte after it, and one with s = 0.
            let good = try signer.sign(Array("x".utf8))
            let trailing = try await Self.post(d, signer, tier1, #"{"tokenId":"\#(token)"}"#, type: .accept, signature: Base64.encode(good + [0]))
            #expect(trailing.json["errors"]?.arrayValue?.first?["message"]?.stringValue?.contains("follow the DER SEQUENCE") == true, "\(trailing.json)")
            let zero = try await Self.post(d, signer, tier1, #"{"tokenId":"\#(token)"}"#, type: .accept,
                                           signature: Base64.encode([0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x00]))
            #expect(zero.json["errors"]?.arrayValue?.first?["message"]?.stringValue?.contains("s is zero") == true, "\(zero.json)")

            // Keys: an Ed25519 key, and 65 bytes that are not a point of the curve, are refused with the reason.
            let edKey = Ed25519Signer.generate().publicKey
            let rotateEd = try await Self.post(d, opSigner, op, #"{"orgId":"\#(tier1)","publicKey":"\#(Base64.encode(edKey))"}"#, type: .rotateKey)
            #expect(rotateEd.status == .unprocessableEntity && rotateEd.json["errors"]?.arrayValue?.first?["message"]?.stringValue?.contains("is an Ed25519 key") == true, "\(rotateEd.json)")
            let offCurve = [UInt8(0x04)] + [UInt8](repeating: 1, count: 64)
            let rotateOff = try await Self.post(d, opSigner, op, #"{"orgId":"\#(tier1)","publicKey":"\#(Base64.encode(offCurve))"}"#, type: .rotateKey)
            #expect(rotateOff.status == .unprocessableEntity && rotateOff.json["errors"]?.arrayValue?.first?["message"]?.stringValue?.contains("not a point of the SM2 curve") == true, "\(rotateOff.json)")
            #expect(await d.height == before, "nothing refused reached the chain")
            #expect(try await d.chainAgrees())
        }
    }

    /// An observer follows an sm2-sm3 chain from its block 0, which names the profile, and
    /// serves the same state.
    @Test func anObserverFollowsAnSM2SM3Chain() async throws {
        try await ObserverTests.twoNodes(profile: .sm2Sm3) { d, observer, follower in
            _ = try await follower.poll()
            #expect(await follower.status.height == (await d.height))
            let (height, problems) = try await ObserverTests.agrees(observer)
            #expect(height == (await d.height) && problems.isEmpty, "\(problems.prefix(3))")
            #expect(try await ObserverTests.status(observer)["profile"] == .string("sm2-sm3"))
        }
    }

    /// The regulator's background verification and the writer's drift check read an sm2-sm3
    /// chain as it is stored, from block 0 (which names the profile) or from the writer's state.
    @Test func theBackgroundVerificationAndTheDriftCheckReadAnSM2SM3Chain() async throws {
        try await DemoPlatform.with(profile: .sm2Sm3) { d in
            let verification = d.app.chainVerification
            try await verification.start(d.app, by: "test")
            await verification.wait()
            let p = await verification.current
            #expect(p.result?.ok == true && p.blocksDone == p.blocksTotal, "\(String(describing: p.result))")
            // The regulator's chain page names the profile.
            let page = try await ConsoleTests.get(d, try await ConsoleTests.session(d, "regulator"), "/chain")
            #expect(page.html.contains("id=\"chain-profile\"") && page.html.contains("<code>sm2-sm3</code>") && page.html.contains("GB/T 32905"))

            let fromGenesis = DriftCheck(state: StartingPoint.empty.state, tip: StartingPoint.empty.tip, store: { LedgerStore(db: d.app.db) }, halt: { _ in })
            let fromBlock0 = try await fromGenesis.check()
            #expect(fromBlock0 == nil, "the stored chain, read from block 0, agrees with its tables: \(fromBlock0 ?? "")")
            let (state, tip) = await d.app.sequencer!.stateAndTip()
            let check = DriftCheck(state: state, tip: tip, store: { LedgerStore(db: d.app.db) }, halt: { reason in await d.app.sequencer!.halt(because: reason) })
            func split() async throws -> String {
                let token = try #require(try await d.call("tier1", .GET, "/api/v1/tokens?status=active").items.first { ($0["amountFen"]?.intValue ?? 0) > 1 })
                let tokenId = token["id"]!.stringValue!, amount = token["amountFen"]!.intValue!
                let answer = try await d.call("tier1", .POST, "/api/v1/tokens/\(tokenId)/split", #"{"amountsFen":[1,"# + "\(amount - 1)]}")
                #expect(answer.status == .created, "\(answer.json)")
                return tokenId
            }
            _ = try await split()
            #expect(try await check.check() == nil)
            // A row that drifts is found on an SM chain too.
            let drifted = try await split()
            try await d.app.sql.raw("UPDATE tokens SET status = 'active', spent_tx = NULL WHERE id = \(bind: drifted)").run()
            let reason = try await check.check()
            #expect(reason?.contains("tokens \(drifted)") == true, "\(String(describing: reason))")
        }
    }

    @Test func aChainKeepsItsProfile() async throws {
        try await DemoPlatform.with(profile: .sm2Sm3) { d in
            // A writer starting again on the stored chain finds its profile in block 0, whatever it
            // starts from, and refuses to be told another.
            let replayed = try await Sequencer.load(store: LedgerStore(db: d.app.db), sealer: { nil }, clock: d.app.ledgerClock)
            let replayedProfile = await replayed.read(\.profile)
            #expect(replayed.start.hasPrefix("by replaying the whole chain") && replayedProfile == .sm2Sm3)
            #expect(try await replayed.settleProfile(nil) == .sm2Sm3)
            await #expect(throws: ConfigurationError.self) { try await replayed.settleProfile(.ed25519Sha256) }
            // From a snapshot the operator signed with SM2, hashed with SM3.
            try await d.app.sequencer!.writeSnapshotNow()
            let op = try #require(try await d.app.keyVault!.signer(for: d.orgs["operator"]!, on: d.app.sql))
            let resumed = try await Sequencer.load(store: LedgerStore(db: d.app.db), sealer: { op }, clock: d.app.ledgerClock)
            #expect(resumed.start.hasPrefix("from the snapshot"), "\(resumed.start)")
            #expect(await resumed.read(\.profile) == .sm2Sm3)
            // A live state keeps only what the rules still need; what it keeps is the writer's.
            let (theirs, ours) = (await resumed.read { ($0.transactionCount, $0.orgs.storage) }, await d.app.sequencer!.read { ($0.transactionCount, $0.orgs.storage) })
            #expect(theirs.0 == ours.0 && theirs.1 == ours.1)
        }
        try await DemoPlatform.with { d in
            await #expect(throws: ConfigurationError.self) { try await d.app.sequencer!.settleProfile(.sm2Sm3) }
            // An SM2 key on an ed25519-sha256 chain is refused with the reason.
            let op = d.orgs["operator"]!
            let opSigner = try #require(try await d.app.keyVault!.signer(for: op, on: d.app.sql))
            let smKey = try SM2PrivateKey().publicKey
            let rotate = try await Self.post(d, opSigner, op, #"{"orgId":"\#(d.orgs["tier1"]!)","publicKey":"\#(Base64.encode(smKey))"}"#, type: .rotateKey)
            #expect(rotate.status == .unprocessableEntity && rotate.json["errors"]?.arrayValue?.first?["message"]?.stringValue?.contains("is an SM2 key (65 bytes)") == true, "\(rotate.json)")
            let status = try await d.call("regulator", .GET, "/api/v1/node/status")
            #expect(status["profile"] == .string("ed25519-sha256"))
        }
    }

    /// An independent replay (Python, gmssl, SPEC §4; nothing of ours) agrees with ours on a
    /// chain the demo writes now, on the one kept from an earlier version, and on the shared
    /// vectors; and refuses a tampered one.
    @Test func anIndependentPythonReplayAgrees() async throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let kept = root.appendingPathComponent("Tests/Conformance/sm2-sm3"), shared = root.deletingLastPathComponent().appendingPathComponent("shared/vectors-sm")
        for set in [kept, shared] {
            let (ok, said) = try Self.replayInPython(set.appendingPathComponent("chain-valid.jsonl").path, set.appendingPathComponent("expected-state.json").path)
            #expect(ok && said.hasPrefix("OK "), "\(set.lastPathComponent): \(said)")
        }
        try await DemoPlatform.with(profile: .sm2Sm3) { d in
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sm2-replay-\(UUID())")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            let export = try await LedgerStore(db: d.app.db).exportAll()
            let state = try ChainReplayer.verify(export: export, parallelism: 2).get().state.snapshotJSON
            let chain = dir.appendingPathComponent("chain.jsonl"), expected = dir.appendingPathComponent("state.json")
            try Data(export).write(to: chain)
            try Data(state.canonicalBytes).write(to: expected)
            let (ok, said) = try Self.replayInPython(chain.path, expected.path)
            #expect(ok && said.hasPrefix("OK "), "\(said)")
            // One amount changed under its signature: the id no longer holds.
            let text = String(decoding: export, as: UTF8.self)
            let tampered = try #require(text.range(of: #""faceFen":"#)).upperBound
            try Data((String(text[..<tampered]) + "9" + String(text[tampered...])).utf8).write(to: chain)
            let (refused, why) = try Self.replayInPython(chain.path, expected.path)
            #expect(!refused && why.contains("id is not SM3(JCS(body))"), "\(why)")
        }
    }

    /// `Tests/Conformance/sm2_replay.py CHAIN STATE`: whether it exits 0, and its last line.
    static func replayInPython(_ chain: String, _ state: String) throws -> (Bool, String) {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Conformance/sm2_replay.py")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script.path, chain, state]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let said = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus == 0, said.split(separator: "\n").last.map(String.init) ?? "")
    }

    /// `POST /transactions` with a body signed by `signer` (or carrying `signature` as given).
    static func post(_ d: DemoPlatform, _ signer: any TransactionSigner, _ org: OrgID, _ payloadJSON: String, type: TxType,
                     signature given: String? = nil) async throws -> DemoPlatform.Answer {
        let bodyText = #"{"type":"\#(type.rawValue)","orgId":"\#(org)","keyId":"\#(signer.keyId)","time":\#(d.app.ledgerClock.nowMs()),"nonce":"\#(UUID().uuidString)","payload":\#(payloadJSON)}"#
        let signature = try given ?? Base64.encode(try signer.sign(try JSON.parse(bodyText).canonicalBytes))
        return try await d.call(nil, .POST, "/api/v1/transactions", #"{"body":\#(bodyText),"signature":"\#(signature)"}"#)
    }
}
