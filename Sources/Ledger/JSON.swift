import Foundation

/// A JSON value as the ledger uses it: objects, arrays, strings, integers, booleans and null.
/// Floats do not exist on the chain (SPEC §4), so the parser refuses them, and every integer
/// lies within ±(2^53 − 1) as RFC 8785 requires.
public enum JSON: Sendable, Equatable {
    case object([JSONKey: JSON])
    case array([JSON])
    case string(String)
    case int(Int64)
    case bool(Bool)
    case null

    public static let maxSafeInteger: Int64 = 9_007_199_254_740_991

    public subscript(key: String) -> JSON? {
        if case .object(let fields) = self { return fields[JSONKey(key)] }
        return nil
    }

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    public var intValue: Int64? {
        if case .int(let n) = self { return n }
        return nil
    }

    public var arrayValue: [JSON]? {
        if case .array(let items) = self { return items }
        return nil
    }

    public var objectValue: [JSONKey: JSON]? {
        if case .object(let fields) = self { return fields }
        return nil
    }
}

extension JSON: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: JSON...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (JSONKey, JSON)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
}

/// An object key, equal to another only when their Unicode scalars are the same, as RFC 8785
/// compares them. Swift's `String` equality is canonical equivalence, under which "\u{C5}" and
/// "A\u{30A}" are one key; JSON and JCS keep them apart (and sort them apart).
public struct JSONKey: Hashable, Comparable, Sendable, ExpressibleByStringLiteral, CustomStringConvertible {
    public let string: String

    public init(_ string: String) { self.string = string }
    public init(stringLiteral value: String) { string = value }

    public var description: String { string }

    /// Equal UTF-8 bytes are equal scalars.
    public static func == (a: JSONKey, b: JSONKey) -> Bool { a.string.utf8.elementsEqual(b.string.utf8) }

    public func hash(into hasher: inout Hasher) {
        var s = string
        s.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
    }

    /// RFC 8785 §3.2.3 order, by UTF-16 code units.
    public static func < (a: JSONKey, b: JSONKey) -> Bool { JSON.keyPrecedes(a.string, b.string) }
}

extension Dictionary where Key == JSONKey {
    /// A member by its name as a `String`.
    public subscript(name: String) -> Value? {
        get { self[JSONKey(name)] }
        set { self[JSONKey(name)] = newValue }
    }
}

// MARK: - RFC 8785 canonical serialization

