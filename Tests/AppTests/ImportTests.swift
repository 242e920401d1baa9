import Foundation
import Ledger
import SQLKit
import Testing
import VaporTesting
import ZIPFoundation

@testable import Core
@testable import Web

/// Batch issue from an ERP export (SPEC §5 `POST /receivables/imports`): the report row by row,
/// the valid rows issued once each through the rules and maker-checker of a single issue.
@Suite struct ImportTests {
    static let tier1 = CreditCode.complete("91320500MA1K00003")!
    static let tier2 = CreditCode.complete("91320200MA1K00004")!
    static let core2 = CreditCode.complete("91320500MA1K00009")!
    static let nobody = CreditCode.complete("91320500MA1K00099")!

    /// A multipart body with `file` and, if given, `creditLineId`.
    static func form(_ file: [UInt8], name: String = "payables.csv", line: String?) -> (ByteBuffer, String) {
        let boundary = "cascade-import"
        var body = ByteBuffer()
        if let line { body.writeString("--\(boundary)\r\nContent-Disposition: form-data; name=\"creditLineId\"\r\n\r\n\(line)\r\n") }
        body.writeString("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\(name)\"\r\nContent-Type: application/octet-stream\r\n\r\n")
        body.writeBytes(file)
        body.writeString("\r\n--\(boundary)--\r\n")
        return (body, "multipart/form-data; boundary=\(boundary)")
    }

    static func upload(_ d: DemoPlatform, _ file: [UInt8], as who: String = "core", name: String = "payables.csv", line: String?) async throws -> DemoPlatform.Answer {
        let (body, type) = form(file, name: name, line: line)
        var headers = HTTPHeaders()
        headers.add(name: .authorization, value: "Bearer \(d.keys[who]!)")
        headers.replaceOrAdd(name: .contentType, value: type)
        var answer: DemoPlatform.Answer?
        try await d.app.testing().test(.POST, "/api/v1/receivables/imports", headers: headers, body: body) { res in
            answer = DemoPlatform.Answer(status: res.status, headers: res.headers, json: (try? JSON.parse(Array(res.body.readableBytesView))) ?? .null, text: String(buffer: res.body))
        }
        return answer!
    }

    /// 江南商业银行's line to 华东重工集团.
    static func line(_ d: DemoPlatform) async throws -> String {
        let lines = try await d.call("core", .GET, "/api/v1/credit-lines").items
        return lines.first { $0["bankId"]?.stringValue == d.orgs["bank"]!.description }!["id"]!.stringValue!
    }

    static func rows(_ answer: DemoPlatform.Answer) -> [Int: JSON] {
        guard case .array(let rows)? = answer["rows"] else { return [:] }
        return Dictionary(uniqueKeysWithValues: rows.map { (Int($0["row"]!.intValue!), $0) })
    }

    static func importCount(_ d: DemoPlatform) async throws -> Int64 {
        try await d.app.sql.raw("SELECT COUNT(*) AS n FROM receivable_imports").first()!.decode(column: "n", as: Int64.self)
    }

