@testable import Ledger
import Testing

/// The flat tables under `LedgerState` against the standard library's own, and their
/// copy-on-write: a copy of the state must never see what is done to the original.
@Suite struct IdTableTests {
    struct Generator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            return z ^ (z >> 27)
        }
    }

    /// Ids drawn from a small range, so that many share a home slot and probe runs are long.
    static func crowdedIds(_ n: Int, _ g: inout Generator) -> [TxID] {
        (0..<n).map { _ in TxID(UInt64.random(in: 0..<64, using: &g), UInt64.random(in: 0..<4, using: &g), 7, 9) }
    }

    @Test func txIdSetMatchesSetThroughInsertsAndRemovals() {
        var g = Generator(state: 42)
        var set = TxIDSet()
        var reference = Set<TxID>()
        for round in 0..<20_000 {
            let id = Self.crowdedIds(1, &g)[0]
            if round % 3 == 2 {
                set.remove(id)
                reference.remove(id)
            } else {
                let inserted = set.insert(id), expected = reference.insert(id).inserted
                #expect(inserted == expected)
            }
        }
        #expect(set.count == reference.count)
        for id in Self.crowdedIds(2_000, &g) { #expect(set.contains(id) == reference.contains(id)) }
        for id in reference { #expect(set.contains(id)) }
    }

    @Test func theAllZeroIdIsAMemberLikeAnyOther() {
        var set = TxIDSet()
        let zero = TxID(0, 0, 0, 0)
        #expect(!set.contains(zero))
        let first = set.insert(zero), second = set.insert(zero)
        #expect(first && !second)
        #expect(set.contains(zero) && set.count == 1)
        set.remove(zero)
        #expect(!set.contains(zero) && set.count == 0)
    }

    @Test func removalKeepsEveryOtherKeyOfAProbeRunReachable() {
        // Every id here has the same words the bucket function reads, so all land on one home
        // slot and sit in one run; taking any one out must not hide those after it.
        let ids = (1...40).map { TxID(5, 5, UInt64($0), 0) }
        for victim in ids {
            var set = TxIDSet()
            for id in ids {
                let inserted = set.insert(id)
                #expect(inserted)
            }
            set.remove(victim)
            for id in ids { #expect(set.contains(id) == (id != victim)) }
            #expect(set.count == ids.count - 1)
        }
    }

    @Test func aCopyOfTheSetKeepsItsOwnMembers() {
        var a = TxIDSet()
        _ = a.insert(TxID(1, 2, 3, 4))
        var b = a
        _ = b.insert(TxID(5, 6, 7, 8))
        b.remove(TxID(1, 2, 3, 4))
        #expect(a.contains(TxID(1, 2, 3, 4)) && !a.contains(TxID(5, 6, 7, 8)))
        #expect(!b.contains(TxID(1, 2, 3, 4)) && b.contains(TxID(5, 6, 7, 8)))
    }

    static func token(_ n: UInt64) -> Token {
        Token(id: TokenID(hi: n % 16, lo: n), receivableId: TxID(n, 0, 0, 1), parentId: nil, holderId: OrgID(hi: 1, lo: n), amountFen: Int64(n),
              tier: 1, status: .active, createdTx: TxID(n, 0, 0, 1), spentTx: nil, createdOn: BusinessDate(dayNumber: 20_000))
    }

    @Test func tokenStoreFindsEveryTokenAfterGrowingAndKeepsCreationOrder() {
        var store = TokenStore()
        for n in 1...5_000 as ClosedRange<UInt64> { store.insert(Self.token(n)) }
        #expect(store.count == 5_000)
        #expect(store.values.map(\.amountFen) == (1...5_000).map { Int64($0) })
        for n in 1...5_000 as ClosedRange<UInt64> { #expect(store[TokenID(hi: n % 16, lo: n)]?.amountFen == Int64(n)) }
        #expect(store[TokenID(hi: 0, lo: 0)] == nil && store[TokenID(hi: 3, lo: 9_999)] == nil)
    }

    @Test func aCopyOfTheTokensAndAListTakenEarlierDoNotChange() {
        var store = TokenStore()
        store.insert(Self.token(1))
        let list = store.values
        let copy = store
        store.update(TokenID(hi: 1, lo: 1)) { $0.status = .spent }
        store.insert(Self.token(2))
        #expect(copy[TokenID(hi: 1, lo: 1)]?.status == .active && copy.count == 1)
        #expect(list.count == 1 && list[0].status == .active)
        #expect(store[TokenID(hi: 1, lo: 1)]?.status == .spent && store.count == 2)
    }

    @Test func aRefusedTransactionLeavesItsIdFree() {
        var fx = Fixture()
        let before = fx.state.transactionIds.count
        guard case .failure = fx.submit("s1", .accept(tokenId: TokenID(hi: 1, lo: 1))) else {
            Issue.record("accepting a token that does not exist must be refused")
            return
        }
        #expect(fx.state.transactionIds.count == before)
    }

    @Test func hexDigitsSpellEveryWordAsStringDoes() {
        var g = Generator(state: 7)
        let words: [UInt64] = [0, 1, 0xA, 0xF0, UInt64.max, 0x0123_4567_89AB_CDEF] + (0..<2_000).map { _ in g.next() }
        for w in words {
            var bytes = [UInt8](repeating: 0, count: 16)
            bytes.withUnsafeMutableBytes { storeHex(w, at: $0.baseAddress!) }
            let expected = String(w, radix: 16)
            #expect(String(decoding: bytes, as: UTF8.self) == String(repeating: "0", count: 16 - expected.count) + expected)
        }
    }

    /// A transaction keeps the key id it was given, character for character, whatever its form.
    @Test func keyIdsKeepTheirText() {
        for keyId in ["000000000000000a", "ffffffffffffffff", "0123456789abcdef", "0123456789ABCDEF", "0123456789abcde", "0123456789abcdef0", "", "密钥"] {
            let body = TransactionBody(orgId: unknownOrg, keyId: keyId, time: 1, nonce: "n", payload: .accept(tokenId: unknownToken))
            #expect(body.keyId == keyId)
            #expect((body.key.word != nil) == (keyId.count == 16 && keyId == keyId.lowercased() && keyId.allSatisfy(\.isHexDigit)))
        }
    }
}
