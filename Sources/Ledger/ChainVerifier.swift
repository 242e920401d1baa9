import Dispatch
import Foundation

/// The first thing wrong with a chain: the block (by its position in the export and, when it
/// could be read, its height) or transaction at fault, and why.
public struct ChainFailure: Error, Sendable, Equatable, CustomStringConvertible {
    public var blockIndex: Int
    public var transactionId: String?
    public var transactionType: TxType?
    public var reason: String
    public var code: ErrorCode?

    public var description: String {
        if let transactionId {
            return "tx \(transactionId)\(transactionType.map { " (\($0.rawValue))" } ?? ""): \(reason)"
        }
        return "block \(blockIndex): \(reason)"
    }
}

/// A block read from its export line: ids and hashes computed, nothing yet checked against the
/// chain. Parsing is independent per block, so it runs on every core.
public struct ParsedBlock: Sendable {
    public var block: Block
    /// The first transaction that could not be read (index and reason): the chain stops there.
    public var badTransaction: (index: Int, reason: String, id: String?)?
    var headerProblem: String?

    /// Reads the block on `line` of a chain in `profile`. A header that names a profile (block 0)
    /// is read in the profile it names; whether it may name one is the replay's to judge.
    public init(line: some Collection<UInt8>, index: Int, profile chainProfile: CryptoProfile) throws(ChainFailure) {
        let bytes = Array(line)
        let json: JSON
        let bodies: [JSONSpan?]
        do throws(JSONParseError) {
            (json, bodies) = try JSON.parse(bytes, spansOf: "body", inItemsOf: "transactions")
        } catch {
            throw ChainFailure(blockIndex: index, reason: error.description)
        }
        do throws(LedgerError) {
            var r = try FieldReader(json, path: "", text: .chain)
            let header = try BlockHeader(json: r.value("header"))
            let profile = header.profile ?? chainProfile
            let hash = try r.required("hash", maxLength: 64)
            let signatureText = try r.required("signature", maxLength: 128)
            let items = try r.array("transactions", count: 0...Limits.maxTransactionsPerBlock)
            try r.finish()
            guard let signature = Base64.decode(signatureText) else { throw LedgerError.invalid("signature", "must be standard, padded base64") }
            if let problem = profile.signatureProblem(signature) { throw LedgerError.invalid("signature", problem) }
            var transactions: [Transaction] = []
            transactions.reserveCapacity(items.count)
            for (i, item) in items.enumerated() {
                do throws(LedgerError) {
                    // A body exported in canonical form is hashed and verified as it lies.
                    let span = i < bodies.count ? bodies[i] : nil
                    transactions.append(try Transaction(json: item, canonicalBody: span.flatMap { $0.isCanonical ? bytes[$0.range] : nil }, profile: profile))
                } catch {
                    // Keep the claimed id (it still counts in the Merkle root) and stop reading.
                    badTransaction = (i, error.fields.first?.field == "id" ? "id is not \(profile.hashName)(JCS(body))" : error.message, item["id"]?.stringValue)
                    break
                }
            }
            block = Block(header: header, hash: hash, signature: signature, transactions: transactions)
            // A transaction read is known to carry the id it claims; the rest are read as written.
            let claimed = transactions.map { Optional($0.id) } + items[transactions.count...].map { $0["id"]?.stringValue.flatMap(TxID.init) }
            headerProblem = Self.headerProblem(block, claimedIds: claimed, profile: profile)
        } catch {
            throw ChainFailure(blockIndex: index, reason: error.message)
        }
    }

    init(block: Block, profile: CryptoProfile) {
        self.block = block
        headerProblem = Self.headerProblem(block, claimedIds: block.transactions.map(\.id), profile: block.header.profile ?? profile)
    }

