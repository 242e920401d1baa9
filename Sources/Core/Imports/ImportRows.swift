import Foundation
import Ledger

/// The columns an ERP export is read by (SPEC §5), named in English or Chinese.
package enum ImportColumn: String, CaseIterable, Sendable {
    case supplierCreditCode, amountYuan, amountFen, dueDate, invoiceNumber, contractNumber, memo

    package var chinese: String {
        switch self {
        case .supplierCreditCode: "供应商统一社会信用代码"
        case .amountYuan: "金额（元）"
        case .amountFen: "金额（分）"
        case .dueDate: "到期日"
        case .invoiceNumber: "发票号"
        case .contractNumber: "合同号"
        case .memo: "备注"
        }
    }

    /// A header cell as its column: either name, spaces around it and the parentheses' width aside.
    static func named(_ header: String) -> ImportColumn? {
        let name = header.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "(", with: "（").replacingOccurrences(of: ")", with: "）")
        return allCases.first { $0.rawValue.caseInsensitiveCompare(name) == .orderedSame || $0.chinese == name }
    }
}

/// One data row, read: what the issue will say, or why it cannot be issued.
package struct ImportLine: Sendable, Equatable {
    package var row: Int
    package var supplierCreditCode: String
    package var faceFen: Int64
    package var dueDate: BusinessDate
    package var invoiceNumber: String
    package var contractNumber: String?
    package var memo: String?
}

/// Why a row is not issued: a code of SPEC §5's and what to change.
package struct RowRefusal: Sendable, Equatable, Error {
    package var code: ErrorCode
    package var message: String
    /// The row it refuses, once known.
    package var row: Int?

    package init(_ code: ErrorCode, _ message: String) {
        self.code = code
        self.message = message
    }
}

