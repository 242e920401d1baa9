import Foundation
import Ledger
import SQLKit
import Testing
import VaporTesting

@testable import Core
@testable import Web
@testable import Commands

/// ISO 20022 as the bank-transfer rail writes and reads it. Every document made here is also
/// kept in `CASCADE_ISO20022_KEEP` when it is set, and `.ci/iso20022` checks them all against the
/// messages' schemas.
@Suite struct ISO20022Tests {
    static func keep(_ text: String, named name: String) throws {
        if let folder = ProcessInfo.processInfo.environment["CASCADE_ISO20022_KEEP"] { try BankTransferRail.write(text, named: name, in: folder) }
    }

    static let debtor = ISO20022.Account(number: "6222000011112222", name: "江南商业银行 <营业部> & \"总行\"", bankCode: "313301000001")

    @Test func aPaymentInitiationCarriesEveryTransferInFenAsYuan() throws {
        let transfers = [ISO20022.Transfer(endToEndId: String(repeating: "a", count: 32), amountFen: 99_125_00,
                                           creditor: ISO20022.Account(number: "6222000033334444", name: "苏州精密部件\u{0007}", bankCode: "313305000002"), remittance: "融资放款 CAS-1"),
                         ISO20022.Transfer(endToEndId: String(repeating: "b", count: 32), amountFen: 1,
                                           creditor: ISO20022.Account(number: "6222000055556666", name: "无锡铸造厂", bankCode: "313302000003"), remittance: String(repeating: "长", count: 300))]
        let text = ISO20022.document(ISO20022.Initiation(messageId: "CAS" + String(repeating: "0", count: 29), createdMs: 1_790_000_000_000, executionDate: BusinessDate("2026-12-01")!,
                                                        initiatingParty: "江南商业银行", debtor: Self.debtor, transfers: transfers))
        try Self.keep(text, named: "pain001-unit.xml")
        #expect(text.contains("<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pain.001.001.09\">"))
        #expect(text.contains("<NbOfTxs>2</NbOfTxs>") && text.contains("<CtrlSum>99125.01</CtrlSum>"))
        #expect(text.contains("<InstdAmt Ccy=\"CNY\">99125.00</InstdAmt>") && text.contains("<InstdAmt Ccy=\"CNY\">0.01</InstdAmt>"))
        // Markup in names is escaped; a control character XML cannot carry is dropped; remittance is cut to 140.
        #expect(text.contains("江南商业银行 &lt;营业部&gt; &amp; &quot;总行&quot;") && !text.contains("\u{0007}"))
        #expect(text.contains("<Ustrd>\(String(repeating: "长", count: 140))</Ustrd>"))
        #expect(text.contains("<MmbId>313305000002</MmbId>"))
    }

    @Test func aPaymentInitiationIsReadBackAsWritten() throws {
        let transfers = [ISO20022.Transfer(endToEndId: String(repeating: "c", count: 32), amountFen: 12_345_67,
                                           creditor: ISO20022.Account(number: "6222000033334444", name: "苏州精密部件 <一厂> & 二厂", bankCode: "313305000002"), remittance: "Cascade CAS-1 付款"),
                         ISO20022.Transfer(endToEndId: String(repeating: "d", count: 32), amountFen: 1,
                                           creditor: ISO20022.Account(number: "6222000055556666", name: "无锡铸造厂", bankCode: "313302000003"), remittance: "")]
        let written = ISO20022.Initiation(messageId: "CAS-READ-BACK", createdMs: 1_790_000_000_000, executionDate: BusinessDate("2026-12-01")!,
                                          initiatingParty: "江南商业银行", debtor: Self.debtor, transfers: transfers)
        #expect(try ISO20022.initiation(Array(ISO20022.document(written).utf8)) == written)
        let good = ISO20022.document(written)
        for bad in ["", "<Document/>", good.replacingOccurrences(of: "pain.001.001.09", with: "pain.001.001.03"),
                    good.replacingOccurrences(of: "Ccy=\"CNY\"", with: "Ccy=\"EUR\""), good.replacingOccurrences(of: ">12345.67<", with: ">12345.678<"),
                    good.replacingOccurrences(of: "<EndToEndId>\(String(repeating: "d", count: 32))</EndToEndId>", with: "")] {
            #expect(throws: LedgerError.self, "\(bad.prefix(60))") { try ISO20022.initiation(Array(bad.utf8)) }
        }
    }

    @Test func yuanTextIsReadExactlyOrNotAtAll() {
        #expect(ISO20022.fen("99125.00") == 99_125_00 && ISO20022.fen("0.5") == 50 && ISO20022.fen("12") == 1200)
        for bad in ["", "1.234", "-1.00", "1,000.00", "1e5", " 1.00", "１.00", "10000000000000000.00", "99999999999999999999"] {
            #expect(ISO20022.fen(bad) == nil, "\(bad)")
        }
        #expect(ISO20022.yuan(0) == "0.00" && ISO20022.yuan(5) == "0.05" && ISO20022.yuan(123_456_78) == "123456.78")
    }