    @Test func aCSVIsReportedRowByRowAndItsValidRowsIssuedOnce() async throws {
        try await DemoPlatform.with { d in
            let line = try await Self.line(d)
            let csv = """
                supplierCreditCode,amountYuan,dueDate,invoiceNumber,contractNumber,memo
                \(Self.tier1),"12,345.60",2026-12-01,INV-IMP-1,HT-1,=1+2
                \(Self.tier2),500,2026/11/30,INV-IMP-2,,second
                91320500MA1K0000X,100.00,2026-12-01,INV-IMP-3,,
                \(Self.nobody),100.00,2026-12-01,INV-IMP-4,,
                \(Self.core2),100.00,2026-12-01,INV-IMP-5,,
                \(Self.tier1),1e400,2026-12-01,INV-IMP-6,,
                \(Self.tier1),100.00,2026-12-01,INV-IMP-1,,
                \(Self.tier1),100.00,2031-12-01,INV-IMP-8,,
                \(Self.tier1),100.001,2026-12-01,INV-IMP-9,,
                \(Self.tier1),99999999999999999999,2026-12-01,INV-IMP-10,,
                ,,,,,
                \(Self.tier1),-5,2026-12-01,INV-IMP-12,,

                """
            let before = await d.height
            let report = try await Self.upload(d, [0xEF, 0xBB, 0xBF] + Array(csv.utf8), line: line)
            #expect(report.status == .created)
            #expect(report["total"] == 11 && report["valid"] == 2 && report["refused"] == 9 && report["issued"] == 0)
            let rows = Self.rows(report)
            #expect(rows[2]?["status"] == "valid" && rows[2]?["faceFen"] == 1_234_560 && rows[3]?["dueDate"] == "2026-11-30")
            let expected: [Int: (String, String)] = [4: ("validation_failed", "not a unified social credit code"), 5: ("invalid_counterparty", "no organisation"),
                                                     6: ("invalid_counterparty", "not a supplier"), 7: ("validation_failed", "not an amount in yuan"),
                                                     8: ("duplicate_invoice", "also on row 2"), 9: ("term_out_of_range", "days after today"),
                                                     10: ("validation_failed", "at most two decimals"), 11: ("amount_out_of_range", "larger than any amount"),
                                                     13: ("validation_failed", "not an amount in yuan")]
            for (row, (code, words)) in expected {
                #expect(rows[row]?["status"] == "refused" && rows[row]?["code"]?.stringValue == code, "row \(row): \(String(describing: rows[row]))")
                #expect(rows[row]?["message"]?.stringValue?.contains(words) == true, "row \(row): \(String(describing: rows[row]))")
            }
            #expect(rows[12] == nil, "an empty row is no row")
            #expect(await d.height == before, "a report issues nothing")

            let id = report["id"]!.stringValue!
            let issued = try await d.call("core", .POST, "/api/v1/receivables/imports/\(id)/issue")
            #expect(issued.status == .ok && issued["issued"] == 2 && issued["valid"] == 0)
            let first = Self.rows(issued)[2]!["receivableId"]!.stringValue!
            let receivable = try await d.call("core", .GET, "/api/v1/receivables/\(first)")
            #expect(receivable["faceFen"] == 1_234_560 && receivable["memo"] == "=1+2", "a formula is text, kept as it was written")
            guard case .array(let documents)? = receivable["documents"] else { Issue.record("no documents"); return }
            #expect(documents.map { $0["kind"]?.stringValue } == ["invoice", "contract"] && documents[0]["number"] == "INV-IMP-1" && documents[1]["number"] == "HT-1")
            #expect(documents[0]["fileName"] == "payables.csv#2" && documents[0]["sha256"]?.stringValue?.count == 64)
            let height = await d.height

            // The same file again is the same import; issuing it again issues nothing.
            let again = try await Self.upload(d, [0xEF, 0xBB, 0xBF] + Array(csv.utf8), line: line)
            #expect(again.status == .ok && again["id"]?.stringValue == id && again["issued"] == 2)
            #expect(try await d.call("core", .POST, "/api/v1/receivables/imports/\(id)/issue")["issued"] == 2)
            #expect(await d.height == height)
            // The same rows in another file: the ledger's invoice rule refuses them.
            let other = try await Self.upload(d, Array((csv + "\n").utf8), line: line)
            #expect(other.status == .created && Self.rows(other)[2]?["code"] == "duplicate_invoice")
            #expect(try await d.chainAgrees())
        }
    }

