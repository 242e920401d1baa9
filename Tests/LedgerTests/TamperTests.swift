import Ledger
import Testing

/// A real chain from a worked scenario, then every kind of tampering: flipped bytes, dropped and
/// reordered transactions and blocks, and bodies changed and signed again — by the wrong key, or
/// by the right key but breaking a rule, sealed again by the operator.
@Suite struct TamperTests {
    static func scenario() -> Fixture {
        var fx = Fixture()
        let line = fx.grant()
        _ = fx.grant("bank2", rateBps: 298)
        let (_, token) = fx.activeReceivable(line: line, faceFen: 1_000_000, dueIn: 60)
        let (t2, change) = fx.pay(token, from: "s1", to: "s2", amountFen: 400_000)
        let pieces = fx.ok("s2", .split(tokenId: t2, amountsFen: [100_000, 300_000])).createdTokens
        _ = fx.pay(pieces[0], from: "s2", to: "s3", amountFen: 100_000)
        let fin = fx.ok("s1", .requestFinancing(tokenId: change!, bankId: fx.id("bank"))).financingIds[0]
        fx.ok("bank", .approveFinancing(financingId: fin))
        return fx
    }

    static func lines(_ blocks: [Block]) -> [[UInt8]] { blocks.map(\.exportLine) }

    static func join(_ lines: [[UInt8]]) -> [UInt8] { lines.flatMap { $0 + [0x0A] } }

    func refused(_ export: [UInt8], _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        if case .success = ChainReplayer.verify(export: export, parallelism: 2) {
            Issue.record("accepted: \(what)", sourceLocation: sourceLocation)
        }
    }

    @Test func theUntouchedChainVerifies() throws {
        let fx = Self.scenario()
        let blocks = PropertyTests.blocks(fx, blockSize: 3)
        let replayer = try ChainReplayer.verify(export: Self.join(Self.lines(blocks)), parallelism: 2).get()
        #expect(replayer.state.snapshotJSON == fx.state.snapshotJSON)
        #expect(replayer.height == Int64(blocks.count - 1))
    }

    /// A replayer given blocks that fail part-way (an observer following a writer that served a
    /// bad one) puts back, from its undo record, everything they changed: the state, its height,
    /// the keys it learned from registrations. The good blocks then replay to the same state.
    @Test func aFailedAppendIsPutBackFromTheUndoRecord() throws {
        let fx = Self.scenario()
        let lines = Self.lines(PropertyTests.blocks(fx, blockSize: 3))
        let parsed = try lines.enumerated().map { try ParsedBlock(line: $1, index: $0, profile: .standard) }
        #expect(parsed.count >= 4)
        for start in [0, parsed.count / 2] {
            var replayer = ChainReplayer()
            try replayer.append(Array(parsed[..<start]), firstIndex: 0, parallelism: 2)
            let before = replayer.state.snapshotJSON, height = replayer.height, hash = replayer.lastHash
            replayer.openUndo()
            // Every later block but one in the middle: the one after the gap does not follow.
            var gapped = Array(parsed[start...])
            gapped.remove(at: gapped.count / 2)
            #expect(throws: ChainFailure.self) { try replayer.append(gapped, firstIndex: start, parallelism: 2) }
            replayer.rollBack()
            #expect(replayer.state.snapshotJSON == before, "from block \(start)")
            #expect(replayer.height == height && replayer.lastHash == hash)
            // Then the right blocks, under an undo record kept this time.
            replayer.openUndo()
            try replayer.append(Array(parsed[start...]), firstIndex: start, parallelism: 2)
            replayer.dropUndo()
            #expect(replayer.state.snapshotJSON == fx.state.snapshotJSON, "from block \(start)")
            #expect(replayer.height == Int64(parsed.count - 1))
        }
    }

    @Test func everyFlippedByteIsRefused() {
        let lines = Self.lines(PropertyTests.blocks(Self.scenario(), blockSize: 3))
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<400 {
            var copy = lines
            let b = Int.random(in: 0..<copy.count, using: &rng)
            let i = Int.random(in: 0..<copy[b].count, using: &rng)
            copy[b][i] ^= UInt8(1 << Int.random(in: 0..<7, using: &rng))
            refused(Self.join(copy), "byte \(i) of block \(b) flipped")
        }
    }