    @Test func aNotificationIsReadEntryByEntry() throws {
        let entries = [ISO20022.Notified(endToEndId: "e1", amountFen: 100_00, outcome: .booked, reference: "CNAPS-20261201-0001", returnReason: nil),
                       ISO20022.Notified(endToEndId: "e2", amountFen: 5, outcome: .pending, reference: nil, returnReason: nil),
                       ISO20022.Notified(endToEndId: "e3", amountFen: 7_00, outcome: .returned, reference: "CNAPS-R-1", returnReason: "AC04")]
        let text = ISO20022.notificationDocument(messageId: "CAMT-UNIT-1", createdMs: 1_790_000_000_000, account: "6222000011112222", entries: entries)
        try Self.keep(text, named: "camt054-unit.xml")
        let read = try ISO20022.notification(Array(text.utf8))
        #expect(read == ISO20022.Notification(messageId: "CAMT-UNIT-1", entries: entries))
    }

    @Test func anythingButANotificationIsRefusedWithWhatIsWrong() throws {
        let good = ISO20022.notificationDocument(messageId: "M", createdMs: 0, account: "1", entries: [ISO20022.Notified(endToEndId: "e", amountFen: 1, outcome: .booked, reference: nil, returnReason: nil)])
        let hostile = [
            "", "not xml", "<Document/>",
            good.replacingOccurrences(of: "camt.054.001.08", with: "camt.053.001.08"),
            good.replacingOccurrences(of: "Ccy=\"CNY\"", with: "Ccy=\"USD\""),
            good.replacingOccurrences(of: "<Cd>BOOK</Cd>", with: "<Cd>INFO</Cd>"),
            good.replacingOccurrences(of: "<EndToEndId>e</EndToEndId>", with: ""),
            good.replacingOccurrences(of: ">0.01<", with: ">0.001<"),
            // An external entity is never fetched nor expanded.
            "<?xml version=\"1.0\"?><!DOCTYPE d [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>" + good.replacingOccurrences(of: "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", with: "").replacingOccurrences(of: "<MsgId>M</MsgId>", with: "<MsgId>&x;</MsgId>"),
        ]
        for text in hostile {
            #expect(throws: LedgerError.self, "\(text.prefix(80))") { try ISO20022.notification(Array(text.utf8)) }
        }
        #expect(throws: LedgerError.self) { try ISO20022.notification([UInt8](repeating: 0x20, count: ISO20022.maxNotificationBytes + 1)) }
    }
}

/// A financing's payout through the bank-transfer rail: instructed once approved, settled by the
/// bank's notification, then recorded on the ledger; nothing twice, and nobody else's.
@Suite struct PaymentTests {
    static let bankAccount = #"{"account":"6222000011112222","accountName":"江南商业银行","agent":"313301000001"}"#
    static let supplierAccount = #"{"account":"6222000033334444","accountName":"苏州精密部件","agent":"313305000002"}"#