    @Test func chineseHeadersGB18030AndHostileFiles() async throws {
        try await DemoPlatform.with { d in
            let line = try await Self.line(d)
            let csv = "供应商统一社会信用代码,金额(元),到期日,发票号,合同号,备注\n\(Self.tier1),\"1,234.56\",2026-12-01,发票-甲-1,合同-甲,华东重工 第一批\n"
            let gb = GB18030Encoder.encode(csv)
            #expect(String(validating: gb, as: UTF8.self) == nil, "the file is not UTF-8")
            let report = try await Self.upload(d, gb, line: line)
            #expect(report.status == .created && report["valid"] == 1)
            #expect(Self.rows(report)[2]?["invoiceNumber"] == "发票-甲-1" && Self.rows(report)[2]?["faceFen"] == 123_456)

            let count = try await Self.importCount(d)
            let mixed = Array("supplierCreditCode,amountFen,dueDate,invoiceNumber,memo\n\(Self.tier1),100,2026-12-01,A1,华东\n".utf8)
                + GB18030Encoder.encode("\(Self.tier1),100,2026-12-01,A2,华东\n")
            let hostile: [(String, [UInt8], String)] = [
                ("NUL", Array("supplierCreditCode,amountFen,dueDate,invoiceNumber\n\(Self.tier1),1\u{0}00,2026-12-01,A\n".utf8), "NUL byte on line 2"),
                ("mixed", mixed, "mixes encodings: line 2 is UTF-8 and line 3 is not"),
                ("unknown column", Array("supplierCreditCode,amountFen,dueDate,invoiceNumber,付款方式\n".utf8), "is not a column the import reads"),
                ("no amount", Array("supplierCreditCode,dueDate,invoiceNumber\n".utf8), "no amount column"),
                ("both amounts", Array("supplierCreditCode,amountFen,amountYuan,dueDate,invoiceNumber\n".utf8), "both amountYuan and amountFen"),
                ("unclosed quote", Array("supplierCreditCode,amountFen,dueDate,invoiceNumber\n\"\(Self.tier1),1,2026-12-01,A\n".utf8), "not a well-formed CSV"),
                ("empty", [], "is empty"),
                ("not a zip", [0x50, 0x4B, 0x03, 0x04, 1, 2, 3], "not an XLSX"),
            ]
            for (what, file, words) in hostile {
                let answer = try await Self.upload(d, file, line: line)
                #expect(answer.status == .unprocessableEntity && answer.code == "validation_failed", "\(what): \(answer.json)")
                #expect(answer.text.contains(words), "\(what): \(answer.text)")
            }
            // 10,000 rows are one batch; one more is refused before a row is judged.
            let header = "supplierCreditCode,amountFen,dueDate,invoiceNumber\n"
            let many = (1...10_001).map { "\(Self.tier1),100,2026-12-01,BULK-\($0)\n" }
            let tooMany = try await Self.upload(d, Array((header + many.joined()).utf8), line: line)
            #expect(tooMany.status == .unprocessableEntity && tooMany.text.contains("more than 10000 rows"))
            #expect(try await Self.importCount(d) == count, "a refused file stores nothing")
            let full = try await Self.upload(d, Array((header + many.dropLast().joined()).utf8), line: line)
            #expect(full.status == .created && full["total"] == 10_000 && full["valid"] == 10_000)

            // Larger than 50 MB: 413, read no further.
            let huge = try await Self.upload(d, [UInt8](repeating: 0x41, count: ImportFile.maxBytes + 1), line: line)
            #expect(huge.status == .payloadTooLarge && huge.code == "payload_too_large")
        }
    }

    @Test func whoMayImport() async throws {
        try await DemoPlatform.with { d in
            let line = try await Self.line(d)
            let csv = Array("supplierCreditCode,amountFen,dueDate,invoiceNumber\n\(Self.tier1),100,2026-12-01,WHO-1\n".utf8)
            for who in ["regulator", "tier1", "bank", "operator"] {
                let answer = try await Self.upload(d, csv, as: who, line: line)
                #expect(answer.status == .forbidden, "\(who): \(answer.json)")
            }
            // Another core's line is not the caller's; neither is another core's import.
            let other = try await Self.upload(d, csv, as: "core2", line: line)
            #expect(other.status == .notFound, "\(other.json)")
            let mine = try await Self.upload(d, csv, line: line)
            let id = mine["id"]!.stringValue!
            #expect(try await d.call("core2", .GET, "/api/v1/receivables/imports/\(id)").status == .notFound)
            #expect(try await d.call("core2", .POST, "/api/v1/receivables/imports/\(id)/issue").status == .notFound)
            #expect(try await d.call("regulator", .GET, "/api/v1/receivables/imports/\(id)").status == .ok, "the regulator reads every import")
            #expect(try await d.call("regulator", .POST, "/api/v1/receivables/imports/\(id)/issue").status == .forbidden)
            #expect(try await d.call("core", .GET, "/api/v1/receivables/imports/not-an-id").status == .notFound)
            #expect(try await d.call("core", .GET, "/api/v1/receivables/imports").items.map { $0["id"]?.stringValue } == [id])
            // Without a line, the core has two usable ones: it must name one.
            let unnamed = try await Self.upload(d, csv, line: nil)
            #expect(unnamed.status == .unprocessableEntity && unnamed.text.contains("2 usable credit lines"))
        }
    }