    /// The checks that need nothing but the block itself. `claimedIds` holds nil for an id that
    /// is not 64 lowercase hex characters.
    static func headerProblem(_ block: Block, claimedIds: [TxID?], profile: CryptoProfile) -> String? {
        let h = block.header
        guard h.txCount == Int64(claimedIds.count) else { return "txCount \(h.txCount) != \(claimedIds.count)" }
        guard h.txCount > 0 else { return "a block holds at least one transaction" }
        guard h.hash(in: profile) == block.hash else { return "hash is not \(profile.hashName)(JCS(header))" }
        let leaves = claimedIds.compactMap { $0 }
        guard leaves.count == claimedIds.count else { return "a transaction id is not 64 hex characters" }
        guard Hex.encode(Merkle.root(ids: leaves, profile: profile)) == h.txRoot else { return "txRoot is not the Merkle root of its transactions" }
        return nil
    }
}

/// One signature check the replay needs, placed in the chain's order so that the earliest failure
/// can be reported whichever core found it.
struct SignatureJob: Sendable {
    var position: Position
    var key: Int
    var blockIndex: Int
    /// -1 for the block header.
    var txIndex: Int
}

/// Where a check sits in the chain: block, then slot (0 header, 1 block signature, 2+2i the
/// signature of transaction i, 3+2i its id and rules).
struct Position: Comparable, Sendable {
    var block: Int
    var slot: Int
    static func < (a: Position, b: Position) -> Bool { (a.block, a.slot) < (b.block, b.slot) }
}

/// Replays a chain from genesis, checking every hash, signature, Merkle root and rule, and
/// rebuilding the state. Used by `cascade verify`, the server's start-up and observer nodes.
public struct ChainReplayer: Sendable {
    public var state = LedgerState()
    public private(set) var height: Int64 = -1
    public private(set) var lastHash = BlockHeader.genesisPrevHash
    public private(set) var lastTime: Int64 = 0
    public private(set) var blockCount = 0
    /// When set, the effects of every transaction applied are kept in `effects`, in chain
    /// order, for a store that writes projections (an observer node).
    public var collectsEffects = false
    public var effects: [TxEffects] = []
    /// With `collectsEffects`: the transaction log's complete subtrees the blocks made, in order.
    public var logNodes: [(LogTree.Node, LogTree.Hash)] = []

    /// Public keys seen so far, each parsed once, and which one each org signs with now.
    var keys: [[UInt8]] = []
    var keyIndex: [[UInt8]: Int] = [:]
    var currentKey: [OrgID: Int] = [:]
    var scheduledOperator: OrgID?

    public init() {}

    /// Where the replayer stood at `openUndo()`: what `rollBack()` puts back of the replayer
    /// itself (the state journals its own changes).
    struct Mark: Sendable {
        var height: Int64
        var lastHash: String
        var lastTime: Int64
        var blockCount: Int
        var keyCount: Int
        var currentKey: [OrgID: Int]
        var scheduledOperator: OrgID?
    }

    var mark: Mark?

    /// Starts keeping what the next blocks change, as the writer does for each block, so that a
    /// failure (a block that does not verify, a store that does not take them) is undone by
    /// `rollBack()` without a copy of the state.
    public mutating func openUndo() {
        mark = Mark(height: height, lastHash: lastHash, lastTime: lastTime, blockCount: blockCount, keyCount: keys.count,
                    currentKey: currentKey, scheduledOperator: scheduledOperator)
        state.openUndo()
    }

    /// The blocks since `openUndo()` stand.
    public mutating func dropUndo() {
        mark = nil
        state.dropUndo()
    }

    /// Back to where `openUndo()` was, the effects collected since then dropped.
    public mutating func rollBack() {
        guard let m = mark else { return }
        (height, lastHash, lastTime, blockCount) = (m.height, m.lastHash, m.lastTime, m.blockCount)
        for key in keys[m.keyCount...] { keyIndex[key] = nil }
        keys.removeLast(keys.count - m.keyCount)
        (currentKey, scheduledOperator) = (m.currentKey, m.scheduledOperator)
        state.rollBack()
        effects = []
        logNodes = []
        mark = nil
    }