    /// The demo with the bank-transfer rail writing into a folder of its own.
    static func with(_ body: (DemoPlatform, URL) async throws -> Void) async throws {
        try await DemoPlatform.with { d in
            let outbox = FileManager.default.temporaryDirectory.appendingPathComponent("cascade-outbox-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: outbox) }
            d.app.rails = ["bank": BankTransferRail(outbox: outbox.path, inbox: nil, keep: ProcessInfo.processInfo.environment["CASCADE_ISO20022_KEEP"])]
            try await body(d, outbox)
        }
    }

    static func connect(_ d: DemoPlatform) async throws {
        #expect(try await d.call("bank", .PUT, "/api/v1/orgs/\(d.orgs["bank"]!)/payment-accounts/bank", bankAccount).status == .ok)
        #expect(try await d.call("tier1", .PUT, "/api/v1/orgs/\(d.orgs["tier1"]!)/payment-accounts/bank", supplierAccount).status == .ok)
    }

    /// What the bank would send of its account for `payment`.
    static func notify(_ d: DemoPlatform, as who: String = "bank", _ entries: [ISO20022.Notified], id: String = UUID().uuidString) async throws -> DemoPlatform.Answer {
        let text = ISO20022.notificationDocument(messageId: id, createdMs: d.clock.nowMs(), account: "6222000011112222", entries: entries)
        try ISO20022Tests.keep(text, named: "camt054-\(id).xml")
        return try await d.call(who, .POST, "/api/v1/rails/bank/notifications", text, headers: ["Content-Type": "application/xml"])
    }

    @Test func anApprovedFinancingIsPaidOutThroughTheRailAndRecordedOnceSettled() async throws {
        try await Self.with { d, outbox in
            try await Self.connect(d)
            let f = try await ApprovalTests.request(d)
            let approved = try await d.call("bank", .POST, "/api/v1/financings/\(f)/approve")
            #expect(approved.status == .ok && approved["financing"]?["status"] == "approved")
            let listed = try await d.call("bank", .GET, "/api/v1/payments?financingId=\(f)").items
            #expect(listed.count == 1)
            let payment = try #require(listed.first)
            #expect(payment["kind"] == "payout" && payment["status"] == "instructed" && payment["rail"] == "bank")
            #expect(payment["payerId"] == .string(d.orgs["bank"]!.description) && payment["payeeId"] == .string(d.orgs["tier1"]!.description))
            #expect(payment["amountFen"] == approved["financing"]!["payoutFen"])
            let id = payment["id"]!.stringValue!
            #expect(id == Payment.id(.payout, paying: f, to: d.orgs["tier1"]!))
            // One pain.001 file in the outbox, for this payment.
            let files = try FileManager.default.contentsOfDirectory(atPath: outbox.path).filter { $0.hasSuffix(".xml") }
            #expect(files.count == 1)
            let file = try String(contentsOf: outbox.appendingPathComponent(files[0]), encoding: .utf8)
            #expect(file.contains("<EndToEndId>\(id)</EndToEndId>") && file.contains("<MmbId>313305000002</MmbId>"))
            // Nothing on the ledger yet: the money has not arrived.
            #expect(try await d.call("bank", .GET, "/api/v1/financings/\(f)")["status"] == "approved")

            let amount = payment["amountFen"]!.intValue!
            let height = await d.height
            // Pending, then booked: the payout is recorded on the ledger with the clearing reference.
            #expect(try await Self.notify(d, [ISO20022.Notified(endToEndId: id, amountFen: amount, outcome: .pending, reference: nil, returnReason: nil)])["entries"]?.arrayValue?.first?["applied"] == true)
            let booked = try await Self.notify(d, [ISO20022.Notified(endToEndId: id, amountFen: amount, outcome: .booked, reference: "CNAPS-20261201-7", returnReason: nil)], id: "CAMT-BOOKED")
            #expect(booked.status == .ok && booked["entries"]?.arrayValue?.first?["applied"] == true, "\(booked.json)")
            #expect(try await d.call("bank", .GET, "/api/v1/financings/\(f)")["status"] == "paid")
            #expect(await d.height == height + 1)
            let shown = try await d.call("tier1", .GET, "/api/v1/payments/\(id)")
            #expect(shown["status"] == "settled" && shown["reference"] == "CNAPS-20261201-7" && shown["transactionId"]?.stringValue != nil)
            #expect(shown["history"]?.arrayValue?.map { $0["status"] } == ["instructed", "accepted", "settled", "settled"])
            // The same file again, and a late "pending": nothing changes, nothing is recorded twice.
            let again = try await Self.notify(d, [ISO20022.Notified(endToEndId: id, amountFen: amount, outcome: .booked, reference: "CNAPS-20261201-7", returnReason: nil)], id: "CAMT-BOOKED")
            #expect(again["entries"]?.arrayValue?.first?["applied"] == false)
            #expect(try await Self.notify(d, [ISO20022.Notified(endToEndId: id, amountFen: amount, outcome: .pending, reference: nil, returnReason: nil)])["entries"]?.arrayValue?.first?["applied"] == false)
            #expect(await d.height == height + 1)
            // Who sees it: payer, payee, regulator; not a neighbour.
            #expect(try await d.call("regulator", .GET, "/api/v1/payments/\(id)").status == .ok)
            #expect(try await d.call("tier2", .GET, "/api/v1/payments/\(id)").status == .notFound)
            #expect(try await d.call("tier2", .GET, "/api/v1/payments").items.isEmpty)
            #expect(try await d.chainAgrees())
        }
    }

    @Test func aNotificationChangesOnlyTheBanksOwnPaymentsAndOnlyForTheirAmount() async throws {
        try await Self.with { d, _ in
            try await Self.connect(d)
            let f = try await ApprovalTests.request(d)
            _ = try await d.call("bank", .POST, "/api/v1/financings/\(f)/approve")
            let payment = try await d.call("bank", .GET, "/api/v1/payments?financingId=\(f)").items[0]
            let id = payment["id"]!.stringValue!, amount = payment["amountFen"]!.intValue!
            // Another bank's notification of it, a wrong amount, an unknown id: nothing moves.
            let other = try await Self.notify(d, as: "bank2", [ISO20022.Notified(endToEndId: id, amountFen: amount, outcome: .booked, reference: "X", returnReason: nil)])
            #expect(other["entries"]?.arrayValue?.first?["applied"] == false)
            let wrong = try await Self.notify(d, [ISO20022.Notified(endToEndId: id, amountFen: amount + 1, outcome: .booked, reference: "X", returnReason: nil),
                                                  ISO20022.Notified(endToEndId: String(repeating: "f", count: 32), amountFen: 1, outcome: .booked, reference: nil, returnReason: nil)])
            #expect(wrong["entries"]?.arrayValue?.map { $0["applied"] } == [false, false])
            #expect(try await d.call("bank", .GET, "/api/v1/payments/\(id)")["status"] == "instructed")
            // Not a bank, a malformed document, no body.
            #expect(try await Self.notify(d, as: "tier1", []).status == .forbidden)
            #expect(try await d.call("bank", .POST, "/api/v1/rails/bank/notifications", "<nope/>", headers: ["Content-Type": "application/xml"]).code == "validation_failed")
            #expect(try await d.call("bank", .POST, "/api/v1/rails/bank/notifications").code == "validation_failed")
            // A return: the payment is returned with its reason, and the financing stays approved.
            #expect(try await Self.notify(d, [ISO20022.Notified(endToEndId: id, amountFen: amount, outcome: .returned, reference: "R-1", returnReason: "AC04")])["entries"]?.arrayValue?.first?["applied"] == true)
            let returned = try await d.call("bank", .GET, "/api/v1/payments/\(id)")
            #expect(returned["status"] == "returned" && returned["reason"] == "AC04")
            #expect(try await d.call("bank", .GET, "/api/v1/financings/\(f)")["status"] == "approved")
            // The bank pays it again, as a new attempt; the supplier and another bank may not.
            #expect(try await d.call("tier1", .POST, "/api/v1/payments/\(id)/retry").status == .forbidden)
            #expect(try await d.call("bank2", .POST, "/api/v1/payments/\(id)/retry").status == .notFound)
            // Six clicks at once pay it again once: the next attempt's id is derived, so they all find the same one.
            let clicks = try await withThrowingTaskGroup(of: DemoPlatform.Answer.self) { group in
                for _ in 0..<6 { group.addTask { try await d.call("bank", .POST, "/api/v1/payments/\(id)/retry") } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let again = try #require(clicks.first { $0.status == .created })
            #expect(clicks.allSatisfy { $0.status == .created || $0.code == "financing_not_open" }, "\(clicks.map(\.status))")
            #expect(Set(clicks.filter { $0.status == .created }.compactMap { $0["id"]?.stringValue }).count == 1)
            #expect(again["id"] != .string(id) && again["status"] == "instructed" && again["amountFen"] == .int(amount), "\(again.json)")
            #expect(try await d.call("bank", .POST, "/api/v1/payments/\(id)/retry").code == "financing_not_open")
            #expect(try await d.call("bank", .GET, "/api/v1/payments?financingId=\(f)").items.count == 2)
        }
    }

    /// The host-to-host link end to end: the platform's pain.001 in the outbox, the sandbox bank
    /// taking it and leaving camt.054s in the inbox (each twice, and a stale pending one after the
    /// booking), the platform reading them. One transfer returned, then paid again.
    @Test func theFolderLinkCarriesPayoutsToTheBankAndItsNotificationsBack() async throws {
        try await DemoPlatform.with { d in
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cascade-link-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: folder) }
            let outbox = folder.appendingPathComponent("outbox").path, inbox = folder.appendingPathComponent("inbox").path
            d.app.rails = ["bank": BankTransferRail(outbox: outbox, inbox: inbox, keep: ProcessInfo.processInfo.environment["CASCADE_ISO20022_KEEP"])]
            let bank = BankSandbox(outbox: outbox, inbox: inbox, faults: BankSandbox.Faults(duplicateRate: 1, reorderRate: 1, settleMs: 1000), seed: 3, stateFile: nil)
            try await Self.connect(d)
            let f = try await ApprovalTests.request(d, fen: 50_000_00)
            #expect(try await d.call("bank", .POST, "/api/v1/financings/\(f)/approve").status == .ok)
            let payment = try await d.call("bank", .GET, "/api/v1/payments?financingId=\(f)").items[0]
            let id = payment["id"]!.stringValue!, amount = payment["amountFen"]!.intValue!
            #expect(try await bank.pass(nowMs: 1_000) == 2)  // pending, and the same again
            try await PaymentService.readInboxes(d.app)
            #expect(try await d.call("bank", .GET, "/api/v1/payments/\(id)")["status"] == "accepted")
            // Handed over again (as the sweep does after a lost answer): the bank books it once.
            try await d.app.sql.raw("UPDATE rail_messages SET delivered_ms = NULL").run()
            try await PaymentService.sweep(d.app)
            #expect(try FileManager.default.contentsOfDirectory(atPath: outbox).contains { $0.hasSuffix(".xml") })
            #expect(try await bank.pass(nowMs: 1_500) == 0)
            #expect(try await bank.pass(nowMs: 2_001) == 4)  // booked twice, the stale pending twice
            let height = await d.height
            try await PaymentService.readInboxes(d.app)
            let shown = try await d.call("tier1", .GET, "/api/v1/payments/\(id)")
            #expect(shown["status"] == "settled" && shown["reference"]?.stringValue?.hasPrefix("CNAPS") == true, "\(shown.json)")
            #expect(try await d.call("bank", .GET, "/api/v1/financings/\(f)")["status"] == "paid")
            #expect(await d.height == height + 1)
            #expect(await bank.balance("6222000011112222") == -amount)
            #expect(await bank.balance("6222000033334444") == amount)
            #expect(try FileManager.default.contentsOfDirectory(atPath: inbox).filter { $0.hasSuffix(".xml") }.isEmpty)
            #expect(try FileManager.default.contentsOfDirectory(atPath: inbox + "/done").count == 6)

            // Every transfer returned: the payout stays approved, with the bank's reason, until paid again.
            await bank.setFaults(BankSandbox.Faults(returnRate: 1, settleMs: 0))
            let g = try await ApprovalTests.request(d, fen: 50_000_00)
            #expect(try await d.call("bank", .POST, "/api/v1/financings/\(g)/approve").status == .ok)
            try await bank.pass(nowMs: 3_000)
            try await PaymentService.readInboxes(d.app)
            let returned = try await d.call("bank", .GET, "/api/v1/payments?financingId=\(g)").items[0]
            #expect(returned["status"] == "returned" && returned["reason"] == "AC04", "\(returned)")
            #expect(try await d.call("bank", .GET, "/api/v1/financings/\(g)")["status"] == "approved")
            await bank.setFaults(BankSandbox.Faults(settleMs: 0))
            // The console: the payment with what the bank reported, and for its payer the button that pays it again.
            let returnedId = returned["id"]!.stringValue!
            let banker = try await ConsoleTests.session(d, "bank"), supplier = try await ConsoleTests.session(d, "tier1")
            let page = try await ConsoleTests.get(d, banker, "/payments/\(returnedId)")
            #expect(page.status == .ok && page.html.contains("id=\"retry\"") && page.html.contains("AC04") && page.html.contains("CNAPS"), "\(page.html.prefix(300))")
            let seen = try await ConsoleTests.get(d, supplier, "/payments/\(returnedId)")
            #expect(seen.status == .ok && !seen.html.contains("id=\"retry\""))
            #expect(try await ConsoleTests.get(d, try await ConsoleTests.session(d, "tier2"), "/payments/\(returnedId)").status == .notFound)
            #expect(try await ConsoleTests.post(d, supplier, "/payments/\(returnedId)/retry", [:]).status == .forbidden)
            let retried = try await ConsoleTests.post(d, banker, "/payments/\(returnedId)/retry", [:])
            let location = retried.headers.first(name: .location) ?? ""
            #expect(retried.status == .seeOther && location.hasPrefix("/payments/") && !location.contains(returnedId), "\(retried.status) \(location)")
            let attempt = try await ConsoleTests.get(d, banker, String(location.prefix { $0 != "?" }))
            #expect(attempt.html.contains("id=\"payment-attempts\"") && !attempt.html.contains("id=\"retry\""))
            #expect(try await ConsoleTests.post(d, banker, "/payments/\(returnedId)/retry", [:]).status == .conflict)
            try await bank.pass(nowMs: 4_000)
            try await PaymentService.readInboxes(d.app)
            #expect(try await d.call("bank", .GET, "/api/v1/financings/\(g)")["status"] == "paid")
            let paid = try await d.call("bank", .GET, "/api/v1/financings/\(g)")["payoutFen"]!.intValue!
            #expect(await bank.balance("6222000033334444") == amount + paid)
            #expect(try await d.chainAgrees())
        }
    }

    /// 收付款账户 in the console: the org's admin sets its accounts and the rail it pays by; a checker
    /// reads them and changes nothing; the regulator has no such page.
    @Test func anAdminSetsTheAccountsAndTheRailInTheConsole() async throws {
        try await DemoPlatform.with { d in
            let bank = d.orgs["bank"]!
            let admin = try await ConsoleTests.session(d, "bank")
            let page = try await ConsoleTests.get(d, admin, "/payment-settings")
            #expect(page.status == .ok && page.html.contains("id=\"pays-by\"") && page.html.contains("id=\"save-account-bank\""))
            let saved = try await ConsoleTests.post(d, admin, "/payment-settings/accounts/bank",
                                                    ["account": "6222000011112222", "accountName": "江南商业银行", "agent": "313301000001", "agentOrgId": ""])
            #expect(saved.status == .seeOther, "\(saved.html.prefix(400))")
            #expect(try await PaymentAccounts.find(bank, rail: "bank", on: d.app.sql)?.agent == "313301000001")
            let refused = try await ConsoleTests.post(d, admin, "/payment-settings/accounts/bank", ["account": "6222", "accountName": "x", "agent": "123"])
            #expect(refused.status == .unprocessableEntity && refused.html.contains("12"))
            #expect(try await PaymentAccounts.find(bank, rail: "bank", on: d.app.sql)?.account == "6222000011112222")
            #expect(try await ConsoleTests.post(d, admin, "/payment-settings/rail", ["rail": "manual"]).status == .seeOther)
            #expect(try await PaymentAccounts.choice(of: bank, on: d.app.sql) == .manual)
            #expect(try await ConsoleTests.post(d, admin, "/payment-settings/rail", ["rail": "cash"]).status == .unprocessableEntity)
            #expect(try await ConsoleTests.post(d, admin, "/payment-settings/rail", ["rail": "either"]).status == .seeOther)
            #expect(try await PaymentAccounts.choice(of: bank, on: d.app.sql) == nil)
            // A checker reads, and may change nothing.
            let checker = try await ConsoleTests.session(d, "bank-checker")
            let read = try await ConsoleTests.get(d, checker, "/payment-settings")
            #expect(read.status == .ok && read.html.contains("6222000011112222") && !read.html.contains("id=\"save-rail\""))
            #expect(try await ConsoleTests.post(d, checker, "/payment-settings/rail", ["rail": "manual"]).status == .forbidden)
            #expect(try await PaymentAccounts.choice(of: bank, on: d.app.sql) == nil)
            // The regulator neither pays nor is paid: no page, and no accounts through the API either.
            #expect(try await ConsoleTests.get(d, try await ConsoleTests.session(d, "regulator"), "/payment-settings").status == .notFound)
            #expect(try await d.call("regulator", .PUT, "/api/v1/orgs/\(d.orgs["regulator"]!)/payment-rail", #"{"rail":"bank"}"#).status == .forbidden)
            #expect(try await d.call("regulator", .PUT, "/api/v1/orgs/\(d.orgs["regulator"]!)/payment-accounts/ecny", #"{"account":"W-REG","accountName":"x"}"#).status == .forbidden)
        }
    }

    /// The sandbox bank, stopped and started again on its state file, keeps its end-to-end ids:
    /// the same file handed over again is not booked twice.
    @Test func theSandboxBankStartedAgainBooksNothingTwice() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cascade-sandbox-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let outbox = folder.appendingPathComponent("outbox").path, inbox = folder.appendingPathComponent("inbox").path, state = folder.appendingPathComponent("bank.json").path
        let creditor = ISO20022.Account(number: "6222000033334444", name: "苏州精密部件", bankCode: "313305000002")
        let document = ISO20022.document(ISO20022.Initiation(messageId: "CAS-RESTART", createdMs: 0, executionDate: BusinessDate("2026-12-01")!, initiatingParty: "江南商业银行",
                                                             debtor: ISO20022Tests.debtor, transfers: [ISO20022.Transfer(endToEndId: "e1", amountFen: 100_00, creditor: creditor, remittance: "")]))
        try BankTransferRail.write(document, named: "CAS-RESTART.xml", in: outbox)
        let first = BankSandbox(outbox: outbox, inbox: inbox, faults: BankSandbox.Faults(settleMs: 0), seed: 1, stateFile: state)
        #expect(try await first.pass(nowMs: 1_000) == 2)  // pending and booked
        try BankTransferRail.write(document, named: "CAS-RESTART.xml", in: outbox)
        let again = BankSandbox(outbox: outbox, inbox: inbox, faults: BankSandbox.Faults(settleMs: 0), seed: 1, stateFile: state)
        #expect(try await again.pass(nowMs: 2_000) == 0)
        #expect(await again.balance("6222000033334444") == 100_00)
        #expect(await again.transfer("e1")?.status == "settled")
    }

