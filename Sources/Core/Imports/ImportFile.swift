import CSV
import Foundation
import Ledger
import XMLCoder
import ZIPFoundation
#if canImport(Glibc)
import Glibc
#endif

/// An ERP export read into text cells: a CSV (UTF-8 with or without a BOM, or GB18030) or the
/// first sheet of an XLSX. Nothing in a cell is evaluated: a formula is its text.
package enum ImportFile {
    /// The largest file taken (larger is refused with 413 before it is read).
    package static let maxBytes = 50 * 1024 * 1024
    /// Data rows a file may hold: one import is one ERP batch, not the whole ledger.
    package static let maxRows = 10_000
    /// What an XLSX may unpack to, all the parts read counted together: a zip bomb stops here.
    package static let maxUnpackedBytes = 100 * 1024 * 1024

    package enum Format: String, Sendable {
        case csv, xlsx
    }

    /// A row of cells and its number in the file (the header is row 1, as a spreadsheet counts).
    package struct Row: Sendable, Equatable {
        package var number: Int
        package var cells: [String]
    }

    package struct Table: Sendable {
        package var format: Format
        package var header: [String]
        package var rows: [Row]
        /// XLSX only: the workbook counts dates from 1904 (a Mac Excel setting), not 1900.
        package var dates1904 = false
    }

    /// Reads `data` as an XLSX when it is a zip, else as a CSV. Every refusal is a
    /// `validation_failed` on `file` that says what is wrong and where.
    package static func read(_ data: Data) throws -> Table {
        guard !data.isEmpty else { throw LedgerError.invalid("file", "is empty") }
        if data.starts(with: [0x50, 0x4B, 0x03, 0x04]) { return try XLSX.read(data) }
        return try readCSV(data)
    }

    // MARK: CSV

    static func readCSV(_ data: Data) throws -> Table {
        let bytes = [UInt8](data)
        if let nul = bytes.firstIndex(of: 0) {
            throw LedgerError.invalid("file", "holds a NUL byte on line \(line(of: nul, in: bytes)): it is not a text CSV (an XLSX or another binary format saved as .csv?)")
        }
        // Quotes come in pairs in a CSV (an escaped one is doubled): an odd count leaves a field
        // open to the end of the file, which a reader would take whole.
        if bytes.reduce(0, { $1 == 0x22 ? $0 + 1 : $0 }) % 2 == 1, let last = bytes.lastIndex(of: 0x22) {
            throw LedgerError.invalid("file", "is not a well-formed CSV: a quote is not closed (the last one is on line \(line(of: last, in: bytes)))")
        }
        let text = try decode(bytes)
        let reader: CSVReader
        do { reader = try CSVReader(string: text, hasHeaderRow: false) } catch {
            throw LedgerError.invalid("file", "is not a CSV: \(error)")
        }
        var header: [String]?
        var rows: [Row] = []
        var number = 0
        while let cells = reader.next() {
            number += 1
            if header == nil {
                header = cells
                continue
            }
            if cells.allSatisfy({ $0.trimmingCharacters(in: .whitespaces).isEmpty }) { continue }
            guard rows.count < maxRows else { throw tooManyRows }
            rows.append(Row(number: number, cells: cells))
        }
        if let error = reader.error {
            throw LedgerError.invalid("file", "is not a well-formed CSV after row \(number): \(describe(error))")
        }
        guard let header else { throw LedgerError.invalid("file", "has no header row") }
        return Table(format: .csv, header: header, rows: rows)
    }

    static var tooManyRows: LedgerError {
        LedgerError.invalid("file", "has more than \(maxRows) rows; split the export into batches of at most \(maxRows)")
    }

    static func describe(_ error: any Error) -> String {
        switch error as? CSVError {
        case .cannotReadHeaderRow?: "the header row cannot be read"
        case .stringEncodingMismatch?: "the text is not in the expected encoding"
        case .stringEndianMismatch?: "the text's byte order is not the expected one"
        case .unicodeDecoding?: "a character cannot be decoded"
        case .cannotOpenFile?, .cannotReadFile?, .cannotWriteStream?, .streamErrorHasOccurred?, nil: "a quote is not closed, or a quoted field is followed by more text"
        }
    }

    /// The line (from 1) a byte offset is on.
    static func line(of offset: Int, in bytes: [UInt8]) -> Int {
        bytes[..<offset].reduce(1) { $1 == 0x0A ? $0 + 1 : $0 }
    }

    /// UTF-8 (a BOM dropped), else GB18030, which Chinese ERPs still write. A file whose lines
    /// are partly one and partly the other is refused: its text cannot be read without guessing.
    static func decode(_ raw: [UInt8]) throws -> String {
        let bytes = raw.starts(with: [0xEF, 0xBB, 0xBF]) ? Array(raw.dropFirst(3)) : raw
        if let text = String(validating: bytes, as: UTF8.self) { return text }
        // Not UTF-8 throughout: a line that is UTF-8 with CJK in it beside one that is not is a mixture.
        var utf8Line: Int?
        var otherLine: Int?
        for (index, line) in bytes.split(separator: 0x0A, omittingEmptySubsequences: false).enumerated() {
            if String(validating: line, as: UTF8.self) == nil {
                otherLine = otherLine ?? index + 1
            } else if line.contains(where: { $0 >= 0xE3 && $0 <= 0xE9 }) {
                utf8Line = utf8Line ?? index + 1
            }
        }
        if let utf8Line, let otherLine {
            throw LedgerError.invalid("file", "mixes encodings: line \(utf8Line) is UTF-8 and line \(otherLine) is not; save the whole export as UTF-8 (or GB18030) and upload it again")
        }
        guard let text = GB18030.decode(bytes) else {
            throw LedgerError.invalid("file", "is neither UTF-8 nor GB18030 (line \(otherLine ?? 1) does not decode in either); save the export as UTF-8 CSV and upload it again")
        }
        return text
    }
}