    /// Goes on from a state restored at `tip` (a snapshot): the blocks appended next must follow it.
    public init(resuming state: LedgerState, at tip: ChainTip) {
        self.state = state
        height = tip.height
        lastHash = tip.hash
        lastTime = tip.time
        for org in state.orgs.values.sorted(by: { $0.id < $1.id }) { currentKey[org.id] = keyNumber(org.publicKey) }
        scheduledOperator = state.operatorId
    }

    mutating func keyNumber(_ key: [UInt8]) -> Int {
        if let k = keyIndex[key] { return k }
        keys.append(key)
        keyIndex[key] = keys.count - 1
        return keys.count - 1
    }

    /// Which key must have signed each transaction and block. It follows only `registerOrg` and
    /// `rotateKey`, so it runs ahead of the rules and lets the signatures be checked while the
    /// rules are applied. Where a key change is itself refused by the rules, the chain fails there,
    /// before any signature the schedule placed after it could matter.
    mutating func scheduleSignatures(_ blocks: [ParsedBlock], firstIndex: Int) -> [SignatureJob] {
        var jobs: [SignatureJob] = []
        jobs.reserveCapacity(blocks.reduce(0) { $0 + $1.block.transactions.count + 1 })
        for (offset, parsed) in blocks.enumerated() {
            let b = firstIndex + offset
            // The operator key in force at the end of the previous block seals this one.
            var sealer = scheduledOperator.flatMap { currentKey[$0] }
            for (i, tx) in parsed.block.transactions.enumerated() {
                let body = tx.body
                let position = Position(block: b, slot: 2 + 2 * i)
                if scheduledOperator == nil, case .registerOrg(let p) = body.payload, p.orgId == body.orgId {
                    jobs.append(SignatureJob(position: position, key: keyNumber(p.publicKey), blockIndex: b, txIndex: i))
                } else if let key = currentKey[body.orgId] {
                    jobs.append(SignatureJob(position: position, key: key, blockIndex: b, txIndex: i))
                }
                switch body.payload {
                case .registerOrg(let p) where currentKey[p.orgId] == nil:
                    currentKey[p.orgId] = keyNumber(p.publicKey)
                    if scheduledOperator == nil {
                        scheduledOperator = p.orgId
                        sealer = sealer ?? currentKey[p.orgId]  // block 0: the key genesis registers
                    }
                case .rotateKey(let orgId, let key): currentKey[orgId] = keyNumber(key)
                default: break
                }
            }
            if let sealer { jobs.append(SignatureJob(position: Position(block: b, slot: 1), key: sealer, blockIndex: b, txIndex: -1)) }
        }
        return jobs
    }

    /// The sequential part of checking one block: linkage, header, and every rule.
    mutating func sequence(_ parsed: ParsedBlock, index: Int) throws(ChainFailure) {
        let block = parsed.block
        let h = block.header
        func fail(_ reason: String, _ code: ErrorCode? = nil) -> ChainFailure {
            ChainFailure(blockIndex: index, reason: reason, code: code)
        }
        guard h.height == height + 1 else { throw fail("height \(h.height)") }
        guard h.prevHash == lastHash else { throw fail("prevHash is not the hash of block \(height)") }
        guard h.profile == nil || h.height == 0 else { throw fail("only block 0 names the profile") }
        if let problem = parsed.headerProblem { throw fail(problem) }
        guard h.time >= lastTime else { throw fail("time \(h.time) is before the previous block's \(lastTime)") }
        if let late = block.transactions.first(where: { $0.body.time > h.time }) {
            throw ChainFailure(blockIndex: index, transactionId: late.id.description, transactionType: late.body.type,
                               reason: "its time \(late.body.time) is later than its block's, \(h.time)")
        }
        var collected: [TxEffects] = []
        let refused = state.apply(contentsOf: block.transactions, onEffects: collectsEffects ? { collected.append($0) } : nil)
        effects += collected
        if let (i, error) = refused {
            let tx = block.transactions[i]
            throw ChainFailure(blockIndex: index, transactionId: tx.id.description, transactionType: tx.body.type, reason: error.message, code: error.code)
        }
        if let bad = parsed.badTransaction {
            throw ChainFailure(blockIndex: index, transactionId: bad.id, reason: bad.reason, code: .validationFailed)
        }
        guard state.operatorId != nil else { throw fail("no operator key to check the block signature with") }
        let made = state.extendLog(with: block.transactions)
        if collectsEffects { logNodes += made }
        height = h.height
        lastHash = block.hash
        lastTime = h.time
        blockCount += 1
    }