    @Test func withoutAConnectedRailThePayoutIsConfirmedByHand() async throws {
        try await Self.with { d, outbox in
            // Only the bank has an account: the supplier has none, so nothing is instructed.
            #expect(try await d.call("bank", .PUT, "/api/v1/orgs/\(d.orgs["bank"]!)/payment-accounts/bank", Self.bankAccount).status == .ok)
            let f = try await ApprovalTests.request(d)
            _ = try await d.call("bank", .POST, "/api/v1/financings/\(f)/approve")
            #expect(try await d.call("bank", .GET, "/api/v1/payments?financingId=\(f)").items.isEmpty)
            #expect(!FileManager.default.fileExists(atPath: outbox.path))
            #expect(try await d.call("bank", .POST, "/api/v1/financings/\(f)/confirm-payout", #"{"reference":"MANUAL-1"}"#)["financing"]?["status"] == "paid")
            // Bad accounts are refused; only the org's admins set them.
            for bad in [#"{"account":"","accountName":"x","agent":"313301000001"}"#, #"{"account":"1","accountName":"x","agent":"31330"}"#,
                        #"{"account":"1","accountName":" ","agent":"313301000001"}"#, #"{"account":"1<2","accountName":"x","agent":"313301000001"}"#,
                        #"{"account":"1","accountName":"x","agent":"313301000001","agentOrgId":"\#(d.orgs["tier1"]!)"}"#] {
                #expect(try await d.call("tier1", .PUT, "/api/v1/orgs/\(d.orgs["tier1"]!)/payment-accounts/bank", bad).status == .unprocessableEntity, "\(bad)")
            }
            #expect(try await d.call("tier2", .PUT, "/api/v1/orgs/\(d.orgs["tier1"]!)/payment-accounts/bank", Self.supplierAccount).status == .forbidden)
            #expect(try await d.call("tier1", .PUT, "/api/v1/orgs/\(d.orgs["tier1"]!)/payment-accounts/cash", Self.supplierAccount).status == .notFound)
        }
    }

