import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Ledger

/// ISO 20022 messages of the bank-transfer rail: customer credit transfer initiations going out
/// (`pain.001.001.09`), debit and credit notifications coming back (`camt.054.001.08`).
package enum ISO20022 {
    package static let pain001 = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"
    package static let camt054 = "urn:iso:std:iso:20022:tech:xsd:camt.054.001.08"

    /// A party's account at its bank: the account number, its holder's name, and the bank's CNAPS
    /// participant code (中国现代化支付系统行号, 12 digits).
    package struct Account: Sendable, Equatable {
        package var number: String
        package var name: String
        package var bankCode: String
    }

    /// One credit transfer of a batch: `endToEndId` names the payment on every message after.
    package struct Transfer: Sendable, Equatable {
        package var endToEndId: String
        package var amountFen: Int64
        package var creditor: Account
        package var remittance: String
    }

    /// One payer's batch, one file: a bank's payouts, or a core enterprise's settlement of one
    /// receivable to every holder.
    package struct Initiation: Sendable, Equatable {
        package var messageId: String
        package var createdMs: Int64
        package var executionDate: BusinessDate
        package var initiatingParty: String
        package var debtor: Account
        package var transfers: [Transfer]
    }

    /// `pain.001.001.09`, UTF-8. Amounts in yuan with two decimals, currency CNY; the debtor's
    /// and creditors' banks by their CNAPS codes (clearing system `CNAPS`).
    package static func document(_ i: Initiation) -> String {
        let total = i.transfers.reduce(Int64(0)) { $0 + $1.amountFen }
        var x = XMLText()
        x.open("Document", attributes: [("xmlns", pain001)])
        x.open("CstmrCdtTrfInitn")
        x.open("GrpHdr")
        x.leaf("MsgId", i.messageId)
        x.leaf("CreDtTm", Self.dateTime(i.createdMs))
        x.leaf("NbOfTxs", String(i.transfers.count))
        x.leaf("CtrlSum", yuan(total))
        x.open("InitgPty"); x.leaf("Nm", String(i.initiatingParty.prefix(140))); x.close()
        x.close()
        x.open("PmtInf")
        x.leaf("PmtInfId", i.messageId)
        x.leaf("PmtMtd", "TRF")
        x.leaf("NbOfTxs", String(i.transfers.count))
        x.leaf("CtrlSum", yuan(total))
        x.open("ReqdExctnDt"); x.leaf("Dt", i.executionDate.description); x.close()
        party(&x, "Dbtr", "DbtrAcct", "DbtrAgt", i.debtor)
        x.leaf("ChrgBr", "SLEV")
        for t in i.transfers {
            x.open("CdtTrfTxInf")
            x.open("PmtId"); x.leaf("InstrId", t.endToEndId); x.leaf("EndToEndId", t.endToEndId); x.close()
            x.open("Amt"); x.leaf("InstdAmt", yuan(t.amountFen), attributes: [("Ccy", "CNY")]); x.close()
            agent(&x, "CdtrAgt", t.creditor.bankCode)
            x.open("Cdtr"); x.leaf("Nm", String(t.creditor.name.prefix(140))); x.close()
            account(&x, "CdtrAcct", t.creditor.number)
            x.open("RmtInf"); x.leaf("Ustrd", String(t.remittance.prefix(140))); x.close()
            x.close()
        }
        x.close(); x.close(); x.close()
        return x.text
    }

    private static func party(_ x: inout XMLText, _ name: String, _ acct: String, _ agt: String, _ a: Account) {
        x.open(name); x.leaf("Nm", String(a.name.prefix(140))); x.close()
        account(&x, acct, a.number)
        agent(&x, agt, a.bankCode)
    }

    private static func account(_ x: inout XMLText, _ name: String, _ number: String) {
        x.open(name); x.open("Id"); x.open("Othr"); x.leaf("Id", number); x.close(); x.close(); x.close()
    }

    private static func agent(_ x: inout XMLText, _ name: String, _ code: String) {
        x.open(name); x.open("FinInstnId"); x.open("ClrSysMmbId")
        x.open("ClrSysId"); x.leaf("Cd", "CNAPS"); x.close()
        x.leaf("MmbId", code)
        x.close(); x.close(); x.close()
    }

    /// 12345 fen as `123.45`.
    package static func yuan(_ fen: Int64) -> String { "\(fen / 100).\(String(format: "%02d", fen % 100))" }

    /// `123.45` (or `123`, `123.4`) as fen; nil for anything else, a third decimal included.
    package static func fen(_ text: String) -> Int64? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let whole = Int64(parts[0]), whole >= 0, parts[0].allSatisfy(\.isASCII) else { return nil }
        var cents: Int64 = 0
        if parts.count == 2 {
            guard (1...2).contains(parts[1].count), parts[1].allSatisfy({ $0.isASCII && $0.isNumber }), let c = Int64(parts[1]) else { return nil }
            cents = parts[1].count == 1 ? c * 10 : c
        }
        let (scaled, overflow) = whole.multipliedReportingOverflow(by: 100)
        guard !overflow, scaled <= Limits.maxAmountFen - cents else { return nil }
        return scaled + cents
    }

    package static func dateTime(_ ms: Int64) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f.string(from: Date(timeIntervalSince1970: Double(ms / 1000)))
    }

    /// Reads a `pain.001.001.09` document back: what a bank takes from the platform's outbox
    /// (the demo's bank, the tests). Anything else is refused with what is wrong.
    package static func initiation(_ bytes: [UInt8]) throws -> Initiation {
        guard bytes.count <= maxNotificationBytes else { throw LedgerError(.payloadTooLarge, "an instruction is at most \(maxNotificationBytes) bytes") }
        let reader = PainReader()
        let parser = XMLParser(data: Data(bytes))
        parser.shouldProcessNamespaces = true
        parser.shouldResolveExternalEntities = false
        parser.delegate = reader
        guard parser.parse(), reader.failure == nil else {
            throw LedgerError.invalid("document", reader.failure ?? "is not well-formed XML")
        }
        guard reader.namespace == pain001 else { throw LedgerError.invalid("document", "must be a pain.001.001.09 document (namespace \(pain001))") }
        guard let id = reader.messageId, !id.isEmpty, let date = BusinessDate(reader.executionDate) else {
            throw LedgerError.invalid("document", "has no GrpHdr/MsgId or PmtInf/ReqdExctnDt")
        }
        return Initiation(messageId: id, createdMs: reader.createdMs, executionDate: date, initiatingParty: reader.initiatingParty,
                          debtor: reader.debtor, transfers: reader.transfers)
    }

    // MARK: - camt.054

    /// One entry's transaction of a notification: which payment, how much, and what became of it.
    package struct Notified: Sendable, Equatable {
        package enum Outcome: String, Sendable { case booked, pending, returned }
        package var endToEndId: String
        package var amountFen: Int64
        package var outcome: Outcome
        /// The clearing system's reference (the CNAPS 支付交易序号), else the bank's own.
        package var reference: String?
        package var returnReason: String?

        package init(endToEndId: String, amountFen: Int64, outcome: Outcome, reference: String? = nil, returnReason: String? = nil) {
            self.endToEndId = endToEndId
            self.amountFen = amountFen
            self.outcome = outcome
            self.reference = reference
            self.returnReason = returnReason
        }
    }

    package struct Notification: Sendable, Equatable {
        package var messageId: String
        package var entries: [Notified]
    }

    /// Reads a `camt.054.001.08` document: every transaction of every entry, matched later by its
    /// end-to-end id. An entry `BOOK`ed with return information is a return; `PDNG` is pending.
    /// Anything that is not such a document is refused with what is wrong.
    package static func notification(_ bytes: [UInt8]) throws -> Notification {
        guard bytes.count <= maxNotificationBytes else {
            throw LedgerError(.payloadTooLarge, "a notification is at most \(maxNotificationBytes) bytes")
        }
        let reader = CamtReader()
        let parser = XMLParser(data: Data(bytes))
        parser.shouldProcessNamespaces = true
        parser.shouldResolveExternalEntities = false
        parser.delegate = reader
        guard parser.parse(), reader.failure == nil else {
            throw LedgerError.invalid("document", reader.failure ?? "is not well-formed XML (\(parser.parserError.map { String(describing: $0) } ?? "unreadable"))")
        }
        guard reader.namespace == camt054 else { throw LedgerError.invalid("document", "must be a camt.054.001.08 document (namespace \(camt054))") }
        guard let id = reader.messageId, !id.isEmpty else { throw LedgerError.invalid("document", "has no GrpHdr/MsgId") }
        return Notification(messageId: id, entries: reader.entries)
    }

    package static let maxNotificationBytes = 4 * 1024 * 1024

    /// A `camt.054.001.08` a bank sends of `account`: one entry per transaction, debited, booked or
    /// pending, a return with its reason code. What the platform's tests and its demo bank send.
    package static func notificationDocument(messageId: String, createdMs: Int64, account: String, entries: [Notified]) -> String {
        var x = XMLText()
        x.open("Document", attributes: [("xmlns", camt054)])
        x.open("BkToCstmrDbtCdtNtfctn")
        x.open("GrpHdr"); x.leaf("MsgId", messageId); x.leaf("CreDtTm", dateTime(createdMs)); x.close()
        x.open("Ntfctn")
        x.leaf("Id", messageId)
        x.open("Acct"); x.open("Id"); x.open("Othr"); x.leaf("Id", account); x.close(); x.close(); x.close()
        for e in entries {
            x.open("Ntry")
            x.leaf("Amt", yuan(e.amountFen), attributes: [("Ccy", "CNY")])
            x.leaf("CdtDbtInd", "DBIT")
            x.open("Sts"); x.leaf("Cd", e.outcome == .pending ? "PDNG" : "BOOK"); x.close()
            x.open("BkTxCd"); x.open("Domn"); x.leaf("Cd", "PMNT"); x.open("Fmly"); x.leaf("Cd", "ICDT"); x.leaf("SubFmlyCd", e.outcome == .returned ? "RRTN" : "DMCT"); x.close(); x.close(); x.close()
            x.open("NtryDtls"); x.open("TxDtls")
            x.open("Refs"); x.leaf("EndToEndId", e.endToEndId); if let r = e.reference { x.leaf("ClrSysRef", r) }; x.close()
            x.leaf("Amt", yuan(e.amountFen), attributes: [("Ccy", "CNY")])
            x.leaf("CdtDbtInd", "DBIT")
            if e.outcome == .returned { x.open("RtrInf"); x.open("Rsn"); x.leaf("Cd", e.returnReason ?? "NARR"); x.close(); x.close() }
            x.close(); x.close()
            x.close()
        }
        x.close(); x.close(); x.close()
        return x.text
    }
}

