import Foundation

/// The ledger's two big tables — every transaction id, every token — hold millions of entries
/// and are probed at random on every transaction, so their cost is memory latency, not
/// arithmetic. They are kept flat here: one open-addressing table with the key and its value in
/// the same slot (one cache line per probe, where a `Dictionary` touches three), in memory that
/// asks the kernel for huge pages (one page fault per 2 MiB as the tables grow, not per 4 KiB).
/// Both are values with copy-on-write, like the rest of `LedgerState`.

/// Plain memory for `capacity` trivially copyable elements; big blocks are aligned for, and
/// advised to use, transparent huge pages.
final class FlatMemory<Element>: @unchecked Sendable {
    // Shared only while no one writes: every writer first makes its copy unique.
    let base: UnsafeMutablePointer<Element>
    let capacity: Int

    static var hugePage: Int { 2 << 20 }

    init(capacity: Int) {
        precondition(_isPOD(Element.self), "flat tables hold plain values only")
        self.capacity = Swift.max(capacity, 1)
        let bytes = self.capacity * MemoryLayout<Element>.stride
        let huge = bytes >= Self.hugePage
        let alignment = huge ? Self.hugePage : Swift.max(64, MemoryLayout<Element>.alignment)
        let size = huge ? (bytes + Self.hugePage - 1) / Self.hugePage * Self.hugePage : bytes
        var raw: UnsafeMutableRawPointer?
        guard posix_memalign(&raw, alignment, size) == 0, let raw else { fatalError("out of memory for \(size) bytes") }
        #if os(Linux)
        if huge { _ = madvise(raw, size, MADV_HUGEPAGE) }  // advice only: without it, ordinary pages
        #endif
        base = raw.bindMemory(to: Element.self, capacity: self.capacity)
    }

    deinit { free(base) }

    /// A copy holding the first `count` elements, with room for `capacity`.
    func copy(count: Int, capacity: Int) -> FlatMemory {
        let other = FlatMemory(capacity: capacity)
        other.base.update(from: base, count: count)
        return other
    }
}

/// Per-process keys for the bucket function: ids are hashes an outsider can grind, so where an
/// id lands in a table must not be predictable from the id alone.
enum TableKeys {
    static let k0 = UInt64.random(in: .min ... .max)
    static let k1 = UInt64.random(in: .min ... .max) | 1
}

@inline(__always)
func tableMix(_ a: UInt64, _ b: UInt64) -> UInt64 {
    var h = (a ^ TableKeys.k0) &* TableKeys.k1
    h ^= h >> 32
    h = (h ^ b) &* 0x9E37_79B9_7F4A_7C15
    return h ^ (h >> 29)
}

/// One slot of an open-addressing table: a key, and whether the slot holds one.
protocol TableSlot {
    associatedtype Key: Equatable
    static var empty: Self { get }
    var isEmpty: Bool { get }
    var key: Key { get }
    static func hash(_ key: Key) -> UInt64
}

/// Linear probing over a power-of-two array of slots, at most 5/8 full.
struct OpenTable<Slot: TableSlot>: @unchecked Sendable {
    private var memory: FlatMemory<Slot>
    private(set) var count = 0

    init(minimumCapacity: Int = 0) {
        memory = Self.emptyMemory(for: minimumCapacity)
    }

    private static func emptyMemory(for entries: Int) -> FlatMemory<Slot> {
        var capacity = 16
        while capacity * 5 / 8 < entries { capacity *= 2 }
        let memory = FlatMemory<Slot>(capacity: capacity)
        memory.base.initialize(repeating: .empty, count: capacity)
        return memory
    }

    private var mask: Int { memory.capacity - 1 }

    @inline(__always)
    private func home(_ key: Slot.Key) -> Int { Int(truncatingIfNeeded: Slot.hash(key)) & mask }

    /// The slot holding `key`, or the empty slot where it would go.
    @inline(__always)
    private func probe(_ key: Slot.Key) -> (index: Int, found: Bool) {
        var i = home(key)
        while true {
            let slot = memory.base[i]
            if slot.isEmpty { return (i, false) }
            if slot.key == key { return (i, true) }
            i = (i + 1) & mask
        }
    }

    func find(_ key: Slot.Key) -> Slot? {
        let (i, found) = probe(key)
        return found ? memory.base[i] : nil
    }

