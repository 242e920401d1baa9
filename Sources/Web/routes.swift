import Core
import Fluent
import Ledger
import SQLKit
import Vapor

/// Every route, in one place. Every route but login, the node status, the OpenAPI document
/// and self-signed transactions needs a bearer credential; every POST takes `Idempotency-Key`.
package func routes(_ app: Application) throws {
    let api = app.grouped("api", "v1")

    do {  // anyone
        api.get("node", "status", use: NodeController.status)
        api.get("openapi.yaml", use: NodeController.openAPI)
        // The transaction log's head and consistency proofs: what witnesses and auditors read.
        api.get("log", "checkpoint", use: LogController.checkpoint)
        api.get("log", "consistency", use: LogController.consistency)
        api.post("auth", "login", use: AuthController.login)
        // 信息披露 is public, as the market that prices the paper is.
        api.get("disclosures", use: DisclosureController.list)
        api.get("disclosures", ":orgId", use: DisclosureController.show)
        api.get("exports", "disclosures.csv", use: DisclosureController.csv)
        // Any org with its own registered key: the signature is the credential.
        api.on(.POST, "transactions", body: .collect(maxSize: "64kb"), use: TransactionController.submit)
    }

    let signedIn = api.grouped(BearerAuthenticator(), RequireCaller(), IdempotencyMiddleware(maxBodyBytes: TransactionController.maxBodyBytes))

    do {  // sessions for scripts
        signedIn.post("auth", "logout", use: AuthController.logout)
        signedIn.post("auth", "password", use: AuthController.changePassword)
        signedIn.get("me", use: AuthController.me)
        signedIn.post("auth", "reauthenticate", use: AuthController.reauthenticate)
        signedIn.post("auth", "two-factor", use: AuthController.enrolTwoFactor)
        signedIn.post("auth", "two-factor", "confirm", use: AuthController.confirmTwoFactor)
    }

    do {  // onboarding: orgs, people, keys, policy
        signedIn.get("orgs", use: OrgController.list)
        signedIn.post("orgs", use: OrgController.create)
        signedIn.get("orgs", ":id", use: OrgController.show)
        signedIn.get("orgs", ":id", "exposure", use: ExposureController.show)
        signedIn.get("monitoring", use: MonitoringController.show)
        signedIn.post("orgs", ":id", "suspend", use: OrgController.suspend)
        signedIn.post("orgs", ":id", "activate", use: OrgController.activate)
        signedIn.post("orgs", ":id", "default", use: OrgController.recordDefault)
        signedIn.get("orgs", ":id", "users", use: UserController.list)
        signedIn.post("orgs", ":id", "users", use: UserController.create)
        signedIn.post("orgs", ":id", "users", ":userId", "disable", use: UserController.disable)
        signedIn.post("orgs", ":id", "users", ":userId", "enable", use: UserController.enable)
        signedIn.post("orgs", ":id", "users", ":userId", "end-sessions", use: UserController.endSessions)
        signedIn.post("orgs", ":id", "users", ":userId", "reset-password", use: UserController.resetPassword)
        signedIn.get("api-keys", use: UserController.listKeys)
        signedIn.post("api-keys", use: UserController.createKey)
        signedIn.delete("api-keys", ":id", use: UserController.revokeKey)
        signedIn.get("orgs", ":id", "approval-rules", use: ApprovalController.rules)
        signedIn.put("orgs", ":id", "approval-rules", use: ApprovalController.setRules)
        signedIn.get("orgs", ":id", "early-payment-program", use: EarlyPaymentController.program)
        signedIn.put("orgs", ":id", "early-payment-program", use: EarlyPaymentController.setProgram)
        signedIn.patch("orgs", ":id", "users", ":userId", use: UserController.setRole)
        signedIn.get("approvals", use: ApprovalController.list)
        signedIn.get("approvals", ":id", use: ApprovalController.show)
        signedIn.post("approvals", ":id", "approve", use: ApprovalController.approve)
        signedIn.post("approvals", ":id", "reject", use: ApprovalController.reject)
        signedIn.post("approvals", ":id", "withdraw", use: ApprovalController.withdraw)
        signedIn.get("policy", use: OrgController.policy)
        signedIn.put("policy", use: OrgController.setPolicy)
    }

    do {  // credit lines, receivables, documents
        signedIn.get("credit-lines", use: CreditController.list)
        signedIn.post("credit-lines", use: CreditController.create)
        signedIn.get("credit-lines", ":id", use: CreditController.show)
        signedIn.patch("credit-lines", ":id", use: CreditController.update)
        signedIn.get("receivables", use: ReceivableController.list)
        signedIn.post("receivables", use: ReceivableController.create)
        signedIn.get("receivables", ":id", use: ReceivableController.show)
        signedIn.get("receivables", ":id", "tree", use: ReceivableController.tree)
        signedIn.get("receivables", ":id", "clearing", use: ReceivableController.clearing)
        signedIn.post("receivables", ":id", "settle", use: ReceivableController.settle)
        let uploads = api.grouped(BearerAuthenticator(), RequireCaller(), IdempotencyMiddleware(maxBodyBytes: DocumentController.maxBytes + 64 * 1024))
        uploads.on(.POST, "documents", body: .collect(maxSize: ByteCount(value: DocumentController.maxBytes + 64 * 1024)), use: DocumentController.upload)
        signedIn.get("documents", ":sha256", use: DocumentController.download)
        // Batch issue from an ERP export: a file of up to 50 MB.
        let imports = api.grouped(BearerAuthenticator(), RequireCaller(), IdempotencyMiddleware(maxBodyBytes: MultipartGuard.maxImportBytes))
        imports.on(.POST, "receivables", "imports", body: .collect(maxSize: ByteCount(value: MultipartGuard.maxImportBytes)), use: ImportController.create)
        signedIn.get("receivables", "imports", use: ImportController.list)
        signedIn.get("receivables", "imports", ":id", use: ImportController.show)
        signedIn.post("receivables", "imports", ":id", "issue", use: ImportController.issue)
    }

    do {  // signed webhooks: the org's admin
        signedIn.get("webhooks", use: WebhookController.list)
        signedIn.post("webhooks", use: WebhookController.create)
        signedIn.delete("webhooks", ":id", use: WebhookController.delete)
        signedIn.get("webhooks", ":id", "deliveries", use: WebhookController.deliveries)
    }

    // Operators' monitoring, beside the API.
    app.get("metrics", use: HealthController.metrics)
    app.get("healthz", use: HealthController.healthz)
    app.get("readyz", use: HealthController.readyz)

    do {  // payments: payer, payee, regulator, operator
        signedIn.get("payments", use: PaymentController.list)
        signedIn.get("payments", ":id", use: PaymentController.show)
        signedIn.post("payments", ":id", "retry", use: PaymentController.retry)
        signedIn.get("orgs", ":id", "payment-accounts", use: PaymentController.accounts)
        signedIn.get("reconciliation", use: PaymentController.reconciliation)
        signedIn.put("orgs", ":id", "payment-accounts", ":rail", use: PaymentController.setAccount)
        signedIn.put("orgs", ":id", "payment-rail", use: PaymentController.setPaysBy)
        signedIn.get("rails", "bank", "instructions", use: PaymentController.instructions)
        signedIn.get("rails", "bank", "instructions", ":id", use: PaymentController.instruction)
        let notifications = api.grouped(BearerAuthenticator(), RequireCaller(), IdempotencyMiddleware(maxBodyBytes: ISO20022.maxNotificationBytes))
        api.on(.POST, "rails", "ecny", "callbacks", body: .collect(maxSize: "64kb"), use: PaymentController.ecnyCallback)
        notifications.on(.POST, "rails", "bank", "notifications", body: .collect(maxSize: ByteCount(value: ISO20022.maxNotificationBytes)), use: PaymentController.bankNotification)
    }

    do {  // tokens: holder, issuer, regulator, operator
        signedIn.get("tokens", use: TokenController.list)
        signedIn.get("tokens", ":id", use: TokenController.show)
        signedIn.get("tokens", ":id", "ancestry", use: TokenController.ancestry)
        signedIn.get("tokens", ":id", "quotes", use: FinancingController.quotes)
        signedIn.post("tokens", ":id", "accept", use: TokenActionController.accept)
        signedIn.post("tokens", ":id", "reject", use: TokenActionController.reject)
        signedIn.post("tokens", ":id", "transfer", use: TokenActionController.transfer)
        signedIn.post("tokens", ":id", "split", use: TokenActionController.split)
    }

    do {  // financing
        signedIn.get("financings", use: FinancingController.list)
        signedIn.post("financings", use: FinancingController.create)
        signedIn.get("financings", ":id", use: FinancingController.show)
        signedIn.post("financings", ":id", "approve", use: FinancingController.approve)
        signedIn.post("financings", ":id", "reject", use: FinancingController.reject)
        signedIn.post("financings", ":id", "cancel", use: FinancingController.cancel)
        signedIn.post("financings", ":id", "confirm-payout", use: FinancingController.confirmPayout)
        signedIn.get("early-payments", use: EarlyPaymentController.list)
        signedIn.post("early-payments", use: EarlyPaymentController.create)
        signedIn.get("early-payments", "market", use: EarlyPaymentController.market)
        signedIn.post("early-payments", "clear", use: EarlyPaymentController.clear)
        signedIn.get("early-payments", ":id", use: EarlyPaymentController.show)
        signedIn.post("early-payments", ":id", "approve", use: EarlyPaymentController.approve)
        signedIn.post("early-payments", ":id", "reject", use: EarlyPaymentController.reject)
        signedIn.post("early-payments", ":id", "cancel", use: EarlyPaymentController.cancel)
        signedIn.post("early-payments", ":id", "confirm", use: EarlyPaymentController.confirm)
    }

    do {  // the chain
        signedIn.get("blocks", use: ChainController.blocks)
        signedIn.get("blocks", ":height", use: ChainController.block)
        signedIn.get("transactions", ":id", use: ChainController.transaction)
        signedIn.get("transactions", ":id", "proof", use: ChainController.proof)
        signedIn.get("chain", "verify", use: ChainController.verify)
        signedIn.get("chain", "verify", "progress", use: ChainController.verifyProgress)
        signedIn.get("chain", "export", use: ChainController.export)
    }

    do {  // the feed, the totals and the exports
        signedIn.get("events", use: FeedController.events)
        signedIn.get("stats", use: FeedController.stats)
        exportRoutes(signedIn)
    }

    if app.environment == .development || app.environment == .testing {
        signedIn.post("admin", "clock", use: FeedController.moveClock)
    }

    consoleRoutes(app)
}