extension JSON {
    /// The RFC 8785 (JCS) bytes of this value: object members sorted by their keys' UTF-16 code
    /// units, no whitespace, strings escaped as ECMAScript's JSON.stringify does, integers in
    /// plain decimal.
    public var canonicalBytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        writeCanonical(into: &out)
        return out
    }

    public var canonicalString: String { String(decoding: canonicalBytes, as: UTF8.self) }

    public func writeCanonical(into out: inout [UInt8]) {
        switch self {
        case .null: out.append(contentsOf: [0x6E, 0x75, 0x6C, 0x6C])
        case .bool(let b): out.append(contentsOf: b ? Array("true".utf8) : Array("false".utf8))
        case .int(let n): out.append(contentsOf: String(n).utf8)
        case .string(let s): JSON.writeCanonicalString(s, into: &out)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                item.writeCanonical(into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let fields):
            out.append(UInt8(ascii: "{"))
            for (i, key) in JSON.sortedKeys(fields.keys).enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                JSON.writeCanonicalString(key.string, into: &out)
                out.append(UInt8(ascii: ":"))
                fields[key]!.writeCanonical(into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// RFC 8785 §3.2.3 order: true when `a` sorts strictly before `b`.
    static func keyPrecedes(_ a: String, _ b: String) -> Bool {
        if a.utf8.allSatisfy({ $0 < 0x80 }) && b.utf8.allSatisfy({ $0 < 0x80 }) {
            return a.utf8.lexicographicallyPrecedes(b.utf8)
        }
        return a.utf16.lexicographicallyPrecedes(b.utf16)
    }

    /// RFC 8785 §3.2.3: keys sort by their UTF-16 code units, not by scalars or UTF-8 bytes.
    static func sortedKeys(_ keys: Dictionary<JSONKey, JSON>.Keys) -> [JSONKey] {
        if keys.allSatisfy({ $0.string.utf8.allSatisfy { $0 < 0x80 } }) {
            // ASCII: UTF-8 byte order equals UTF-16 order.
            return keys.sorted { $0.string.utf8.lexicographicallyPrecedes($1.string.utf8) }
        }
        return keys.sorted { $0.string.utf16.lexicographicallyPrecedes($1.string.utf16) }
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// RFC 8785 §3.2.2.2: only `"`, `\` and the C0 controls are escaped; \b \t \n \f \r have
    /// short forms, the other controls are \u00xx in lowercase hex; everything else is literal UTF-8.
    public static func writeCanonicalString(_ s: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        if s.utf8.withContiguousStorageIfAvailable({ writeEscaped($0, into: &out) }) == nil {
            let bytes = Array(s.utf8)
            bytes.withUnsafeBufferPointer { writeEscaped($0, into: &out) }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// Copies runs that need no escape in one piece; escapes the rest.
    private static func writeEscaped(_ u: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) {
        var run = 0
        for i in 0..<u.count {
            let byte = u[i]
            guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: u[run..<i]))
            run = i + 1
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [0x5C, 0x22])
            case UInt8(ascii: "\\"): out.append(contentsOf: [0x5C, 0x5C])
            case 0x08: out.append(contentsOf: [0x5C, UInt8(ascii: "b")])
            case 0x09: out.append(contentsOf: [0x5C, UInt8(ascii: "t")])
            case 0x0A: out.append(contentsOf: [0x5C, UInt8(ascii: "n")])
            case 0x0C: out.append(contentsOf: [0x5C, UInt8(ascii: "f")])
            case 0x0D: out.append(contentsOf: [0x5C, UInt8(ascii: "r")])
            default:
                out.append(contentsOf: [0x5C, UInt8(ascii: "u"), 0x30, 0x30])
                out.append(hexDigits[Int(byte >> 4)])
                out.append(hexDigits[Int(byte & 0x0F)])
            }
        }
        out.append(contentsOf: UnsafeBufferPointer(rebasing: u[run..<u.count]))
    }
}

// MARK: - Parsing

/// Where a value lies in the text it was parsed from, and whether those bytes are exactly
/// JCS(value), so that they can be hashed and verified as they are.
public struct JSONSpan: Sendable, Equatable {
    public var range: Range<Int>
    public var isCanonical: Bool
}

public struct JSONParseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong: only `syntax` means the text is not JSON. The others are well-formed
    /// JSON holding a value the ledger cannot carry, and `path` names where it lies.
    public enum Kind: Sendable, Equatable {
        case syntax
        /// An integer beyond ±(2^53 − 1).
        case integerOutOfRange
        /// A number with a fraction or an exponent.
        case notAnInteger
        /// A `\uD800`–`\uDFFF` escape without its partner.
        case loneSurrogate
    }

    public var offset: Int
    public var reason: String
    public var kind: Kind = .syntax
    /// Where the value at fault lies, as `documents[0].number` (empty for the root or when unknown).
    public var path: String = ""
    public var description: String { "invalid JSON at byte \(offset): \(reason)" }

    public init(offset: Int, reason: String, kind: Kind = .syntax, path: String = "") {
        self.offset = offset
        self.reason = reason
        self.kind = kind
        self.path = path
    }

    /// The ledger's refusal of this text, its fields named under `prefix` (`"body"` for a
    /// transaction's body, `""` for a request body): `malformed_json` only when the text is not
    /// JSON at all; a number the ledger cannot carry or a lone surrogate names the field at fault.
    public func refusal(under prefix: String) -> LedgerError {
        let field = [prefix, path].filter { !$0.isEmpty }.joined(separator: path.hasPrefix("[") ? "" : ".")
        let named = field.isEmpty ? "body" : field
        switch kind {
        case .syntax: return LedgerError(.malformedJSON, description)
        case .integerOutOfRange:
            return LedgerError(.amountOutOfRange, "\(named): integers must lie within ±(2^53 − 1)",
                               fields: [FieldError(field: named, message: "must lie within ±(2^53 − 1)")])
        case .notAnInteger: return LedgerError.invalid(named, "must be an integer (amounts are in fen, never fractions)")
        case .loneSurrogate: return LedgerError.invalid(named, "must not contain an unpaired surrogate")
        }
    }

    /// Notes that the value at fault lies under `step` (a key or `[i]`).
    mutating func within(_ step: String) {
        if path.isEmpty || path.hasPrefix("[") {
            path = step + path
        } else {
            path = step + "." + path
        }
    }
}

extension JSON {
    /// Parses one JSON text. Refuses floats, exponents, integers beyond ±(2^53 − 1), duplicate
    /// object keys, lone surrogates, invalid UTF-8 and trailing garbage.
    public static func parse(_ bytes: some Collection<UInt8>) throws(JSONParseError) -> JSON {
        var parser = Parser(bytes: Array(bytes))
        return try parser.parseDocument()
    }

