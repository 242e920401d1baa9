import Ledger
import Foundation
import Testing

@Suite struct DomainTests {
    @Test(arguments: [
        // amount, rate, days, interest: round_half_up(a × r × d / 3,600,000)
        (Int64(1_000_000), Int64(365), Int64(90), Int64(9_125)),
        (258_839, 298, 178, 3_814),  // from the conformance vectors
        (136_415, 365, 177, 2_448),
        (1, 10_000, 180, 1),  // 0.5 rounds up
        (1, 10_000, 179, 0),  // 0.497… rounds down
        (0, 500, 100, 0),
        (Limits.maxAmountFen, 10_000, 36_500, 101_388_888_888_888_889),  // no overflow at the extremes
    ])
    func discountInterest(amount: Int64, rate: Int64, days: Int64, interest: Int64) {
        #expect(Money.discountInterestFen(amountFen: amount, rateBps: rate, days: days) == interest)
    }

    @Test func checkedArithmetic() {
        #expect(Money.add(Int64.max, 1) == nil)
        #expect(Money.subtract(Int64.min, 1) == nil)
        #expect(Money.sum([Int64.max, 1]) == nil)
        #expect(Money.sum([1, 2, 3]) == 6)
    }

    @Test func formatsYuan() {
        #expect(Money.format(1_234_567) == "¥12,345.67")
        #expect(Money.format(5) == "¥0.05")
        #expect(Money.format(100_000_000_000) == "¥1,000,000,000.00")
        #expect(Money.format(-150) == "-¥1.50")
    }

    @Test func businessDatesAreShanghaiCalendarDays() {
        // 2026-09-21 00:00 in Shanghai is 2026-09-20 16:00 UTC.
        let midnight = BusinessDate("2026-09-21")!.startEpochMs
        #expect(midnight == 1_789_920_000_000)
        #expect(BusinessDate(epochMs: midnight).description == "2026-09-21")
        #expect(BusinessDate(epochMs: midnight - 1).description == "2026-09-20")
        #expect(BusinessDate("2024-02-29") != nil && BusinessDate("2026-02-29") == nil)
        #expect(BusinessDate("2026-13-01") == nil && BusinessDate("2026-1-01") == nil && BusinessDate("2026-01-32") == nil)
        #expect(BusinessDate("2026-12-20")!.days(until: BusinessDate("2027-03-20")!) == 90)
        for text in ["1970-01-01", "2000-02-29", "2026-12-31", "2099-03-01"] {
            #expect(BusinessDate(text)!.description == text)
        }
    }

    @Test func creditCodes() {
        for code in ["91317742MAB5YLU1GA", "91313643MARLRE7TWT", "91312626MAT1C1R4Y3", "91311593MA039R5QY0"] {
            #expect(CreditCode.problem(code) == nil, "\(code)")
        }
        #expect(CreditCode.problem("91317742MAB5YLU1GB") != nil)  // wrong check character
        #expect(CreditCode.problem("91317742MAB5YLU1G") != nil)  // 17 characters
        #expect(CreditCode.problem("91317742MAB5YLUIGA") != nil)  // I is not in the alphabet
        #expect(CreditCode.problem("9131A742MAB5YLU1GA") != nil)  // division code not digits
        #expect(CreditCode.complete("91317742MAB5YLU1G") == "91317742MAB5YLU1GA")
    }

    @Test func tokenIdsAreDerived() {
        // SPEC §4: first 32 hex chars of SHA-256(utf8(txId + "/" + k)), for every k a transaction can reach.
        let tx = TxID(String(repeating: "ab", count: 32))!
        for k in [0, 1, 9, 10, 99, 100, 250] {
            #expect(CryptoProfile.standard.tokenId(transactionId: tx, index: k).description
                == String(Hashing.sha256Hex(Array("\(tx.description)/\(k)".utf8)).prefix(32)))
        }
    }

    @Test func idsReadAndWriteTheirOneSpelling() {
        let tx = String(repeating: "0123456789abcdef", count: 4)
        #expect(TxID(tx)?.description == tx)
        #expect(TxID(tx.uppercased()) == nil && TxID(String(tx.dropLast())) == nil)
        #expect(TokenID("00112233445566778899aabbccddeeff")?.description == "00112233445566778899aabbccddeeff")
        let org = "bd1c4d13-1d2b-4947-8ca1-48fabc11837a"
        #expect(OrgID(org)?.description == org)
        #expect(OrgID(org.uppercased()) == nil && OrgID(org.replacingOccurrences(of: "-", with: "")) == nil)
        #expect(OrgID("bd1c4d13-1d2b-4947-8ca1-48fabc11837g") == nil)
        // Every digit lands where it was written, and a bad digit in any group is refused.
        let digits = "01234567-89ab-cdef-0123-456789abcdef"
        #expect(OrgID(digits)?.description == digits)
        for i in [0, 7, 9, 12, 14, 17, 19, 22, 24, 35] {
            var bad = Array(digits.utf8)
            bad[i] = UInt8(ascii: "g")
            #expect(OrgID(String(decoding: bad, as: UTF8.self)) == nil)
        }
    }

    /// Base64 has one spelling: standard alphabet, padded, no spaces, zero bits after the data.
    /// Checked against Foundation's reading followed by its own writing, which accepts just that.
    @Test func base64HasOneSpelling() {
        func reference(_ text: String) -> [UInt8]? {
            guard let data = Data(base64Encoded: text), data.base64EncodedString() == text else { return nil }
            return Array(data)
        }
        var g = IdTableTests.Generator(state: 11)
        var texts = ["", "=", "==", "====", "A===", "AA==", "AB==", "AAA=", "AAB=", "AAAA", "AA=A", "A A=", "AA==AAAA",
                     "QQ==\n", "QUJD", "QUJDRA==", "QUJDRA=", "QUJDRA", "QUJDRB==", "-_-_", "+/+/", "密钥"]
        for n in 0..<70 {
            let bytes = (0..<n).map { _ in UInt8(truncatingIfNeeded: g.next()) }
            let text = Data(bytes).base64EncodedString()
            texts.append(text)
            guard !text.isEmpty else { continue }
            // One character changed at a time, to every character that matters.
            var chars = Array(text.utf8)
            let at = Int(g.next() % UInt64(chars.count))
            for c in Array("A=/+-_ \nzZ09".utf8) {
                chars[at] = c
                texts.append(String(decoding: chars, as: UTF8.self))
            }
        }
        for text in texts {
            #expect(Base64.decode(text) == reference(text), "\(text)")
        }
    }

    @Test func policyDefaultsAreTheSpec() {
        let p = Policy()
        #expect([p.maxTermDays, p.minTermDays, p.minPieceFen, p.maxFaceFen, p.maxTier, p.acceptanceWindowDays, p.financingCutoffDays, p.graceDays]
            == [365, 1, 1, 100_000_000_000, 10, 3, 3, 0])
    }

    @Test func everyOperationHasOneSignerRole() {
        #expect(TxType.allCases.count == 25)  // 19 of format 1; recordDefault and five of early payment
        #expect(TxType.allCases.filter { $0.signerRole == .regulator }.isEmpty)
    }
}