    /// A key that is not one of the chain's profile (nil) verifies nothing: the rules refuse its
    /// registration, at its place in the chain.
    static func check(_ job: SignatureJob, keys: [SignatureVerifier?], block: Block) -> ChainFailure? {
        if job.txIndex < 0 {
            return keys[job.key]?.verify(block.signature, block.header.canonicalBytes) == true
                ? nil : ChainFailure(blockIndex: job.blockIndex, reason: "sealer signature invalid", code: .unauthorized)
        }
        let tx = block.transactions[job.txIndex]
        return keys[job.key]?.verify(tx.signature, tx.canonicalBody) == true
            ? nil : ChainFailure(blockIndex: job.blockIndex, transactionId: tx.id.description, transactionType: tx.body.type, reason: "signature invalid", code: .unauthorized)
    }

    /// Every key seen so far, parsed once in the chain's profile.
    func publicKeys() -> [SignatureVerifier?] { keys.map(state.profile.verifier(for:)) }

    /// Checks and applies blocks that follow what has been replayed so far: this thread applies
    /// the rules while `parallelism − 1` others check signatures, and joins them when it is done.
    /// The failure reported is the first in chain order. On failure the replayer must be
    /// discarded: its state may hold part of the failing block.
    public mutating func append(_ blocks: [ParsedBlock], firstIndex: Int = 0, parallelism: Int = 1) throws(ChainFailure) {
        // Genesis fixes the chain's profile before anything is checked.
        if height < 0, let genesis = blocks.first, state.operatorId == nil { state.create(in: genesis.block.header.profile ?? .standard) }
        let jobs = scheduleSignatures(blocks, firstIndex: firstIndex)
        let work = SignatureWork(jobs: jobs, keys: publicKeys(), blocks: blocks.map(\.block), firstIndex: firstIndex)
        let group = DispatchGroup()
        for _ in 0..<max(0, parallelism - 1) {
            DispatchQueue.global().async(group: group) { work.run() }
        }
        var ruleFailure: ChainFailure?
        for (offset, parsed) in blocks.enumerated() {
            do throws(ChainFailure) {
                try sequence(parsed, index: firstIndex + offset)
            } catch {
                ruleFailure = error
                var slot = 0
                if let id = error.transactionId, let i = parsed.block.transactions.firstIndex(where: { $0.id.description == id }) {
                    slot = 3 + 2 * i
                } else if let bad = parsed.badTransaction, error.transactionId == bad.id {
                    slot = 2 + 2 * bad.index
                }
                work.stop(at: Position(block: firstIndex + offset, slot: slot))
                break
            }
        }
        work.run()
        group.wait()
        if let first = work.firstFailure() { throw first }
        if let ruleFailure { throw ruleFailure }
    }

    /// Verifies a whole chain export (JSON Lines, one block per line): parses on every core,
    /// applies the rules in order, then checks every signature on every core.
    public static func verify(export bytes: [UInt8], parallelism: Int, live: Bool = false) -> Result<ChainReplayer, ChainFailure> {
        replay(parse(export: bytes, parallelism: parallelism), parallelism: parallelism, live: live)
    }