/// A SAX reader of the parts of a camt.054 the platform matches on.
private final class CamtReader: NSObject, XMLParserDelegate {
    package var namespace: String?
    package var messageId: String?
    package var entries: [ISO20022.Notified] = []
    package var failure: String?

    private var path: [String] = []
    private var text = ""
    private var entryStatus = "", entryReturned = false
    private var pendingInEntry: [ISO20022.Notified] = []
    private var tx: (e2e: String?, amount: String?, clearing: String?, servicer: String?, reason: String?) = (nil, nil, nil, nil, nil)
    private var entryAmount: String?

    package func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
        if path.isEmpty { namespace = namespaceURI; if name != "Document" { failure = "the root element must be Document" } }
        path.append(name)
        text = ""
        switch name {
        case "Ntry": entryStatus = ""; entryReturned = false; pendingInEntry = []; entryAmount = nil
        case "TxDtls": tx = (nil, nil, nil, nil, nil)
        case "RtrInf": entryReturned = true
        case "Amt", "InstdAmt", "TxAmt": if let ccy = attributes["Ccy"], ccy != "CNY" { failure = "amounts must be in CNY, not \(ccy)" }
        default: break
        }
    }

    package func parser(_ parser: XMLParser, foundCharacters string: String) { text += string }

    package func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        let value = text.trimmingCharacters(in: .whitespacesAndNewlines)
        let parent = path.count >= 2 ? path[path.count - 2] : ""
        switch name {
        case "MsgId" where parent == "GrpHdr": messageId = value
        case "Cd" where parent == "Sts": entryStatus = value
        case "Amt" where parent == "Ntry": entryAmount = value
        case "Amt" where parent == "TxDtls": tx.amount = value
        case "EndToEndId" where parent == "Refs": tx.e2e = value
        case "ClrSysRef" where parent == "Refs": tx.clearing = value
        case "AcctSvcrRef" where parent == "Refs": tx.servicer = value
        case "Cd" where parent == "Rsn" && path.contains("RtrInf"): tx.reason = value
        case "TxDtls":
            guard let e2e = tx.e2e, !e2e.isEmpty else { failure = failure ?? "a TxDtls has no Refs/EndToEndId"; break }
            pendingInEntry.append(ISO20022.Notified(endToEndId: e2e, amountFen: ISO20022.fen(tx.amount ?? "") ?? -1, outcome: .booked,
                                                    reference: tx.clearing ?? tx.servicer, returnReason: tx.reason))
        case "Ntry":
            let outcome: ISO20022.Notified.Outcome
            switch entryStatus {
            case "BOOK": outcome = entryReturned ? .returned : .booked
            case "PDNG": outcome = .pending
            default: failure = failure ?? "an entry's status must be BOOK or PDNG, not \(entryStatus.isEmpty ? "missing" : entryStatus)"; outcome = .pending
            }
            for var n in pendingInEntry {
                // One transaction in the entry: the entry's amount is its amount.
                if n.amountFen < 0, pendingInEntry.count == 1 { n.amountFen = ISO20022.fen(entryAmount ?? "") ?? -1 }
                guard n.amountFen >= 0 else { failure = failure ?? "the amount of \(n.endToEndId) is missing or not in yuan with at most two decimals"; continue }
                n.outcome = outcome
                entries.append(n)
            }
        default: break
        }
        path.removeLast()
        text = ""
    }

    package func parser(_ parser: XMLParser, parseErrorOccurred parseError: any Error) {
        failure = failure ?? "is not well-formed XML"
    }
}

