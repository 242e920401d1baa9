/// A dictionary of the ledger state that can keep, while a journal is open, each key's value
/// from before its first write: a block's writes can then be undone without replaying the chain.
/// With no journal open (a replay) a write costs one branch more.
public struct JournaledDictionary<Key: Hashable & Sendable, Value: Sendable>: Sendable, Sequence {
    public private(set) var storage: [Key: Value] = [:]
    private var journal: [Key: Value?]?

    public init() {}

    public subscript(key: Key) -> Value? {
        get { storage[key] }
        _modify {
            remember(key)
            yield &storage[key]
        }
    }

    public subscript(key: Key, default value: @autoclosure () -> Value) -> Value {
        get { storage[key] ?? value() }
        _modify {
            remember(key)
            yield &storage[key, default: value()]
        }
    }

    @inline(__always)
    private mutating func remember(_ key: Key) {
        if journal != nil, journal![key] == nil { journal![key] = .some(storage[key]) }
    }

    @discardableResult
    mutating func removeValue(forKey key: Key) -> Value? {
        remember(key)
        return storage.removeValue(forKey: key)
    }

    public var values: Dictionary<Key, Value>.Values { storage.values }
    public var keys: Dictionary<Key, Value>.Keys { storage.keys }
    public var count: Int { storage.count }
    public var isEmpty: Bool { storage.isEmpty }
    public func makeIterator() -> Dictionary<Key, Value>.Iterator { storage.makeIterator() }

    mutating func openJournal() { journal = [:] }
    mutating func closeJournal() { journal = nil }

    /// Puts back every key written since the journal opened, and closes it.
    mutating func rollBack() {
        for (key, before) in journal ?? [:] { storage[key] = before }
        journal = nil
    }
}

/// What a block may change of the state and how it stood before: the sequencer opens it before a
/// block's transactions and either drops it when the block is committed or rolls the state back
/// to where it stood when the commit failed.
struct UndoRecord: Sendable {
    var policy: Policy
    var operatorId: OrgID?
    var transactionCount: Int
    var issuedCount: Int
    var recentIdCount: Int
    var log: LogFrontier
    var transactionIds: [TxID] = []
}

extension LedgerState {
    /// Starts keeping what the next transactions change, so that `rollBack()` can undo them.
    public mutating func openUndo() {
        undo = UndoRecord(policy: policy, operatorId: operatorId, transactionCount: transactionCount, issuedCount: issuedCount, recentIdCount: recentIds.count, log: log)
        tokens.openJournal()
        forEachJournal(.open)
    }

    /// The changes since `openUndo()` stand (their block is committed).
    public mutating func dropUndo() {
        undo = nil
        tokens.closeJournal()
        forEachJournal(.close)
    }

    /// Back to the state as it was at `openUndo()`, without replaying anything.
    public mutating func rollBack() {
        guard let record = undo else { return }
        policy = record.policy
        operatorId = record.operatorId
        transactionCount = record.transactionCount
        issuedCount = record.issuedCount
        log = record.log
        recentIds.removeLast(recentIds.count - record.recentIdCount)
        for id in record.transactionIds.reversed() { transactionIds.remove(id) }
        tokens.rollBack()
        forEachJournal(.rollBack)
        undo = nil
    }

    private mutating func forEachJournal(_ act: JournalAct) {
        orgs.journal(act); orgFacts.journal(act); creditLines.journal(act); receivables.journal(act); financings.journal(act)
        linesByBankAndCore.journal(act); openInvoices.journal(act); openFinancingByToken.journal(act)
        earlyPayments.journal(act); openEarlyPaymentByToken.journal(act)
    }
}

enum JournalAct { case open, close, rollBack }

extension JournaledDictionary {
    mutating func journal(_ act: JournalAct) {
        switch act {
        case .open: openJournal()
        case .close: closeJournal()
        case .rollBack: rollBack()
        }
    }
}