    /// Rows from ¥1,000,000.00 wait for 华东重工集团's checker, each as a single issue would;
    /// the import shows what the checker decided.
    @Test func rowsGoThroughMakerChecker() async throws {
        try await DemoPlatform.with(fourEyes: true) { d in
            let line = try await Self.line(d)
            let csv = "supplierCreditCode,amountYuan,dueDate,invoiceNumber\n\(Self.tier1),2000000.00,2026-12-01,MC-1\n\(Self.tier1),2500000.00,2026-12-01,MC-2\n\(Self.tier2),10.00,2026-12-01,MC-3\n"
            let id = try await Self.upload(d, Array(csv.utf8), line: line)["id"]!.stringValue!
            let issued = try await d.call("core", .POST, "/api/v1/receivables/imports/\(id)/issue")
            let rows = Self.rows(issued)
            #expect(rows[4]?["status"] == "issued")
            guard let held = rows[2]?["approvalId"]?.stringValue, let held2 = rows[3]?["approvalId"]?.stringValue else { Issue.record("not held: \(issued.json)"); return }
            #expect(rows[2]?["status"] == "valid")
            // Issuing again prepares nothing twice.
            #expect(Self.rows(try await d.call("core", .POST, "/api/v1/receivables/imports/\(id)/issue"))[2]?["approvalId"]?.stringValue == held)
            #expect(try await d.call("core-checker", .POST, "/api/v1/approvals/\(held)/approve").status == .created)
            #expect(try await d.call("core-checker", .POST, "/api/v1/approvals/\(held2)/reject", #"{"reason":"not ours"}"#).status == .ok)
            let now = Self.rows(try await d.call("core", .GET, "/api/v1/receivables/imports/\(id)"))
            #expect(now[2]?["status"] == "issued" && now[2]?["receivableId"]?.stringValue?.count == 64)
            #expect(now[3]?["status"] == "refused" && now[3]?["message"]?.stringValue?.contains("not ours") == true)
        }
    }

    /// Two requests issuing one import at once: each row once. A row whose issue reached the
    /// ledger but not the import (a process stopped in between) is found issued, not refused.
    @Test func concurrentIssuesAndAStopInBetween() async throws {
        try await DemoPlatform.with { d in
            let line = try await Self.line(d)
            let csv = "supplierCreditCode,amountFen,dueDate,invoiceNumber\n" + (1...40).map { "\(Self.tier1),\(100 + $0),2026-12-01,RACE-\($0)\n" }.joined()
            let id = try await Self.upload(d, Array(csv.utf8), line: line)["id"]!.stringValue!
            async let a = d.call("core", .POST, "/api/v1/receivables/imports/\(id)/issue")
            async let b = d.call("core", .POST, "/api/v1/receivables/imports/\(id)/issue")
            let answers = try await [a, b]
            #expect(answers.allSatisfy { $0.status == .ok || $0.code == "idempotency_conflict" }, "\(answers.map(\.json))")
            let count = try await d.app.sql.raw("SELECT COUNT(*) AS n FROM receivables WHERE documents LIKE '%RACE-%'").first()!.decode(column: "n", as: Int64.self)
            #expect(count == 40)
            // As if stopped between the ledger and the record: the row reads valid again.
            try await d.app.sql.raw("UPDATE receivable_import_rows SET status = 'valid', receivable_id = NULL WHERE import_id = \(bind: id) AND row_no = 2").run()
            let height = await d.height
            let again = try await d.call("core", .POST, "/api/v1/receivables/imports/\(id)/issue")
            #expect(again["issued"] == 40 && Self.rows(again)[2]?["receivableId"]?.stringValue?.count == 64)
            #expect(await d.height == height)
            #expect(try await d.chainAgrees())
        }
    }