    /// The blocks of an export read on every core, in order, up to the first line that cannot
    /// be read, and that line's failure.
    public static func parse(export bytes: [UInt8], parallelism: Int) -> (blocks: [ParsedBlock], failure: ChainFailure?) {
        let lines = splitLines(bytes)
        let profile = LedgerState().profile(reading: lines.first.map { bytes[$0] })
        let parsed = ParallelSlots<Result<ParsedBlock, ChainFailure>?>(count: lines.count, initial: nil)
        let workers = max(1, min(parallelism, lines.count))
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            var i = w
            while i < lines.count {
                do throws(ChainFailure) {
                    parsed[i] = .success(try ParsedBlock(line: bytes[lines[i]], index: i, profile: profile))
                } catch {
                    parsed[i] = .failure(error)
                }
                i += workers
            }
        }
        var blocks: [ParsedBlock] = []
        blocks.reserveCapacity(lines.count)
        for result in parsed.values {
            switch result! {
            case .success(let b): blocks.append(b)
            case .failure(let f): return (blocks, f)
            }
        }
        return (blocks, nil)
    }

    /// Replays parsed blocks from genesis. A read failure counts only once every block before
    /// it has checked out, so the failure reported is always the first in chain order.
    /// A `live` replay keeps its ids in chain order for a live state's filter (`retire()` after).
    public static func replay(_ parsed: (blocks: [ParsedBlock], failure: ChainFailure?), parallelism: Int, live: Bool = false) -> Result<ChainReplayer, ChainFailure> {
        var replayer = ChainReplayer()
        if live { replayer.state.goLive() }
        replayer.state.reserveCapacity(for: parsed.blocks.lazy.flatMap(\.block.transactions))
        do throws(ChainFailure) {
            try replayer.append(parsed.blocks, parallelism: parallelism)
        } catch {
            return .failure(error)
        }
        if let readFailure = parsed.failure { return .failure(readFailure) }
        guard replayer.blockCount > 0 else { return .failure(ChainFailure(blockIndex: 0, reason: "the chain is empty")) }
        return .success(replayer)
    }

    static func splitLines(_ bytes: [UInt8]) -> [Range<Int>] {
        var lines: [Range<Int>] = []
        var start = 0
        for (i, b) in bytes.enumerated() where b == 0x0A {
            if i > start { lines.append(start..<i) }
            start = i + 1
        }
        if start < bytes.count { lines.append(start..<bytes.count) }
        // Blank lines (a trailing \r or spaces) are not blocks.
        return lines.filter { r in bytes[r].contains { !($0 == 0x20 || $0 == 0x0D || $0 == 0x09) } }
    }
}

/// Fixed slots written by concurrent workers, each slot by exactly one of them, and read only
/// once they have all finished.
public final class ParallelSlots<T>: @unchecked Sendable {
    private let storage: UnsafeMutableBufferPointer<T>
    public init(count: Int, initial: T) {
        storage = .allocate(capacity: count)
        storage.initialize(repeating: initial)
    }
    public init(_ items: [T]) {
        storage = .allocate(capacity: items.count)
        _ = storage.initialize(from: items)
    }
    public var count: Int { storage.count }
    deinit {
        storage.deinitialize()
        storage.deallocate()
    }
    public subscript(i: Int) -> T {
        get { storage[i] }
        set { storage[i] = newValue }
    }
    public var values: [T] { Array(storage) }
}



/// Signature checks shared out between threads in chunks. Once the rules fail at some position,
/// checks after it are skipped: they cannot be the first failure.
final class SignatureWork: @unchecked Sendable {
    let jobs: [SignatureJob]
    let keys: [SignatureVerifier?]
    let blocks: [Block]
    let firstIndex: Int
    private let lock = NSLock()
    private var next = 0
    private var limit = Position(block: Int.max, slot: 0)
    private var failures: [(Position, ChainFailure)] = []
    static let chunk = 64

    init(jobs: [SignatureJob], keys: [SignatureVerifier?], blocks: [Block], firstIndex: Int) {
        self.jobs = jobs
        self.keys = keys
        self.blocks = blocks
        self.firstIndex = firstIndex
    }

    func stop(at position: Position) {
        lock.lock()
        limit = min(limit, position)
        lock.unlock()
    }

