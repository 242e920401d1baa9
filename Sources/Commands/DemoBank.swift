import Core
import Web
import Foundation
import Ledger
import Vapor

/// The demo's bank transfers: `cascade demo` starts `cascade bank-sandbox` as a process of its own
/// on two folders (an outbox and an inbox, beside an SQLite database or in the temporary
/// directory), connects the bank-transfer rail to them, and gives every demo org a bank account.
/// 沪上保理 pays its payouts by bank transfer; 江南商业银行 and 华东重工集团 by e-CNY (`DemoWallets`).
/// `CASCADE_DEMO_BANK=off` leaves the sandbox out; `CASCADE_BANK_RAIL_OUTBOX` names a link of
/// its own, and then the demo only opens the accounts.
enum DemoBank {
    /// Account numbers and their banks' CNAPS codes (12 digits).
    static let accounts: [(key: String, account: String, agent: String)] = [
        ("bank", "6222000011112222", "313301000001"), ("bank2", "6222000077778888", "313290000017"),
        ("core", "6222000099990000", "102301000002"), ("tier1", "6222000033334444", "313305000002"),
        ("tier2", "6222000055556666", "313302000003"), ("tier3", "6222000066667777", "313304000004"),
        ("core2", "6222000044445555", "102303000005"),
    ]

    /// The rail each paying org chose, set when the demo starts unless its admin chose since.
    static let payers: [(key: String, paysBy: PaysBy)] = [("bank", .ecny), ("core", .ecny), ("bank2", .bank)]

    static func start(_ app: Application, demoPort: Int, databasePath: String?, console: any Console) async throws -> Process? {
        var process: Process?
        if Environment.get("CASCADE_DEMO_BANK") != "off", (app.rails["bank"] as? BankTransferRail)?.outbox == nil {
            let folder = databasePath.map { $0 + ".bank-rail" } ?? FileManager.default.temporaryDirectory.appendingPathComponent("cascade-demo-\(demoPort)-bank-rail").path
            let outbox = folder + "/outbox", inbox = folder + "/inbox"
            try FileManager.default.createDirectory(atPath: outbox, withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: inbox, withIntermediateDirectories: true)
            process = try DemoWallets.spawn(["bank-sandbox", "--outbox", outbox, "--inbox", inbox, "--settle-ms", "1500"])
            app.rails["bank"] = BankTransferRail(outbox: outbox, inbox: inbox, keep: Environment.get("CASCADE_ISO20022_KEEP"))
            console.print("bank sandbox on \(folder): 沪上保理 pays out by bank transfer (pain.001 out, camt.054 back)")
        }
        try await open(app)
        return process
    }

    static func open(_ app: Application) async throws {
        let names = try await ReceivableQueries.orgNames(on: app.sql)
        func org(_ key: String) async throws -> OrgID? {
            try await OrgQueries.org(ofUserWithEmail: "\(key)@cascade.demo", on: app.sql)
        }
        for a in accounts {
            guard let id = try await org(a.key), try await PaymentAccounts.find(id, rail: "bank", on: app.sql) == nil else { continue }
            let agentOrg = a.key == "bank" || a.key == "bank2" ? id : nil
            let account = PaymentAccount(orgId: id, rail: "bank", account: a.account, accountName: names[id.description] ?? a.key, agent: a.agent, agentOrgId: agentOrg)
            try await PaymentAccounts.save(account, on: app.sql, nowMs: app.ledgerClock.nowMs())
        }
        for p in payers {
            guard let id = try await org(p.key), try await PaymentAccounts.choice(of: id, on: app.sql) == nil else { continue }
            try await PaymentAccounts.choose(p.paysBy, for: id, on: app.sql, nowMs: app.ledgerClock.nowMs())
        }
    }
}