    @Test func anXLSXIsReadAsTextAndAZipBombIsRefused() async throws {
        try await DemoPlatform.with { d in
            let line = try await Self.line(d)
            let sheet = """
                <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
                <worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>
                <row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c><c r="C1" t="s"><v>2</v></c><c r="D1" t="s"><v>3</v></c><c r="F1" t="inlineStr"><is><t>memo</t></is></c></row>
                <row r="2"><c r="A2" t="s"><v>4</v></c><c r="B2"><v>1234.5599999999999</v></c><c r="C2"><v>46357</v></c><c r="D2" t="inlineStr"><is><t>X-1</t></is></c><c r="F2" t="s"><v>5</v></c></row>
                <row r="3"><c r="A3" t="s"><v>4</v></c><c r="B3"><f>SUM(B2:B2)</f><v>1234.56</v></c><c r="C3" t="str"><v>2026-12-01</v></c><c r="D3" t="inlineStr"><is><t>X-2</t></is></c></row>
                <row r="5"><c r="A5" t="s"><v>4</v></c><c r="B5"><v>7</v></c><c r="C5" t="inlineStr"><is><t>2026-12-01</t></is></c><c r="D5" t="inlineStr"><is><t>X-3</t></is></c></row>
                </sheetData></worksheet>
                """
            let strings = """
                <?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">
                <si><t>供应商统一社会信用代码</t></si><si><t>金额（元）</t></si><si><t>到期日</t></si><si><r><t>发票</t></r><r><t>号</t></r></si><si><t>\(Self.tier1)</t></si><si><t xml:space="preserve"> 第一行 </t></si></sst>
                """
            let xlsx = try Self.xlsx(["xl/worksheets/sheet1.xml": Data(sheet.utf8), "xl/sharedStrings.xml": Data(strings.utf8)])
            let report = try await Self.upload(d, Array(xlsx), name: "ap.xlsx", line: line)
            #expect(report.status == .created && report["format"] == "xlsx" && report["total"] == 3, "\(report.json)")
            let rows = Self.rows(report)
            #expect(rows[2]?["status"] == "valid" && rows[2]?["faceFen"] == 123_456 && rows[2]?["dueDate"] == "2026-12-01", "a date cell is Excel's day number")
            #expect(rows[3]?["status"] == "refused" && rows[3]?["message"]?.stringValue?.contains("formula =SUM(B2:B2)") == true, "never evaluated: \(String(describing: rows[3]))")
            #expect(rows[5]?["status"] == "valid" && rows[5]?["faceFen"] == 700)

            // 101 MB of one byte packs into a few hundred KB.
            let bomb = try Self.xlsx(["xl/worksheets/sheet1.xml": Data(count: ImportFile.maxUnpackedBytes + 1_000_000)])
            #expect(bomb.count < 1_000_000)
            let refused = try await Self.upload(d, Array(bomb), name: "bomb.xlsx", line: line)
            #expect(refused.status == .unprocessableEntity && refused.text.contains("unpacks to more than 100 MB"), "\(refused.json)")
        }
    }

    /// A workbook with one sheet and the given parts.
    static func xlsx(_ parts: [String: Data]) throws -> Data {
        let archive = try Archive(data: Data(), accessMode: .create)
        var all = parts
        all["xl/workbook.xml"] = Data("""
            <?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="AP" sheetId="1" r:id="rId1"/></sheets></workbook>
            """.utf8)
        all["xl/_rels/workbook.xml.rels"] = Data("""
            <?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>
            """.utf8)
        for (path, data) in all.sorted(by: { $0.key < $1.key }) {
            try archive.addEntry(with: path, type: .file, uncompressedSize: Int64(data.count), compressionMethod: .deflate) { position, size in
                data.subdata(in: Int(position)..<Int(position) + size)
            }
        }
        return archive.data!
    }
}

