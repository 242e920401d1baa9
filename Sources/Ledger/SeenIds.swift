/// Every transaction id the chain holds, as a Bloom filter: what a writer that keeps only live
/// objects in memory asks before it looks an id up in the database. "No" is certain; "maybe" is
/// wrong about one time in a few thousand, and then the database answers.
///
/// Filters of doubling size, each filled to its capacity before the next is made, so that it
/// grows with the chain without ever being rebuilt. The same ids inserted in the same order give
/// the same bits on every node: a snapshot's hash does not depend on who made it.
public struct SeenIds: Sendable, Equatable {
    struct Segment: Sendable, Equatable {
        var bits: [UInt64]
        var count = 0
        let capacity: Int

        init(capacity: Int) {
            self.capacity = capacity
            bits = Array(repeating: 0, count: capacity * SeenIds.bitsPerId / 64)
        }

        init(bits: [UInt64], count: Int, capacity: Int) {
            self.bits = bits
            self.count = count
            self.capacity = capacity
        }

        /// The filter's positions for `id`: an id is already the output of SHA-256, so two of its
        /// words drive double hashing.
        @inline(__always)
        func forEachPosition(_ id: TxID, _ body: (Int, UInt64) -> Void) {
            let m = UInt64(bits.count * 64)
            var h = id.w0
            let step = id.w1 | 1
            for _ in 0..<SeenIds.probes {
                let p = h % m
                body(Int(p >> 6), 1 << (p & 63))
                h &+= step
            }
        }

        func mayContain(_ id: TxID) -> Bool {
            var all = true
            forEachPosition(id) { word, bit in all = all && bits[word] & bit != 0 }
            return all
        }

        mutating func insert(_ id: TxID) {
            forEachPosition(id) { word, bit in bits[word] |= bit }
            count += 1
        }
    }

    /// 16 bits and 11 probes an id: about one false "maybe" in 2,000.
    static let bitsPerId = 16
    static let probes = 11
    static let firstCapacity = 1 << 16

    var segments: [Segment] = []

    public init() {}

    /// How many ids were inserted.
    public var count: Int { segments.reduce(0) { $0 + $1.count } }

    /// Bytes the filter takes in memory.
    public var byteCount: Int { segments.reduce(0) { $0 + $1.bits.count * 8 } }

    public func mayContain(_ id: TxID) -> Bool {
        segments.contains { $0.mayContain(id) }
    }

    public mutating func insert(_ id: TxID) {
        if segments.last.map({ $0.count >= $0.capacity }) ?? true {
            segments.append(Segment(capacity: segments.last.map { $0.capacity * 2 } ?? Self.firstCapacity))
        }
        segments[segments.count - 1].insert(id)
    }
}