/// GB18030 through the C library's iconv, which knows the whole standard (four-byte sequences included).
enum GB18030 {
    static func decode(_ bytes: [UInt8]) -> String? {
        let converter = iconv_open("UTF-8", "GB18030")
        guard converter != iconv_t(bitPattern: -1) else { return nil }
        defer { iconv_close(converter) }
        var input = bytes.map { CChar(bitPattern: $0) }
        var output = [CChar](repeating: 0, count: bytes.count * 2 + 4)
        let written: Int? = input.withUnsafeMutableBufferPointer { inBuffer in
            output.withUnsafeMutableBufferPointer { outBuffer in
                var inPointer = inBuffer.baseAddress
                var inLeft = inBuffer.count
                var outPointer = outBuffer.baseAddress
                var outLeft = outBuffer.count
                // -1 on an invalid or incomplete sequence: the file is not GB18030.
                guard iconv(converter, &inPointer, &inLeft, &outPointer, &outLeft) != -1, inLeft == 0 else { return nil }
                return outBuffer.count - outLeft
            }
        }
        guard let written else { return nil }
        return String(validating: output[..<written].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// The first sheet of an XLSX (Office Open XML, ECMA-376): the zip's workbook names it, its
/// cells point into the shared strings. Cells are read as text: a number as Excel wrote it, a
/// formula as its formula (`=…`), never its cached result.
enum XLSX {
    static func read(_ data: Data) throws -> ImportFile.Table {
        let archive: Archive
        do { archive = try Archive(data: data, accessMode: .read) } catch {
            throw LedgerError.invalid("file", "is a zip but not one that can be read: it is not an XLSX")
        }
        var budget = ImportFile.maxUnpackedBytes
        func part(_ path: String) throws -> Data? {
            guard let entry = archive[path] else { return nil }
            guard entry.type == .file else { throw notXLSX("\(path) is not a file") }
            guard entry.uncompressedSize <= UInt64(budget) else { throw unpacksTooLarge }
            var content = Data()
            do {
                _ = try archive.extract(entry, skipCRC32: false) { chunk in
                    // The header's size may lie: count what actually comes out.
                    guard chunk.count <= budget - content.count else { throw ImportFile.Bomb() }
                    content.append(chunk)
                }
            } catch is ImportFile.Bomb {
                throw unpacksTooLarge
            } catch {
                throw notXLSX("its part \(path) does not unpack (\(error))")
            }
            budget -= content.count
            return content
        }
        guard let workbookXML = try part("xl/workbook.xml") else { throw notXLSX("it has no xl/workbook.xml") }
        let workbook: Workbook = try decodeXML(workbookXML, "xl/workbook.xml")
        guard let first = workbook.sheets.sheet.first else { throw notXLSX("its workbook has no sheet") }
        var sheetPath = "xl/worksheets/sheet1.xml"
        if let relsXML = try part("xl/_rels/workbook.xml.rels") {
            let rels: Relationships = try decodeXML(relsXML, "xl/_rels/workbook.xml.rels")
            if let target = rels.Relationship.first(where: { $0.Id == first.relationshipId })?.Target {
                sheetPath = target.hasPrefix("/") ? String(target.dropFirst()) : "xl/" + target
            }
        }
        var shared: [String] = []
        if let sstXML = try part("xl/sharedStrings.xml") {
            let sst: SharedStrings = try decodeXML(sstXML, "xl/sharedStrings.xml")
            shared = (sst.si ?? []).map(\.text)
        }
        guard let sheetXML = try part(sheetPath) else { throw notXLSX("its first sheet \(sheetPath) is missing") }
        let sheet: Worksheet = try decodeXML(sheetXML, sheetPath)
        var header: [String]?
        var rows: [ImportFile.Row] = []
        var previous = 0
        for row in sheet.sheetData.row ?? [] {
            let number = row.r ?? previous + 1
            previous = number
            var cells: [String] = []
            for (position, cell) in (row.c ?? []).enumerated() {
                let column = cell.r.flatMap(columnIndex) ?? position
                guard column < 16_384 else { throw notXLSX("cell \(cell.r ?? "?") is beyond Excel's last column") }
                if cells.count <= column { cells += Array(repeating: "", count: column + 1 - cells.count) }
                cells[column] = try cell.text(shared: shared)
            }
            if header == nil {
                header = cells
                continue
            }
            if cells.allSatisfy({ $0.trimmingCharacters(in: .whitespaces).isEmpty }) { continue }
            guard rows.count < ImportFile.maxRows else { throw ImportFile.tooManyRows }
            rows.append(ImportFile.Row(number: number, cells: cells))
        }
        guard let header else { throw LedgerError.invalid("file", "has no header row on its first sheet") }
        return ImportFile.Table(format: .xlsx, header: header, rows: rows, dates1904: workbook.workbookPr?.date1904.map { $0 == "1" || $0 == "true" } ?? false)
    }

    static var unpacksTooLarge: LedgerError {
        LedgerError.invalid("file", "unpacks to more than \(ImportFile.maxUnpackedBytes / 1024 / 1024) MB: it is not an export of payables (a zip bomb?)")
    }

    static func notXLSX(_ why: String) -> LedgerError {
        LedgerError.invalid("file", "is not an XLSX that can be read: \(why)")
    }

    static func decodeXML<T: Decodable>(_ data: Data, _ path: String) throws -> T {
        let decoder = XMLDecoder()
        decoder.shouldProcessNamespaces = true
        decoder.trimValueWhitespaces = false
        do { return try decoder.decode(T.self, from: data) } catch {
            throw notXLSX("its part \(path) is not the XML an XLSX has")
        }
    }

    /// "C12" → 2: the letters of a cell reference as a column from 0.
    static func columnIndex(_ reference: String) -> Int? {
        var index = 0
        var letters = 0
        for scalar in reference.unicodeScalars {
            guard scalar.value >= 65, scalar.value <= 90 else { break }
            index = index * 26 + Int(scalar.value - 64)
            letters += 1
            guard letters <= 3 else { return nil }
        }
        return letters == 0 ? nil : index - 1
    }

    struct Workbook: Decodable {
        struct Sheets: Decodable { var sheet: [Sheet] }
        struct Sheet: Decodable {
            var name: String?
            var relationshipId: String?
            enum CodingKeys: String, CodingKey {
                case name
                case relationshipId = "id"
            }
        }
        struct Properties: Decodable { var date1904: String? }
        var sheets: Sheets
        var workbookPr: Properties?
    }

    struct Relationships: Decodable {
        struct Relationship: Decodable {
            var Id: String
            var Target: String
        }
        var Relationship: [Relationship]
    }

    /// A run of text, or a string with runs (rich text): its text is the runs' together.
    struct Text: Decodable {
        var value: String?
        enum CodingKeys: String, CodingKey { case value = "" }
    }

    struct Item: Decodable {
        struct Run: Decodable { var t: Text? }
        var t: Text?
        var r: [Run]?
        var text: String { (t?.value ?? "") + (r ?? []).map { $0.t?.value ?? "" }.joined() }
    }

    struct SharedStrings: Decodable {
        var si: [Item]?
    }

    struct Worksheet: Decodable {
        struct SheetData: Decodable { var row: [Row]? }
        var sheetData: SheetData
    }

    struct Row: Decodable {
        var r: Int?
        var c: [Cell]?
    }

    struct Cell: Decodable {
        var r: String?
        var t: String?
        var v: String?
        var f: Text?
        var `is`: Item?

        func text(shared: [String]) throws -> String {
            // A formula is text: the import never takes what a spreadsheet computed.
            if let f, let formula = f.value, !formula.isEmpty { return "=" + formula }
            if f != nil { return "=" }
            switch t {
            case "s":
                guard let index = v.flatMap({ Int($0.trimmingCharacters(in: .whitespaces)) }), shared.indices.contains(index) else {
                    throw XLSX.notXLSX("cell \(r ?? "?") names a shared string that is not there")
                }
                return shared[index]
            case "inlineStr": return `is`?.text ?? ""
            case "b": return v == "1" ? "TRUE" : "FALSE"
            case nil, "n":
                // A number as Excel shows it: binary doubles read back to 15 significant digits
                // (1234.5599999999999 is the 1234.56 the sheet shows).
                guard let v, let number = Double(v), number.isFinite, v.contains(where: { $0 == "." || $0 == "E" || $0 == "e" }) else { return v ?? "" }
                return String(format: "%.15g", number)
            default: return v ?? ""
            }
        }
    }
}

extension ImportFile {
    /// An XLSX part grew past what the import unpacks.
    struct Bomb: Error {}
}