/// GB18030 text for the tests, through iconv as a Chinese ERP's export would be written.
enum GB18030Encoder {
    static func encode(_ text: String) -> [UInt8] {
        let converter = iconv_open("GB18030", "UTF-8")
        defer { iconv_close(converter) }
        var input = Array(text.utf8).map { CChar(bitPattern: $0) }
        var output = [CChar](repeating: 0, count: input.count * 2 + 4)
        let written = input.withUnsafeMutableBufferPointer { inBuffer in
            output.withUnsafeMutableBufferPointer { outBuffer in
                var inPointer = inBuffer.baseAddress, inLeft = inBuffer.count
                var outPointer = outBuffer.baseAddress, outLeft = outBuffer.count
                _ = iconv(converter, &inPointer, &inLeft, &outPointer, &outLeft)
                return outBuffer.count - outLeft
            }
        }
        return output[..<written].map { UInt8(bitPattern: $0) }
    }
}

extension ImportTests {
    /// The console's page: upload the repository's sample file, read the report, issue the rows.
    @Test func theConsoleImportsTheSampleFile() async throws {
        try await DemoPlatform.with { d in
            let s = try await ConsoleTests.session(d, "core")
            let line = try await Self.line(d)
            // The sample's dates, moved to the test's clock.
            let sample = try String(contentsOfFile: "Public/samples/erp-import.csv", encoding: .utf8)
                .replacingOccurrences(of: "2027-03-31", with: "2026-12-15").replacingOccurrences(of: "2027-02-28", with: "2026-11-30")
            var (body, type) = Self.form(Array(sample.utf8), name: "erp-import.csv", line: line)
            var form = ByteBuffer(string: "--cascade-import\r\nContent-Disposition: form-data; name=\"_csrf\"\r\n\r\n\(s.csrf)\r\n")
            form.writeBuffer(&body)
            var location = ""
            try await d.app.testing().test(.POST, "/receivables/imports", headers: ["Cookie": s.cookie, "Content-Type": type], body: form) { res in
                #expect(res.status == .seeOther, "\(String(buffer: res.body).prefix(300))")
                location = res.headers.first(name: .location) ?? ""
            }
            let path = String(location.prefix { $0 != "?" })
            let report = try await ConsoleTests.get(d, s, path)
            #expect(report.html.contains("import-issue") && report.html.contains("苏州精密部件") && report.html.contains("128,000.00"), "\(report.html.prefix(2000))")
            try await d.app.testing().test(.POST, path + "/issue", headers: ["Cookie": s.cookie, "Content-Type": "application/x-www-form-urlencoded"],
                                           body: ByteBuffer(string: "_csrf=\(s.csrf)")) { res in
                #expect(res.status == .seeOther)
            }
            let issued = try await ConsoleTests.get(d, s, path + "?status=issued")
            #expect(issued.html.components(separatedBy: "data-row=").count == 4 && !issued.html.contains("id=\"import-issue\""))
            let list = try await ConsoleTests.get(d, s, "/receivables/imports")
            #expect(list.html.contains("erp-import.csv") && list.html.contains("import-form"), "\(list.status) \(list.html.suffix(3000))")
            // A file the import cannot read: the list again, with why.
            var (bad, badType) = Self.form(Array("supplierCreditCode\n".utf8), line: line)
            var badForm = ByteBuffer(string: "--cascade-import\r\nContent-Disposition: form-data; name=\"_csrf\"\r\n\r\n\(s.csrf)\r\n")
            badForm.writeBuffer(&bad)
            try await d.app.testing().test(.POST, "/receivables/imports", headers: ["Cookie": s.cookie, "Content-Type": badType], body: badForm) { res in
                #expect(res.status == .unprocessableEntity && String(buffer: res.body).contains("no dueDate"), "\(String(buffer: res.body).prefix(500))")
            }
        }
    }
}