    @Test func droppedReorderedAndRepeatedPiecesAreRefused() throws {
        let fx = Self.scenario()
        let blocks = PropertyTests.blocks(fx, blockSize: 3)
        let lines = Self.lines(blocks)
        refused(Self.join(Array(lines.dropFirst())), "genesis dropped")
        refused(Self.join(Array(lines[0..<2] + lines[3...])), "a middle block dropped")
        var swapped = lines
        swapped.swapAt(2, 3)
        refused(Self.join(swapped), "two blocks swapped")
        refused(Self.join(lines + [lines.last!]), "the last block repeated")

        // A transaction removed, with or without fixing txCount.
        var removed = blocks[2]
        removed.transactions.removeLast()
        refused(Self.join(Array(lines[0..<2]) + [removed.exportLine] + Array(lines[3...])), "a transaction removed")
        removed.header.txCount -= 1
        refused(Self.join(Array(lines[0..<2]) + [removed.exportLine] + Array(lines[3...])), "a transaction removed, txCount fixed")
        // Two transactions swapped inside a block.
        var reordered = blocks[3]
        reordered.transactions.swapAt(0, 1)
        refused(Self.join(Array(lines[0..<3]) + [reordered.exportLine] + Array(lines[4...])), "transactions reordered")
    }

    @Test func resignedAndResealedChainsStillBreakTheRules() throws {
        let fx = Self.scenario()
        let op = fx.signers[fx.id("op")]!
        // Reorder the transactions and seal everything again with the operator's real key: the
        // blocks verify, the rules do not (an acceptance before its offer).
        var reordered = fx
        let n = reordered.applied.count
        reordered.applied.swapAt(n - 4, n - 5)
        refused(PropertyTests.export(reordered, blockSize: 3), "transactions reordered and re-sealed")

        // The same transaction twice, re-sealed.
        var repeated = fx
        repeated.applied.append(fx.applied[fx.applied.count - 3])
        refused(PropertyTests.export(repeated, blockSize: 3), "a transaction repeated and re-sealed")

        // A transfer's amount raised, signed again by its holder with its own key and re-sealed:
        // the signature holds, the value rule does not (the change would be negative).
        var inflated = fx
        let k = try #require(inflated.applied.firstIndex { if case .transfer = $0.body.payload { true } else { false } })
        var body = inflated.applied[k].body
        guard case .transfer(let tokenId, let to, _, let memo) = body.payload else { return }
        body.payload = .transfer(tokenId: tokenId, toOrgId: to, amountFen: 1_000_001, memo: memo)
        inflated.applied[k] = try Transaction.sign(body, with: inflated.signers[body.orgId]!)
        inflated.applied.removeSubrange((k + 1)...)
        refused(PropertyTests.export(inflated, blockSize: 3), "transfer inflated and re-signed")

        // The same change signed by another org's key.
        var forged = fx
        var forgedBody = forged.applied[k].body
        forgedBody.nonce = "forged"
        forged.applied[k] = try Transaction.sign(forgedBody, with: forged.signers[fx.id("s3")]!)
        refused(PropertyTests.export(forged, blockSize: 3), "transaction signed by the wrong key")

        // Blocks sealed by someone other than the operator.
        var wrongSealer = fx
        wrongSealer.signers[fx.id("op")] = fx.signers[fx.id("bank")]!
        refused(PropertyTests.export(wrongSealer, blockSize: 3), "blocks sealed by a bank")
        _ = op
    }

    @Test func theFirstProblemIsTheOneReported() throws {
        let fx = Self.scenario()
        var blocks = PropertyTests.blocks(fx, blockSize: 3)
        // Two faults: a bad signature in block 2 and a bad block signature in block 4. Block 2's is first.
        blocks[2].transactions[1].signature[0] ^= 1
        var lines = Self.lines(blocks)
        var late = blocks[4]
        late.signature[5] ^= 1
        lines[4] = late.exportLine
        let failure = try #require(ChainReplayer.verify(export: Self.join(lines), parallelism: 2).failureValue)
        #expect(failure.transactionId == blocks[2].transactions[1].id.description)
        #expect(failure.reason == "signature invalid")
    }
}

extension Result {
    var failureValue: Failure? {
        if case .failure(let f) = self { return f }
        return nil
    }
}