    /// How a parse reads numbers: `integers`, only integers written as integers (the chain, and
    /// anything signed); `integral`, any number whose value is an integer (`100.0`, `1e3`), as
    /// JSON Schema counts integers: what a request body may send for an integer field.
    public enum Numbers: Sendable { case integers, integral }

    public static func parse(_ bytes: some Collection<UInt8>, numbers: Numbers) throws(JSONParseError) -> JSON {
        var parser = Parser(bytes: Array(bytes))
        parser.integral = numbers == .integral
        return try parser.parseDocument()
    }

    public static func parse(_ text: String) throws(JSONParseError) -> JSON {
        try parse(Array(text.utf8))
    }

    /// Parses a document whose root object holds an array under `arrayKey` (a block's
    /// `transactions`), noting for item k where the value of its `itemKey` (`body`) lies in
    /// `bytes` and whether those bytes are already its canonical form.
    public static func parse(_ bytes: [UInt8], spansOf itemKey: String, inItemsOf arrayKey: String) throws(JSONParseError) -> (json: JSON, spans: [JSONSpan?]) {
        var parser = Parser(bytes: bytes)
        parser.capture = (arrayKey, itemKey)
        let json = try parser.parseDocument()
        return (json, parser.spans)
    }

    struct Parser {
        let bytes: [UInt8]
        var i = 0
        var depth = 0
        static let maxDepth = 64

        /// False once anything read differs from RFC 8785's form of the same value: whitespace,
        /// keys out of order, an escape it would not write, `-0`. Reset where a span begins.
        var canonical = true
        var capture: (arrayKey: String, itemKey: String)?
        /// True while reading the value of the root's `capture.arrayKey`.
        var inCapturedArray = false
        var item = -1
        var spans: [JSONSpan?] = []
        /// Whether a number with a fraction or an exponent is read when its value is an integer.
        var integral = false

        init(bytes: [UInt8]) { self.bytes = bytes }

        func fail(_ reason: String, _ kind: JSONParseError.Kind = .syntax) -> JSONParseError {
            JSONParseError(offset: i, reason: reason, kind: kind)
        }

        mutating func parseDocument() throws(JSONParseError) -> JSON {
            let value = try parseValue()
            skipWhitespace()
            guard i == bytes.count else { throw fail("unexpected data after the value") }
            return value
        }

        mutating func skipWhitespace() {
            while i < bytes.count {
                switch bytes[i] {
                case 0x20, 0x09, 0x0A, 0x0D:
                    i += 1
                    canonical = false
                default: return
                }
            }
        }

        mutating func parseValue() throws(JSONParseError) -> JSON {
            skipWhitespace()
            guard i < bytes.count else { throw fail("unexpected end of input") }
            switch bytes[i] {
            case UInt8(ascii: "{"): return try parseObject()
            case UInt8(ascii: "["): return try parseArray()
            case UInt8(ascii: "\""): return .string(try parseString())
            case UInt8(ascii: "t"): try expectLiteral("true"); return .bool(true)
            case UInt8(ascii: "f"): try expectLiteral("false"); return .bool(false)
            case UInt8(ascii: "n"): try expectLiteral("null"); return .null
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .int(try parseInteger())
            default: throw fail("unexpected character")
            }
        }

        mutating func expectLiteral(_ word: StaticString) throws(JSONParseError) {
            let count = word.utf8CodeUnitCount
            guard i + count <= bytes.count else { throw fail("unexpected end of input") }
            let ptr = word.utf8Start
            for k in 0..<count where bytes[i + k] != ptr[k] { throw fail("invalid literal") }
            i += count
        }

        /// Reads the value of a captured item's key and notes where it lies.
        mutating func parseSpan() throws(JSONParseError) -> JSON {
            skipWhitespace()
            let outer = canonical
            canonical = true
            let start = i
            let value = try parseValue()
            if spans.count <= item { spans += Array(repeating: nil, count: item + 1 - spans.count) }
            spans[item] = JSONSpan(range: start..<i, isCanonical: canonical)
            canonical = outer && canonical
            return value
        }

        mutating func enter() throws(JSONParseError) {
            depth += 1
            guard depth <= Self.maxDepth else { throw fail("nesting deeper than \(Self.maxDepth)") }
        }