    @Test func theSweepInstructsWhatWasMissedAndNeverTwice() async throws {
        try await Self.with { d, outbox in
            let f = try await ApprovalTests.request(d)
            // Approved before the accounts were set (as if the server stopped before instructing).
            _ = try await d.call("bank", .POST, "/api/v1/financings/\(f)/approve")
            try await Self.connect(d)
            try await PaymentService.sweep(d.app)
            try await PaymentService.sweep(d.app)
            let payments = try await d.call("bank", .GET, "/api/v1/payments?financingId=\(f)").items
            #expect(payments.count == 1)
            let id = payments[0]["id"]!.stringValue!
            // A file never delivered (the process stopped after storing it) goes out on the next sweep.
            try FileManager.default.removeItem(at: outbox)
            try await d.app.sql.raw("UPDATE rail_messages SET delivered_ms = NULL").run()
            try await PaymentService.sweep(d.app)
            #expect(try FileManager.default.contentsOfDirectory(atPath: outbox.path).filter { $0.hasSuffix(".xml") }.count == 1)
            // Settled but not yet on the ledger (the server stopped in between): the sweep records it, once.
            _ = try await PaymentStore.move(id, to: .settled, reference: "CNAPS-S-1", reason: nil, source: "bank", detail: "test", nowMs: d.clock.nowMs(), on: d.app.db)
            let height = await d.height
            try await PaymentService.sweep(d.app)
            try await PaymentService.sweep(d.app)
            #expect(await d.height == height + 1)
            #expect(try await d.call("bank", .GET, "/api/v1/financings/\(f)")["status"] == "paid")
            #expect(try await d.chainAgrees())
        }
    }