/// A SAX reader of a pain.001: the debtor, and each transfer's id, amount and creditor.
private final class PainReader: NSObject, XMLParserDelegate {
    package var namespace: String?
    package var messageId: String?
    package var createdMs: Int64 = 0
    package var executionDate = ""
    package var initiatingParty = ""
    package var debtor = ISO20022.Account(number: "", name: "", bankCode: "")
    package var transfers: [ISO20022.Transfer] = []
    package var failure: String?

    private var path: [String] = []
    private var text = ""
    private var transfer = ISO20022.Transfer(endToEndId: "", amountFen: -1, creditor: ISO20022.Account(number: "", name: "", bankCode: ""), remittance: "")

    package func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
        if path.isEmpty { namespace = namespaceURI; if name != "Document" { failure = "the root element must be Document" } }
        path.append(name)
        text = ""
        if name == "CdtTrfTxInf" { transfer = ISO20022.Transfer(endToEndId: "", amountFen: -1, creditor: ISO20022.Account(number: "", name: "", bankCode: ""), remittance: "") }
        if name == "InstdAmt", attributes["Ccy"] != "CNY" { failure = failure ?? "amounts must be in CNY" }
    }

    package func parser(_ parser: XMLParser, foundCharacters string: String) { text += string }

    package func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        let value = text.trimmingCharacters(in: .whitespacesAndNewlines)
        let within = { (ancestor: String) in self.path.dropLast().contains(ancestor) }
        switch name {
        case "MsgId" where within("GrpHdr"): messageId = value
        case "CreDtTm" where within("GrpHdr"): createdMs = ISO8601DateFormatter().date(from: value).map { Int64($0.timeIntervalSince1970 * 1000) } ?? 0
        case "Nm" where within("InitgPty"): initiatingParty = value
        case "Dt" where within("ReqdExctnDt"): executionDate = value
        case "Nm" where within("Dbtr"): debtor.name = value
        case "Id" where within("DbtrAcct") && within("Othr"): debtor.number = value
        case "MmbId" where within("DbtrAgt"): debtor.bankCode = value
        case "EndToEndId": transfer.endToEndId = value
        case "InstdAmt": transfer.amountFen = ISO20022.fen(value) ?? -1
        case "MmbId" where within("CdtrAgt"): transfer.creditor.bankCode = value
        case "Nm" where within("Cdtr"): transfer.creditor.name = value
        case "Id" where within("CdtrAcct") && within("Othr"): transfer.creditor.number = value
        case "Ustrd": transfer.remittance = value
        case "CdtTrfTxInf":
            if transfer.endToEndId.isEmpty || transfer.amountFen < 0 || transfer.creditor.number.isEmpty {
                failure = failure ?? "a CdtTrfTxInf lacks its EndToEndId, its amount in yuan or its creditor's account"
            }
            transfers.append(transfer)
        default: break
        }
        path.removeLast()
        text = ""
    }

    package func parser(_ parser: XMLParser, parseErrorOccurred parseError: any Error) {
        failure = failure ?? "is not well-formed XML"
    }
}

/// XML written element by element, with text and attributes escaped.
package struct XMLText {
    package private(set) var text = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    private var stack: [String] = []

    package mutating func open(_ name: String, attributes: [(String, String)] = []) {
        text += indent + "<" + name + attributes.map { " \($0.0)=\"\(Self.escape($0.1))\"" }.joined() + ">\n"
        stack.append(name)
    }

    package mutating func close() {
        let name = stack.removeLast()
        text += indent + "</" + name + ">\n"
    }

    package mutating func leaf(_ name: String, _ value: String, attributes: [(String, String)] = []) {
        text += indent + "<" + name + attributes.map { " \($0.0)=\"\(Self.escape($0.1))\"" }.joined() + ">" + Self.escape(value) + "</" + name + ">\n"
    }

    private var indent: String { String(repeating: "  ", count: stack.count) }

    /// Escapes markup; drops the characters XML 1.0 cannot carry at all.
    package static func escape(_ s: String) -> String {
        var out = ""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default:
                let v = scalar.value
                if v == 0x9 || v == 0xA || v == 0xD || (0x20...0xD7FF).contains(v) || (0xE000...0xFFFD).contains(v) || v >= 0x10000 { out.unicodeScalars.append(scalar) }
            }
        }
        return out
    }
}