/// The console's pages and forms: session cookie, CSRF on every post, error pages.
package func consoleRoutes(_ app: Application) {
    let web = app.grouped(ConsolePages.ErrorPages(), ConsoleAuthenticator(), CSRFMiddleware())
    web.get(use: SignInPages.home)
    web.get("login", use: SignInPages.loginForm)
    web.post("login", use: SignInPages.login)
    web.post("login", "code", use: SignInPages.code)
    web.get("lang", ":lang", use: SignInPages.language)
    web.get("receipt", use: ReceiptPages.receiptForm)
    web.get("disclosures", use: DisclosurePages.disclosures)
    web.get("exports", "disclosures.csv", use: DisclosureController.csv)
    web.post("receipt", use: ReceiptPages.checkReceipt)
    let signedIn = web.grouped(ConsoleSignInRedirect())
    signedIn.post("logout", use: SignInPages.logout)
    signedIn.get("dashboard", use: DashboardPages.dashboard)
    signedIn.get("events", use: DashboardPages.events)
    signedIn.get("inbox", use: HoldingsPages.inbox)
    signedIn.get("holdings", use: HoldingsPages.holdings)
    signedIn.get("tokens", ":id", use: HoldingsPages.token)
    signedIn.post("tokens", ":id", "accept", use: HoldingsPages.accept)
    signedIn.post("tokens", ":id", "reject", use: HoldingsPages.reject)
    signedIn.post("tokens", ":id", "transfer", use: HoldingsPages.transfer)
    signedIn.post("tokens", ":id", "split", use: HoldingsPages.split)
    signedIn.post("tokens", ":id", "finance", use: HoldingsPages.finance)
    signedIn.get("financings", use: FinancingPages.financings)
    signedIn.post("financings", ":id", "approve", use: FinancingPages.approve)
    signedIn.post("financings", ":id", "reject", use: FinancingPages.decline)
    signedIn.post("financings", ":id", "cancel", use: FinancingPages.cancel)
    signedIn.post("financings", ":id", "confirm-payout", use: FinancingPages.confirmPayout)
    signedIn.post("tokens", ":id", "early-payment", use: EarlyPaymentPages.offer)
    signedIn.get("early-payments", use: EarlyPaymentPages.page)
    signedIn.post("early-payments", "program", use: EarlyPaymentPages.setProgram)
    signedIn.post("early-payments", "clear", use: EarlyPaymentPages.clear)
    signedIn.post("early-payments", ":id", "approve", use: EarlyPaymentPages.approve)
    signedIn.post("early-payments", ":id", "reject", use: EarlyPaymentPages.reject)
    signedIn.post("early-payments", ":id", "cancel", use: EarlyPaymentPages.cancel)
    signedIn.post("early-payments", ":id", "confirm", use: EarlyPaymentPages.confirm)
    signedIn.get("receivables", use: ReceivablePages.receivables)
    signedIn.get("receivables", "new", use: ReceivablePages.issueForm)
    signedIn.get("webhooks", use: WebhookPages.page)
    signedIn.post("webhooks", use: WebhookPages.create)
    signedIn.post("webhooks", ":id", "delete", use: WebhookPages.delete)
    signedIn.get("receivables", "imports", use: ImportPages.list)
    signedIn.on(.POST, "receivables", "imports", body: .collect(maxSize: ByteCount(value: MultipartGuard.maxImportBytes)), use: ImportPages.upload)
    signedIn.get("receivables", "imports", ":id", use: ImportPages.show)
    signedIn.post("receivables", "imports", ":id", "issue", use: ImportPages.issue)
    signedIn.on(.POST, "receivables", body: .collect(maxSize: ByteCount(value: DocumentController.maxBytes + 64 * 1024)), use: ReceivablePages.issue)
    signedIn.get("receivables", ":id", use: ReceivablePages.receivable)
    signedIn.post("receivables", ":id", "settle", use: ReceivablePages.settle)
    signedIn.get("credit-lines", use: CreditLinePages.creditLines)
    signedIn.post("credit-lines", use: CreditLinePages.grant)
    signedIn.get("chain", use: ChainPages.chain)
    signedIn.post("chain", "verify", use: ChainPages.verifyChain)
    signedIn.get("orgs", use: OrgPages.orgs)
    signedIn.post("orgs", ":id", "suspend", use: OrgPages.setOrgStatus)
    signedIn.post("orgs", ":id", "activate", use: OrgPages.setOrgStatus)
    signedIn.post("orgs", use: OrgPages.registerOrg)
    signedIn.get("reconciliation", use: PaymentPages.reconciliation)
    signedIn.get("payment-settings", use: PaymentSettingsPages.settings)
    signedIn.post("payment-settings", "rail", use: PaymentSettingsPages.chooseRail)
    signedIn.post("payment-settings", "accounts", ":rail", use: PaymentSettingsPages.setAccount)
    signedIn.get("payments", ":id", use: PaymentPages.payment)
    signedIn.post("payments", ":id", "retry", use: PaymentPages.retry)
    signedIn.get("approvals", use: ApprovalPages.list)
    signedIn.get("approvals", ":id", use: ApprovalPages.show)
    signedIn.post("approvals", ":id", "approve", use: ApprovalPages.approve)
    signedIn.post("approvals", ":id", "reject", use: ApprovalPages.reject)
    signedIn.post("approvals", ":id", "withdraw", use: ApprovalPages.withdraw)
    signedIn.get("approval-rules", use: ApprovalPages.rules)
    signedIn.post("approval-rules", use: ApprovalPages.setRules)
    signedIn.get("orgs", ":id", "users", use: PeoplePages.users)
    signedIn.post("orgs", ":id", "users", use: PeoplePages.addUser)
    signedIn.post("orgs", ":id", "users", ":userId", ":action", use: PeoplePages.personAction)
    signedIn.get("password", use: PasswordPages.form)
    signedIn.get("reauth", use: ReauthPages.show)
    signedIn.post("reauth", use: ReauthPages.confirm)
    signedIn.get("two-factor", use: TwoFactorPages.show)
    signedIn.post("two-factor", use: TwoFactorPages.enrol)
    signedIn.post("two-factor", "confirm", use: TwoFactorPages.confirm)
    signedIn.post("password", use: PasswordPages.change)
    signedIn.get("policy", use: PolicyPages.policy)
    signedIn.post("policy", use: PolicyPages.setPolicy)
    signedIn.get("audit", use: AuditPages.audit)
    signedIn.get("overview", use: OverviewPages.overview)
    signedIn.get("orgs", ":id", "exposure", use: OverviewPages.exposure)
    signedIn.get("monitoring", use: MonitoringPages.monitoring)
    exportRoutes(signedIn)
}

/// CSV downloads: the same handlers under the API (bearer) and the console (session cookie).
package func exportRoutes(_ routes: any RoutesBuilder) {
    routes.get("exports", "receivables.csv", use: ExportController.receivables)
    routes.get("exports", "tokens.csv", use: ExportController.tokens)
    routes.get("exports", "financings.csv", use: ExportController.financings)
    routes.get("exports", "registry-filing.csv", use: ExportController.registry)
    routes.get("exports", "audit-log.csv", use: ExportController.audit)
    routes.get("exports", "reconciliation.csv", use: PaymentController.reconciliationCSV)
    routes.get("receivables", ":id", "clearing.csv", use: ExportController.clearing)
}