    @Test func atMaturityEveryHolderIsPaidThroughTheRailAndEachPieceSettledAsItArrives() async throws {
        try await Self.with { d, outbox in
            let first = try await d.call("core", .GET, "/api/v1/receivables?status=active").items.first { $0["faceFen"] == .int(1_000_000_00) && $0["dueDate"] == "2026-11-30" }!
            let rid = first["id"]!.stringValue!
            // The core keeps its account at 江南商业银行, which sends the account's notifications.
            #expect(try await d.call("core", .PUT, "/api/v1/orgs/\(d.orgs["core"]!)/payment-accounts/bank",
                                     #"{"account":"6222000099990000","accountName":"华东重工集团","agent":"313301000001","agentOrgId":"\#(d.orgs["bank"]!)"}"#).status == .ok)
            for (who, n) in [("tier1", "1"), ("tier2", "2")] {
                #expect(try await d.call(who, .PUT, "/api/v1/orgs/\(d.orgs[who]!)/payment-accounts/bank", #"{"account":"62220000\#(n)","accountName":"\#(who)","agent":"313305000002"}"#).status == .ok)
            }
            _ = try await d.call("operator", .POST, "/api/v1/admin/clock", #"{"today":"2026-11-30"}"#)
            // A holder without an account: nothing is instructed, and the answer names it.
            let missing = try await d.call("core", .POST, "/api/v1/receivables/\(rid)/settle", #"{"reference":"SETTLE-R-1"}"#)
            #expect(missing.code == "invalid_counterparty" && missing["detail"]?.stringValue?.contains("常州五金加工") == true, "\(missing.json)")
            #expect(!FileManager.default.fileExists(atPath: outbox.path))
            #expect(try await d.call("tier3", .PUT, "/api/v1/orgs/\(d.orgs["tier3"]!)/payment-accounts/bank", #"{"account":"622200003","accountName":"tier3","agent":"313305000002"}"#).status == .ok)
            let height = await d.height
            let instructed = try await d.call("core", .POST, "/api/v1/receivables/\(rid)/settle", #"{"reference":"SETTLE-R-1"}"#)
            #expect(instructed.status == .accepted, "\(instructed.json)")
            let payments = instructed["payments"]?.arrayValue ?? []
            #expect(payments.count == 3 && payments.compactMap { $0["amountFen"]?.intValue }.reduce(0, +) == 1_000_000_00)
            #expect(Set(payments.compactMap { $0["payeeId"]?.stringValue }) == Set(["tier1", "tier2", "tier3"].map { d.orgs[$0]!.description }))
            #expect(await d.height == height)  // nothing on the ledger until the money arrives
            // Settling again while they are on their way instructs nothing more.
            #expect(try await d.call("core", .POST, "/api/v1/receivables/\(rid)/settle", #"{"reference":"SETTLE-R-1"}"#)["payments"]?.arrayValue?.count == 3)
            #expect(try FileManager.default.contentsOfDirectory(atPath: outbox.path).filter { $0.hasSuffix(".xml") }.count == 1)
            // The bank keeping the core's account takes the instruction through the API too; no other bank, no supplier.
            let listed = try await d.call("bank", .GET, "/api/v1/rails/bank/instructions").items
            let message = try #require(listed.first { $0["payerId"] == .string(d.orgs["core"]!.description) })
            let document = try await d.call("bank", .GET, message["href"]!.stringValue!)
            #expect(document.status == .ok && document.headers.contentType?.subType == "xml")
            #expect(payments.allSatisfy { p in document.text.contains("<EndToEndId>\(p["id"]!.stringValue!)</EndToEndId>") })
            #expect(try ISO20022.initiation(Array(document.text.utf8)).transfers.count == 3)
            #expect(try await d.call("bank2", .GET, "/api/v1/rails/bank/instructions").items.isEmpty)
            #expect(try await d.call("bank2", .GET, message["href"]!.stringValue!).status == .notFound)
            #expect(try await d.call("tier1", .GET, "/api/v1/rails/bank/instructions").status == .forbidden)
            #expect(try await d.call("regulator", .GET, "/api/v1/rails/bank/instructions").items.count == listed.count)
            #expect(try await d.call("bank", .GET, "/api/v1/rails/bank/instructions/not-an-id").status == .unprocessableEntity)

            func entry(_ payee: String, _ outcome: ISO20022.Notified.Outcome, _ ref: String) -> ISO20022.Notified {
                let p = payments.first { $0["payeeId"] == .string(d.orgs[payee]!.description) }!
                return ISO20022.Notified(endToEndId: p["id"]!.stringValue!, amountFen: p["amountFen"]!.intValue!, outcome: outcome, reference: ref, returnReason: outcome == .returned ? "AC04" : nil)
            }
            let taken = try await Self.notify(d, [entry("tier1", .booked, "C-1"), entry("tier2", .booked, "C-2"), entry("tier3", .returned, "C-3")])
            #expect(taken["entries"]?.arrayValue?.map { $0["applied"] } == [true, true, true], "\(taken.json)")
            #expect(await d.height == height + 2)
            let receivable = try await d.call("core", .GET, "/api/v1/receivables/\(rid)")
            #expect(receivable["status"] == "active" && receivable["paidFen"] == .int(850_000_00), "\(receivable.json)")
            // The returned piece shows with its reason, and settling again retries it alone, as a new payment.
            let returned = try await d.call("core", .GET, "/api/v1/payments?receivableId=\(rid)&status=returned").items
            #expect(returned.count == 1 && returned[0]["reason"] == "AC04")
            let retry = try await d.call("core", .POST, "/api/v1/receivables/\(rid)/settle", #"{"reference":"SETTLE-R-2"}"#)
            let retried = retry["payments"]?.arrayValue ?? []
            #expect(retry.status == .accepted && retried.count == 1 && retried[0]["id"] != returned[0]["id"] && retried[0]["status"] == "instructed", "\(retry.json)")
            _ = try await Self.notify(d, [ISO20022.Notified(endToEndId: retried[0]["id"]!.stringValue!, amountFen: 150_000_00, outcome: .booked, reference: "C-4", returnReason: nil)])
            #expect(try await d.call("core", .GET, "/api/v1/receivables/\(rid)")["status"] == "settled")
            #expect(try await d.call("tier3", .GET, "/api/v1/payments?receivableId=\(rid)").items.count == 2)
            // The day reconciles: four instructed (one a retry), three settled and one returned on
            // the rail; four pieces on the ledger through it; no difference.
            let day = try await d.call("core", .GET, "/api/v1/reconciliation?date=2026-11-30")
            #expect(day["rail"]?["instructed"]?["count"] == 4 && day["rail"]?["settled"]?["count"] == 3 && day["rail"]?["returned"]?["count"] == 1, "\(day.json)")
            #expect(day["rail"]?["settled"]?["amountFen"] == .int(1_000_000_00) && day["ledger"]?["viaRail"]?["amountFen"] == .int(1_000_000_00))
            #expect(day["differences"] == .array([]) && day["balanced"] == true)
            #expect(try await d.call("tier3", .GET, "/api/v1/reconciliation?date=2026-11-30")["rail"]?["settled"]?["amountFen"] == .int(150_000_00))
            #expect(try await d.chainAgrees())
        }
    }

    @Test func reconciliationFlagsEveryDifferenceAndFixesNone() async throws {
        try await Self.with { d, _ in
            try await Self.connect(d)
            d.clock.advance(minutes: 1)  // the demo's own payout, before the accounts, was not expected on a rail
            let today = d.app.businessDate.description
            // A connected bank confirms a payout by hand: a ledger record with no payment behind it.
            let f = try await ApprovalTests.request(d)
            _ = try await d.call("bank", .POST, "/api/v1/financings/\(f)/approve")
            let payment = try await d.call("bank", .GET, "/api/v1/payments?financingId=\(f)").items[0]
            #expect(try await d.call("bank", .POST, "/api/v1/financings/\(f)/confirm-payout", #"{"reference":"BY-HAND"}"#)["financing"]?["status"] == "paid")
            // Then the rail settles it too: the ledger refuses a second record, and the payment shows unrecorded.
            _ = try await Self.notify(d, [ISO20022.Notified(endToEndId: payment["id"]!.stringValue!, amountFen: payment["amountFen"]!.intValue!, outcome: .booked, reference: "C-9", returnReason: nil)])
            let shown = try await d.call("bank", .GET, "/api/v1/payments/\(payment["id"]!.stringValue!)")
            #expect(shown["status"] == "settled" && shown["transactionId"] == .null)
            #expect(shown["history"]?.arrayValue?.last?["detail"]?.stringValue?.contains("the ledger refused confirmPayout") == true)
            let report = try await d.call("bank", .GET, "/api/v1/reconciliation?date=\(today)")
            let kinds = report["differences"]?.arrayValue?.compactMap { $0["kind"]?.stringValue }.sorted()
            #expect(kinds == ["ledger_record_without_payment", "settled_without_ledger_record"], "\(report.json)")
            #expect(report["balanced"] == false)
            // Nothing was fixed: the payment still has no ledger record, the chain is as it was.
            #expect(try await d.call("bank", .GET, "/api/v1/payments/\(payment["id"]!.stringValue!)")["transactionId"] == .null)
            // Another org's report does not show the bank's business; the regulator's shows everything.
            #expect(try await d.call("tier2", .GET, "/api/v1/reconciliation?date=\(today)")["differences"] == .array([]))
            #expect(try await d.call("regulator", .GET, "/api/v1/reconciliation?date=\(today)")["differences"]?.arrayValue?.count == 2)
            #expect(try await d.call("bank", .GET, "/api/v1/reconciliation?date=2026-02-30").code == "validation_failed")
            // The CSV: UTF-8 with a byte-order mark, one line per total and per difference.
            var csv = ""
            try await d.app.testing().test(.GET, "/api/v1/exports/reconciliation.csv?date=\(today)", headers: ["Authorization": "Bearer \(d.keys["bank"]!)"]) { res in
                #expect(res.status == .ok && Array(res.body.readableBytesView.prefix(3)) == [0xEF, 0xBB, 0xBF])
                csv = String(buffer: res.body)
            }
            #expect(csv.contains("difference: settled_without_ledger_record") && csv.contains("difference: ledger_record_without_payment"))
            // The console shows the same day, differences and all, and the payment with its state.
            let page = try await ConsoleTests.get(d, try await ConsoleTests.session(d, "bank"), "/reconciliation?date=\(today)")
            #expect(page.status == .ok && page.html.contains("id=\"differences\"") && page.html.contains("Settled, not on the ledger"))
            #expect(page.html.contains("data-payment-id=\"\(payment["id"]!.stringValue!)\""))
            #expect(try await d.chainAgrees())
        }
    }
}