    func run() {
        while true {
            lock.lock()
            let start = next
            next += Self.chunk
            let bound = limit
            lock.unlock()
            guard start < jobs.count else { return }
            for job in jobs[start..<min(start + Self.chunk, jobs.count)] where job.position < bound {
                if let failure = ChainReplayer.check(job, keys: keys, block: blocks[job.blockIndex - firstIndex]) {
                    lock.lock()
                    failures.append((job.position, failure))
                    lock.unlock()
                }
            }
        }
    }

    func firstFailure() -> ChainFailure? {
        lock.lock()
        defer { lock.unlock() }
        return failures.filter { $0.0 < limit }.min { $0.0 < $1.0 }?.1
    }
}

extension LedgerState {
    /// The profile the next blocks are read in: the chain's, or before genesis the one block 0
    /// names (`firstLine`, the next line to read: block 0 then).
    public func profile(reading firstLine: (some Collection<UInt8>)?) -> CryptoProfile {
        guard operatorId == nil, let firstLine else { return profile }
        return (try? ParsedBlock(line: firstLine, index: 0, profile: .standard))?.block.header.profile ?? .standard
    }
}

/// Where a chain stands: its last block's height, hash and time (height −1 before genesis).
public struct ChainTip: Sendable, Equatable {
    public var height: Int64
    public var hash: String
    public var time: Int64

    public init(height: Int64, hash: String, time: Int64) {
        self.height = height
        self.hash = hash
        self.time = time
    }
}

extension LedgerState {
    /// Checks one block that follows `tip` and applies it, with every check a replay makes:
    /// linkage, header and Merkle root, each transaction's signature under the key in force at
    /// that point, the rules, and the seal under the operator's key as the block began. For a
    /// writer taking up what its database holds after the last block it knew. On failure the
    /// state may hold part of the block: open an undo record before, and roll back. `onEffects`
    /// hears each transaction's effects as it is applied.
    public mutating func follow(_ parsed: ParsedBlock, after tip: ChainTip, onEffects: ((TxEffects) -> Void)? = nil) throws(ChainFailure) -> ChainTip {
        let block = parsed.block, h = block.header
        let index = Int(h.height)
        func fail(_ reason: String, _ tx: Transaction? = nil, _ code: ErrorCode? = nil) -> ChainFailure {
            ChainFailure(blockIndex: index, transactionId: tx?.id.description, transactionType: tx?.body.type, reason: reason, code: code)
        }
        guard h.height == tip.height + 1 else { throw fail("height \(h.height) does not follow \(tip.height)") }
        guard h.prevHash == tip.hash else { throw fail("prevHash is not the hash of block \(tip.height)") }
        guard h.profile == nil || h.height == 0 else { throw fail("only block 0 names the profile") }
        if h.height == 0 { create(in: h.profile ?? .standard) }
        if let problem = parsed.headerProblem { throw fail(problem) }
        if let bad = parsed.badTransaction { throw ChainFailure(blockIndex: index, transactionId: bad.id, reason: bad.reason, code: .validationFailed) }
        guard h.time >= tip.time else { throw fail("time \(h.time) is before the previous block's \(tip.time)") }
        let sealer = operatorKey
        for tx in block.transactions {
            guard tx.body.time <= h.time else { throw fail("its time \(tx.body.time) is later than its block's, \(h.time)", tx) }
            switch signingKeys.key(for: tx.body) {
            case .failure(let error): throw fail(error.message, tx, error.code)
            case .success(let key):
                guard profile.isValidSignature(tx.signature, for: tx.canonicalBody, publicKey: key) else {
                    throw fail("signature invalid", tx, .unauthorized)
                }
            }
            switch apply(tx) {
            case .failure(let error): throw fail(error.message, tx, error.code)
            case .success(let effects): onEffects?(effects)
            }
        }
        // The genesis block is sealed with the key it registers.
        guard let sealKey = sealer ?? operatorKey else { throw fail("no operator key to check the block signature with") }
        guard profile.isValidSignature(block.signature, for: h.canonicalBytes, publicKey: sealKey) else {
            throw fail("sealer signature invalid", nil, .unauthorized)
        }
        extendLog(with: block.transactions)
        return ChainTip(height: h.height, hash: block.hash, time: h.time)
    }
}