        mutating func parseObject() throws(JSONParseError) -> JSON {
            try enter()
            defer { depth -= 1 }
            i += 1
            // Room for the ledger's largest objects (a body has six fields) without growing twice.
            var fields = [JSONKey: JSON](minimumCapacity: 6)
            skipWhitespace()
            if i < bytes.count, bytes[i] == UInt8(ascii: "}") { i += 1; return .object(fields) }
            var previousKey: String?
            while true {
                skipWhitespace()
                guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw fail("expected a key") }
                let key = try parseString()
                if let previousKey, !JSON.keyPrecedes(previousKey, key) { canonical = false }
                previousKey = key
                skipWhitespace()
                guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw fail("expected ':'") }
                i += 1
                let value: JSON
                do throws(JSONParseError) {
                    if let capture {
                        if depth == 1 && key == capture.arrayKey {
                            inCapturedArray = true
                            defer { inCapturedArray = false }
                            value = try parseValue()
                        } else if depth == 3 && inCapturedArray && item >= 0 && key == capture.itemKey {
                            value = try parseSpan()
                        } else {
                            value = try parseValue()
                        }
                    } else {
                        value = try parseValue()
                    }
                } catch {
                    var e = error
                    if e.kind != .syntax { e.within(key) }
                    throw e
                }
                guard fields.updateValue(value, forKey: JSONKey(key)) == nil else { throw fail("duplicate key \"\(key)\"") }
                skipWhitespace()
                guard i < bytes.count else { throw fail("unexpected end of input") }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                if bytes[i] == UInt8(ascii: "}") { i += 1; return .object(fields) }
                throw fail("expected ',' or '}'")
            }
        }

        mutating func parseArray() throws(JSONParseError) -> JSON {
            try enter()
            defer { depth -= 1 }
            i += 1
            var items: [JSON] = []
            skipWhitespace()
            if i < bytes.count, bytes[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
            while true {
                if depth == 2 && inCapturedArray { item = items.count }
                do throws(JSONParseError) {
                    items.append(try parseValue())
                } catch {
                    var e = error
                    if e.kind != .syntax { e.within("[\(items.count)]") }
                    throw e
                }
                skipWhitespace()
                guard i < bytes.count else { throw fail("unexpected end of input") }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                if bytes[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
                throw fail("expected ',' or ']'")
            }
        }

        mutating func parseInteger() throws(JSONParseError) -> Int64 {
            let start = i
            var negative = false
            if bytes[i] == UInt8(ascii: "-") { negative = true; i += 1 }
            guard i < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[i]) else {
                throw fail("expected a digit")
            }
            if bytes[i] == UInt8(ascii: "0"), i + 1 < bytes.count,
                (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[i + 1])
            {
                throw fail("leading zero")
            }
            var value: Int64 = 0
            while i < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[i]) {
                value = value * 10 + Int64(bytes[i] - UInt8(ascii: "0"))
                guard value <= JSON.maxSafeInteger else {
                    // `100000000000000000000e-10` is 10^10: read as a whole where that is allowed.
                    if integral { return negative ? -(try integralValue(from: start)) : try integralValue(from: start) }
                    i = start
                    throw fail("integer outside ±(2^53 − 1)", .integerOutOfRange)
                }
                i += 1
            }
            if i < bytes.count, [UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E")].contains(bytes[i]) {
                guard integral else {
                    i = start
                    throw fail("numbers must be integers", .notAnInteger)
                }
                let n = try integralValue(from: start)
                canonical = false
                return negative ? -n : n
            }
            if negative && value == 0 { canonical = false }  // JCS writes 0
            return negative ? -value : value
        }

        /// The number that starts at `start` (its sign already read) when its value is an integer
        /// within ±(2^53 − 1): `12.00`, `1.2e1`, `1200e-2`. Exact, in integer arithmetic.
        mutating func integralValue(from start: Int) throws(JSONParseError) -> Int64 {
            func isDigit(_ b: UInt8) -> Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b) }
            i = start
            if bytes[i] == UInt8(ascii: "-") { i += 1 }
            var digits: [UInt8] = []
            while i < bytes.count, isDigit(bytes[i]) { digits.append(bytes[i] - UInt8(ascii: "0")); i += 1 }
            var scale = 0
            if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
                i += 1
                guard i < bytes.count, isDigit(bytes[i]) else { throw fail("expected a digit after '.'") }
                while i < bytes.count, isDigit(bytes[i]) { digits.append(bytes[i] - UInt8(ascii: "0")); scale -= 1; i += 1 }
            }
            if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
                i += 1
                var exponentNegative = false
                if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { exponentNegative = bytes[i] == UInt8(ascii: "-"); i += 1 }
                guard i < bytes.count, isDigit(bytes[i]) else { throw fail("expected a digit in the exponent") }
                var exponent = 0
                while i < bytes.count, isDigit(bytes[i]) {
                    exponent = min(exponent * 10 + Int(bytes[i] - UInt8(ascii: "0")), 100_000)
                    i += 1
                }
                scale += exponentNegative ? -exponent : exponent
            }
            let end = i
            // Leading zeros say nothing; a negative scale must fall on zeros only.
            guard let first = digits.firstIndex(where: { $0 != 0 }) else { i = end; return 0 }
            var last = digits.count
            while scale < 0, last > first, digits[last - 1] == 0 { last -= 1; scale += 1 }
            i = start
            guard scale >= 0 else { throw fail("numbers must be integers", .notAnInteger) }
            guard last - first + scale <= 16 else { throw fail("integer outside ±(2^53 − 1)", .integerOutOfRange) }
            var value: Int64 = 0
            for d in digits[first..<last] { value = value * 10 + Int64(d) }
            for _ in 0..<scale { value *= 10 }
            guard value <= JSON.maxSafeInteger else { throw fail("integer outside ±(2^53 − 1)", .integerOutOfRange) }
            i = end
            return value
        }

        mutating func parseHex4() throws(JSONParseError) -> UInt32 {
            guard i + 4 <= bytes.count else { throw fail("truncated \\u escape") }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let c = bytes[i]
                let d: UInt32
                switch c {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(c - UInt8(ascii: "0"))
                case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(c - UInt8(ascii: "a") + 10)
                case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(c - UInt8(ascii: "A") + 10)
                default: throw fail("bad \\u escape")
                }
                v = v << 4 | d
                i += 1
            }
            return v
        }

        mutating func parseString() throws(JSONParseError) -> String {
            i += 1
            let start = i
            // Fast path: no escapes. ASCII, which is every id, key and amount, needs no validating.
            var high: UInt8 = 0
            while i < bytes.count {
                let c = bytes[i]
                if c == UInt8(ascii: "\"") {
                    let slice = bytes[start..<i]
                    i += 1
                    if high < 0x80 { return String(decoding: slice, as: UTF8.self) }
                    guard let s = String(validating: slice, as: UTF8.self) else { throw fail("invalid UTF-8") }
                    return s
                }
                if c == UInt8(ascii: "\\") { break }
                guard c >= 0x20 else { throw fail("control character in string") }
                high |= c
                i += 1
            }
            var out: [UInt8] = Array(bytes[start..<i])
            while i < bytes.count {
                let c = bytes[i]
                if c == UInt8(ascii: "\"") {
                    i += 1
                    guard let s = String(validating: out, as: UTF8.self) else { throw fail("invalid UTF-8") }
                    return s
                }
                guard c >= 0x20 else { throw fail("control character in string") }
                if c != UInt8(ascii: "\\") { out.append(c); i += 1; continue }
                i += 1
                guard i < bytes.count else { break }
                let e = bytes[i]
                i += 1
                switch e {
                case UInt8(ascii: "\""): out.append(0x22)
                case UInt8(ascii: "\\"): out.append(0x5C)
                case UInt8(ascii: "/"):
                    out.append(0x2F)
                    canonical = false
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    // JCS spells only the controls without a short form this way, in lowercase.
                    let spelled = bytes[i..<min(i + 4, bytes.count)]
                    var scalar = try parseHex4()
                    if scalar >= 0x20 || [0x08, 0x09, 0x0A, 0x0C, 0x0D].contains(scalar)
                        || spelled.contains(where: { (UInt8(ascii: "A")...UInt8(ascii: "F")).contains($0) }) {
                        canonical = false
                    }
                    if (0xD800..<0xDC00).contains(scalar) {
                        guard i + 2 <= bytes.count, bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u")
                        else { throw fail("lone surrogate", .loneSurrogate) }
                        i += 2
                        let low = try parseHex4()
                        guard (0xDC00..<0xE000).contains(low) else { throw fail("lone surrogate", .loneSurrogate) }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00..<0xE000).contains(scalar) {
                        throw fail("lone surrogate", .loneSurrogate)
                    }
                    guard let u = Unicode.Scalar(scalar) else { throw fail("bad \\u escape") }
                    out.append(contentsOf: Array(String(Character(u)).utf8))
                default: throw fail("bad escape")
                }
            }
            throw fail("unterminated string")
        }
    }
}
