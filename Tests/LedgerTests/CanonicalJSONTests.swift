import Ledger
import Testing

@Suite struct CanonicalJSONTests {
    @Test func escapesStringsAsRFC8785Says() throws {
        // RFC 8785 §3.2.2.2: only " and \ and C0 controls are escaped; \b \t \n \f \r use short forms,
        // the other controls are \u00xx in lowercase hex; DEL, non-ASCII and emoji are literal.
        let cases: [(String, String)] = [
            ("\"", #""\"""#), ("\\", #""\\""#), ("/", #""/""#),
            ("\u{08}\u{09}\u{0A}\u{0C}\u{0D}", #""\b\t\n\f\r""#),
            ("\u{00}\u{01}\u{1F}", #""\u0000\u0001\u001f""#),
            ("\u{7F}", "\"\u{7F}\""),
            ("€$\u{0F}\nA'B\"\\\\\"/", #""€$\u000f\nA'B\"\\\\\"/""#),  // the RFC's §3.2.2.2 sample string
            ("铸件 PO-7781 \"加急\"", #""铸件 PO-7781 \"加急\"""#),
            ("😀", "\"😀\""),
        ]
        for (value, canonical) in cases {
            #expect(JSON.string(value).canonicalString == canonical)
        }
    }

    @Test func sortsKeysByUTF16CodeUnits() throws {
        // RFC 8785 §3.2.3's example: the order is by UTF-16 code units, so U+1F600 (D83D DE00)
        // sorts before U+FB33 though its scalar value is larger.
        let input = #"{"\u20ac":"Euro Sign","\r":"Carriage Return","\ufb33":"Hebrew Letter Dalet With Dagesh","1":"One","\ud83d\ude00":"Emoji: Grinning Face","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis"}"#
        let keys = try JSON.parse(input).canonicalString
        let order = ["\r", "1", "\u{80}", "ö", "€", "😀", "דּ"]
        var last = keys.startIndex
        for key in order {
            let found = try #require(keys.range(of: "\"" + (key == "\r" ? "\\r" : key) + "\":", range: last..<keys.endIndex))
            last = found.upperBound
        }
    }

    @Test func writesNoWhitespaceAndPlainIntegers() throws {
        let value = try JSON.parse(#" { "b" : [ 1 , -2 , 0 , 9007199254740991 ] , "a" : { "z" : true , "y" : null , "x" : false } } "#)
        #expect(value.canonicalString == #"{"a":{"x":false,"y":null,"z":true},"b":[1,-2,0,9007199254740991]}"#)
    }

    @Test func roundTripsChineseAndEscapes() throws {
        let text = #"{"memo":"常州五金加工 \"报价\" \\ \n \u0007 😀","n":-9007199254740991}"#
        let value = try JSON.parse(text)
        #expect(value["memo"]?.stringValue == "常州五金加工 \"报价\" \\ \n \u{07} 😀")
        #expect(try JSON.parse(value.canonicalString) == value)
        #expect(value.canonicalString == #"{"memo":"常州五金加工 \"报价\" \\ \n \u0007 😀","n":-9007199254740991}"#)
    }

    @Test(arguments: [
        "1.5", "1e3", "-0.0", "9007199254740992", "-9007199254740992", "01", "{\"a\":1,\"a\":2}", "[1,]", "{\"a\" 1}",
        "\"\\ud800\"", "\"\\udc00x\"", "\"tab\there\"", "nul", "[1] 2", "", "\"\\x\"",
    ])
    func refusesWhatTheLedgerNeverHolds(text: String) {
        #expect(throws: JSONParseError.self) { try JSON.parse(text) }
    }

    @Test func refusesInvalidUTF8AndDeepNesting() {
        #expect(throws: JSONParseError.self) { try JSON.parse([0x22, 0xFF, 0x22]) }
        #expect(throws: JSONParseError.self) { try JSON.parse(String(repeating: "[", count: 100) + String(repeating: "]", count: 100)) }
    }
}