package enum ImportRows {
    /// The header's columns by position; a file without the columns an issue needs, with one
    /// twice, with both amounts or with a column the import does not know is refused whole.
    package static func columns(_ header: [String]) throws -> [ImportColumn?] {
        var seen: Set<ImportColumn> = []
        var columns: [ImportColumn?] = []
        let known = ImportColumn.allCases.map { "\($0.rawValue)/\($0.chinese)" }.joined(separator: ", ")
        for (index, cell) in header.enumerated() {
            let name = cell.trimmingCharacters(in: .whitespaces)
            if name.isEmpty {
                columns.append(nil)
                continue
            }
            guard let column = ImportColumn.named(name) else {
                throw LedgerError.invalid("file", "column \(index + 1) of the header, \"\(name.prefix(60))\", is not a column the import reads; the columns are \(known)")
            }
            guard seen.insert(column).inserted else { throw LedgerError.invalid("file", "the header names \(column.rawValue) twice") }
            columns.append(column)
        }
        if seen.contains(.amountYuan) && seen.contains(.amountFen) {
            throw LedgerError.invalid("file", "the header has both amountYuan and amountFen; keep one")
        }
        for required in [ImportColumn.supplierCreditCode, .dueDate, .invoiceNumber] where !seen.contains(required) {
            throw LedgerError.invalid("file", "the header has no \(required.rawValue) (\(required.chinese)) column")
        }
        guard seen.contains(.amountYuan) || seen.contains(.amountFen) else {
            throw LedgerError.invalid("file", "the header has no amount column: amountYuan (金额（元）) or amountFen (金额（分）)")
        }
        return columns
    }

    /// A row read on its own (the file's other rows, the platform and its rules come after).
    package static func line(_ row: ImportFile.Row, columns: [ImportColumn?], table: ImportFile.Table) -> Result<ImportLine, RowRefusal> {
        var values: [ImportColumn: String] = [:]
        for (index, cell) in row.cells.enumerated() {
            let text = cell.trimmingCharacters(in: .whitespaces)
            if let problem = Limits.textProblem(text.isEmpty ? " " : text, maxLength: .max) {
                var refusal = RowRefusal(.validationFailed, "\(index < columns.count ? columns[index]?.rawValue ?? "cell \(index + 1)" : "cell \(index + 1)") \(problem)")
                refusal.row = row.number
                return .failure(refusal)
            }
            guard index < columns.count, let column = columns[index] else {
                if !text.isEmpty {
                    var refusal = RowRefusal(.validationFailed, "cell \(index + 1) has a value but no column in the header")
                    refusal.row = row.number
                    return .failure(refusal)
                }
                continue
            }
            if !text.isEmpty { values[column] = text }
        }
        do {
            guard let code = values[.supplierCreditCode] else { throw RowRefusal(.validationFailed, "supplierCreditCode is empty") }
            if let problem = CreditCode.problem(code.uppercased()) {
                throw RowRefusal(.validationFailed, "supplierCreditCode \(code.prefix(40)) is not a unified social credit code: \(problem)")
            }
            let fen: Int64
            if let yuan = values[.amountYuan] {
                fen = try amount(yuan, yuan: true)
            } else if let text = values[.amountFen] {
                fen = try amount(text, yuan: false)
            } else {
                throw RowRefusal(.validationFailed, "the amount is empty")
            }
            guard let dueText = values[.dueDate] else { throw RowRefusal(.validationFailed, "dueDate is empty") }
            let due = try date(dueText, table: table)
            guard let invoice = values[.invoiceNumber] else { throw RowRefusal(.validationFailed, "invoiceNumber is empty") }
            try text(invoice, "invoiceNumber", Limits.maxDocumentNumberLength)
            if let contract = values[.contractNumber] { try text(contract, "contractNumber", Limits.maxDocumentNumberLength) }
            if let memo = values[.memo] { try text(memo, "memo", Limits.maxMemoLength) }
            return .success(ImportLine(row: row.number, supplierCreditCode: code.uppercased(), faceFen: fen, dueDate: due, invoiceNumber: invoice,
                                       contractNumber: values[.contractNumber], memo: values[.memo]))
        } catch var refusal as RowRefusal {
            refusal.row = row.number
            return .failure(refusal)
        } catch {
            var refusal = RowRefusal(.validationFailed, "\(error)")
            refusal.row = row.number
            return .failure(refusal)
        }
    }

    static func text(_ value: String, _ field: String, _ maxLength: Int) throws {
        if let problem = Limits.textProblem(value, maxLength: maxLength) { throw RowRefusal(.validationFailed, "\(field) \(problem)") }
    }

    /// Yuan with at most two decimals (thousands separated by commas or not), or whole fen; never
    /// a sign, an exponent or a formula. Too large for the ledger's integers is out of range.
    static func amount(_ text: String, yuan: Bool) throws -> Int64 {
        let field = yuan ? "amountYuan" : "amountFen"
        if text.hasPrefix("=") {
            throw RowRefusal(.validationFailed, "\(field) is the formula \(text.prefix(40)); the import never evaluates one: put the amount itself in the cell")
        }
        var digits = Substring(text)
        if digits.contains(",") {
            let groups = digits.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)[0].split(separator: ",", omittingEmptySubsequences: false)
            guard groups.count > 1, (1...3).contains(groups[0].count), groups.dropFirst().allSatisfy({ $0.count == 3 }) else {
                throw RowRefusal(.validationFailed, "\(field) \(text.prefix(40)) has its thousands separators in the wrong places")
            }
            digits = Substring(digits.filter { $0 != "," })
        }
        let parts = digits.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        let whole = parts[0]
        let fraction = parts.count > 1 ? parts[1] : ""
        let isDigits: (Substring) -> Bool = { $0.allSatisfy { $0.isASCII && $0.isNumber } }
        guard !whole.isEmpty, isDigits(whole), isDigits(fraction), yuan ? fraction.count <= 2 && !(parts.count > 1 && fraction.isEmpty) : parts.count == 1 else {
            throw RowRefusal(.validationFailed, yuan ? "amountYuan \(text.prefix(40)) is not an amount in yuan with at most two decimals, like 1234.56"
                                                  : "amountFen \(text.prefix(40)) is not a whole number of fen, like 123456")
        }
        let fen = String(whole.drop { $0 == "0" }) + (yuan ? fraction.padding(toLength: 2, withPad: "0", startingAt: 0) : "")
        guard fen.count <= 18, let value = Int64(fen.isEmpty ? "0" : fen), value <= Limits.maxAmountFen else {
            throw RowRefusal(.amountOutOfRange, "\(field) \(text.prefix(40)) is larger than any amount the ledger takes (\(Money.format(Limits.maxAmountFen)))")
        }
        guard value > 0 else { throw RowRefusal(.amountOutOfRange, "the amount must be above zero") }
        return value
    }

    /// YYYY-MM-DD or YYYY/MM/DD; in an XLSX also a date cell (Excel keeps dates as day numbers).
    static func date(_ text: String, table: ImportFile.Table) throws -> BusinessDate {
        if let day = BusinessDate(text.replacingOccurrences(of: "/", with: "-")) { return day }
        if table.format == .xlsx, text.count <= 6, let serial = Int64(text), serial > 0 {
            // Day 1 is 1900-01-01 and Excel counts a 29 February 1900 that never was (day 60),
            // so from day 61 on, day 25,569 is 1970-01-01; a 1904 workbook's day 0 is 1904-01-01.
            let days = table.dates1904 ? serial - 24_107 : serial - (serial >= 61 ? 25_569 : 25_568)
            return BusinessDate(dayNumber: days)
        }
        throw RowRefusal(.validationFailed, "dueDate \(text.prefix(40)) is not a date YYYY-MM-DD")
    }
}