    /// Starts loading the slot where a probe for `key` begins.
    @inline(__always)
    func prefetch(_ key: Slot.Key) {
        Ledger.prefetch(memory.base + home(key))
    }

    /// Puts `slot` in unless its key is already there; true when it was put in.
    mutating func insert(_ slot: Slot) -> Bool {
        if (count + 1) * 8 > memory.capacity * 5 { grow(to: count + 1) }
        makeUnique()
        let (i, found) = probe(slot.key)
        if found { return false }
        memory.base[i] = slot
        count += 1
        return true
    }

    /// Takes `key` out; linear probing's backward shift keeps every other key reachable.
    mutating func remove(_ key: Slot.Key) {
        makeUnique()
        var (hole, found) = probe(key)
        guard found else { return }
        var j = hole
        while true {
            j = (j + 1) & mask
            let slot = memory.base[j]
            if slot.isEmpty { break }
            // Move the entry back into the hole when its home is not between the hole and it.
            if (j - home(slot.key)) & mask >= (j - hole) & mask {
                memory.base[hole] = slot
                hole = j
            }
        }
        memory.base[hole] = .empty
        count -= 1
    }

    mutating func reserveCapacity(_ entries: Int) {
        if entries * 8 > memory.capacity * 5 { grow(to: entries) }
    }

    private mutating func makeUnique() {
        if !isKnownUniquelyReferenced(&memory) { memory = memory.copy(count: memory.capacity, capacity: memory.capacity) }
    }

    private mutating func grow(to entries: Int) {
        let old = memory
        memory = Self.emptyMemory(for: entries)
        for i in 0..<old.capacity where !old.base[i].isEmpty {
            let (j, _) = probe(old.base[i].key)
            memory.base[j] = old.base[i]
        }
    }
}

/// The set of every transaction id on the chain. An id is SHA-256 output; the all-zero id,
/// which marks an empty slot, is kept apart so that the set is exact for every value.
struct TxIDSet: Sendable {
    struct Slot: TableSlot {
        var id: TxID
        static var empty: Slot { Slot(id: TxID(0, 0, 0, 0)) }
        var isEmpty: Bool { id.w0 | id.w1 | id.w2 | id.w3 == 0 }
        var key: TxID { id }
        static func hash(_ key: TxID) -> UInt64 { tableMix(key.w0, key.w1) }
    }

    private var table = OpenTable<Slot>()
    private var hasZero = false

    var count: Int { table.count + (hasZero ? 1 : 0) }

    func contains(_ id: TxID) -> Bool {
        Slot(id: id).isEmpty ? hasZero : table.find(id) != nil
    }

    /// True when `id` was not there before.
    mutating func insert(_ id: TxID) -> Bool {
        if Slot(id: id).isEmpty {
            defer { hasZero = true }
            return !hasZero
        }
        return table.insert(Slot(id: id))
    }

    mutating func remove(_ id: TxID) {
        if Slot(id: id).isEmpty { hasZero = false } else { table.remove(id) }
    }

    func prefetch(_ id: TxID) { table.prefetch(id) }

    mutating func reserveCapacity(_ n: Int) { table.reserveCapacity(n) }
}

/// Token id → position in the token list. Position 0 is stored as 1, so an all-zero slot is empty.
struct TokenIndex: Sendable {
    struct Slot: TableSlot {
        var id: TokenID
        var positionPlusOne: UInt32
        static var empty: Slot { Slot(id: TokenID(hi: 0, lo: 0), positionPlusOne: 0) }
        var isEmpty: Bool { positionPlusOne == 0 }
        var key: TokenID { id }
        static func hash(_ key: TokenID) -> UInt64 { tableMix(key.hi, key.lo) }
    }

    private var table = OpenTable<Slot>()

    func position(of id: TokenID) -> Int? {
        table.find(id).map { Int($0.positionPlusOne) - 1 }
    }

    mutating func insert(_ id: TokenID, at position: Int) -> Bool {
        table.insert(Slot(id: id, positionPlusOne: UInt32(position + 1)))
    }

    func prefetch(_ id: TokenID) { table.prefetch(id) }

    mutating func remove(_ id: TokenID) { table.remove(id) }

    mutating func reserveCapacity(_ n: Int) { table.reserveCapacity(n) }
}
