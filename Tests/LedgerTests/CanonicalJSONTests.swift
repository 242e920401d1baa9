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

    /// The body of item k of a root's array, read with its place in the text: for a body already
    /// in RFC 8785 form the span is marked canonical and its bytes are JCS(body), byte for byte.
    static func bodySpan(_ body: String, around: (String) -> String = { #"{"transactions":[{"id":"x","body":\#($0)}]}"# }) throws -> (JSON, JSONSpan?, [UInt8]) {
        let bytes = Array(around(body).utf8)
        let (json, spans) = try JSON.parse(bytes, spansOf: "body", inItemsOf: "transactions")
        let span = spans.first ?? nil
        return (json["transactions"]?.arrayValue?.first?["body"] ?? .null, span, span.map { Array(bytes[$0.range]) } ?? [])
    }

    @Test(arguments: [
        #"{"a":{"x":false,"y":null,"z":true},"b":[1,-2,0,9007199254740991]}"#,
        #"{"memo":"常州五金加工 \"报价\" \\ \n \u0007 😀","n":-9007199254740991}"#,
        "{\"\\r\":1,\"1\":2,\"\u{80}\":3,\"ö\":4,\"€\":5,\"😀\":6,\"\u{FB33}\":7}",
        #"{"s":"\b\t\n\f\r\u0000\u001f/"# + "\u{7F}\"}", "\"text\"", "[]", "{}", "-5",
    ])
    func aCanonicalBodyIsTakenAsItLies(body: String) throws {
        let (json, span, raw) = try Self.bodySpan(body)
        #expect(span?.isCanonical == true)
        #expect(raw == json.canonicalBytes && raw == Array(body.utf8))
        // Space outside the body does not matter.
        let (_, spaced, _) = try Self.bodySpan(body) { #"{ "transactions" : [ { "body" : \#($0) , "id" : "x" } ] }"# }
        #expect(spaced?.isCanonical == true)
    }

    @Test(arguments: [
        #"{"a":1, "b":2}"#, #"{"b":2,"a":1}"#, #"{ "a":1}"#, #"{"a":1 }"#, #"[1,-0]"#, #"{"s":"\/"}"#, #"{"s":"\u007f"}"#,
        #"{"s":"\u0041"}"#, #"{"s":"\u000a"}"#, #"{"s":"\u001F"}"#, #"{"s":"\ud83d\ude00"}"#, "{\"\u{FB33}\":1,\"😀\":2}",  // scalar order, not UTF-16
        #"{"a":[{"y":1,"x":2}]}"#,
    ])
    func aBodyInAnyOtherFormIsEncodedAgain(body: String) throws {
        let (json, span, raw) = try Self.bodySpan(body)
        #expect(span?.isCanonical == false)
        #expect(raw != json.canonicalBytes)
    }

    /// Only the key of items of the named array is noted, by item position.
    @Test func onlyItemsOfTheNamedArrayAreNoted() throws {
        let text = #"{"body":{},"other":[{"body":{}}],"transactions":[{"id":1},"x",{"body":[1],"more":{"body":{}}}]}"#
        let (_, spans) = try JSON.parse(Array(text.utf8), spansOf: "body", inItemsOf: "transactions")
        #expect(spans.count == 3 && spans[0] == nil && spans[1] == nil)
        #expect(spans[2].map { Array(Array(text.utf8)[$0.range]) } == Array("[1]".utf8))
    }

    @Test func refusesInvalidUTF8AndDeepNesting() {
        #expect(throws: JSONParseError.self) { try JSON.parse([0x22, 0xFF, 0x22]) }
        #expect(throws: JSONParseError.self) { try JSON.parse(String(repeating: "[", count: 100) + String(repeating: "]", count: 100)) }
    }

    /// RFC 8785 keeps keys that differ in their code points apart, though Swift's `String`
    /// calls them equal (canonical equivalence); the same scalars twice are still a duplicate.
    @Test func keysThatDifferInTheirScalarsAreDistinct() throws {
        let json = try JSON.parse(#"{"\u00c5":1,"A\u030a":2}"#)
        #expect(json.objectValue?.count == 2)
        #expect(json["\u{C5}"] == .int(1))
        #expect(json["A\u{30A}"] == .int(2))
        // UTF-16 order: "A" (0x41) before "Å" (0xC5).
        #expect(json.canonicalString == "{\"A\u{30A}\":2,\"\u{C5}\":1}")
        #expect(throws: JSONParseError.self) { try JSON.parse(#"{"\u00c5":1,"\u00c5":2}"#) }
        #expect(throws: JSONParseError.self) { try JSON.parse(#"{"K":1,"\u004b":2}"#) }
        #expect(try JSON.parse(#"{"K":1,"\u212a":2}"#).objectValue?.count == 2)
    }

    /// A parse error says whether the text is JSON at all, and where a refused value lies.
    @Test func parseErrorsNameTheirKindAndPath() {
        func failure(_ text: String) -> JSONParseError? {
            do { _ = try JSON.parse(text); return nil } catch { return error }
        }
        #expect(failure(#"{"a":[1,{"b":9007199254740992}]}"#).map { "\($0.kind) \($0.path)" } == "integerOutOfRange a[1].b")
        #expect(failure(#"{"a":1.5}"#).map { "\($0.kind) \($0.path)" } == "notAnInteger a")
        #expect(failure(#"{"memo":"\ud800"}"#).map { "\($0.kind) \($0.path)" } == "loneSurrogate memo")
        #expect(failure(#"{"a":}"#)?.kind == .syntax)
        #expect(failure(#"[9007199254740991]"#) == nil)
    }
}
