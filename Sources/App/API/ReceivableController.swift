import Crypto
import Foundation
import Ledger
import SQLKit
import Vapor

/// Receivables: issue, lists and detail by visibility, the token tree, the clearing list and
/// settlement at maturity.
enum ReceivableController {
    static let maxListedSettleTokens = 1_000

    @Sendable static func list(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        let page = try Page(req, keyCount: 2)
        var query: SQLQueryString = "SELECT \(unsafeRaw: ReceivableQueries.columns) FROM receivables r WHERE "
        query += ReceivableQueries.visible(viewer)
        if let status = try req.queryEnum("status", ReceivableStatus.self) { query += " AND r.status = \(bind: status.rawValue)" }
        if let issuer = try req.queryId("issuerId", OrgID.init, "an org id (a lowercase UUID)") { query += " AND r.issuer_id = \(bind: issuer.description)" }
        if let due = try req.queryText("dueBefore", maxLength: 10) {
            guard BusinessDate(due) != nil else { throw LedgerError.invalid("dueBefore", "must be a date YYYY-MM-DD") }
            query += " AND r.due_date <= \(bind: due)"
        }
        return try await page.run(query, keys: ["r.due_date", "r.id"], on: req.application.sql) { row in
            let r = try RowReader(row, "receivables").receivable
            return (DTO.receivable(r), [.string(r.dueDate.description), .string(r.id.description)])
        }.response()
    }

    static func find(_ req: Request, _ viewer: Viewer) async throws -> Receivable {
        guard let r = try await ReceivableQueries.find(try req.txIdParameter(), visibleTo: viewer, on: req.application.sql) else {
            throw Problem(.notFound, "no such receivable")
        }
        return r
    }

    @Sendable static func show(req: Request) async throws -> Response {
        DTO.receivable(try await find(req, try await req.viewer())).response()
    }

    static func tokens(of r: TxID, holder: OrgID? = nil, statuses: [TokenStatus]? = nil, on sql: any SQLDatabase) async throws -> [Token] {
        try await ReceivableQueries.tokens(of: r, holder: holder, statuses: statuses, on: sql)
    }

    /// `GET /receivables/{id}/tree?limit=&cursor=`: a page of every token descended from the
    /// receivable, spent ones included, with the holders' names: `{receivable, items: [token +
    /// holderName], nextCursor}`, in tier, creation and id order.
    @Sendable static func tree(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        let r = try await find(req, viewer)
        guard viewer.seesAll || r.issuerId == viewer.orgId else {
            throw Problem(.forbidden, "the whole tree is shown to the issuer, the regulator and the operator; a holder sees its own pieces and their ancestry")
        }
        let page = try Page(req, keyCount: 3)
        let query: SQLQueryString = """
            SELECT \(unsafeRaw: TokenQueries.columns), o.name AS holder_name FROM tokens t LEFT JOIN orgs o ON o.id = t.holder_id
            WHERE t.receivable_id = \(bind: r.id.description)
            """
        let listed = try await page.run(query, keys: ["t.tier", "t.created_on", "t.id"], on: req.application.sql) { row in
            let t = try RowReader(row, "tokens").token
            guard case .object(var fields) = DTO.token(t) else { throw StoreDamage("token") }
            fields["holderName"] = .string((try? row.decode(column: "holder_name", as: String.self)) ?? "")
            return (.object(fields), [.int(t.tier), .string(t.createdOn.description), .string(t.id.description)])
        }
        guard case .object(var answer) = listed else { throw StoreDamage("page") }
        answer["receivable"] = DTO.receivable(r)
        return JSON.object(answer).response()
    }


    /// `GET /receivables/{id}/clearing?limit=&cursor=`: who is to be paid how much at maturity —
    /// a page of the pieces that are live (pending, active, locked) or already settled. A holder
    /// sees its own rows.
    @Sendable static func clearing(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        let r = try await find(req, viewer)
        let page = try Page(req, keyCount: 3)
        var query: SQLQueryString = """
            SELECT \(unsafeRaw: TokenQueries.columns) FROM tokens t WHERE t.receivable_id = \(bind: r.id.description)
            AND t.status IN (\(binds: TokenQueries.clearingStatuses.map(\.rawValue)))
            """
        if !(viewer.seesAll || r.issuerId == viewer.orgId) { query += " AND t.holder_id = \(bind: viewer.orgId.description)" }
        let listed = try await page.run(query, keys: ["t.tier", "t.created_on", "t.id"], on: req.application.sql) { row in
            let t = try RowReader(row, "tokens").token
            let item: JSON = ["tokenId": .string(t.id.description), "holderId": .string(t.holderId.description), "amountFen": .int(t.amountFen),
                              "tier": .int(t.tier), "status": .string(t.status.rawValue)]
            return (item, [.int(t.tier), .string(t.createdOn.description), .string(t.id.description)])
        }
        guard case .object(var answer) = listed else { throw StoreDamage("page") }
        for (k, v) in ["receivableId": JSON.string(r.id.description), "dueDate": .string(r.dueDate.description), "faceFen": .int(r.faceFen), "paidFen": .int(r.paidFen)] {
            answer[k] = v
        }
        return JSON.object(answer).response()
    }

    /// `POST /receivables {supplierId, creditLineId, faceFen, dueDate, documents?, memo?}`:
    /// the issue date is the business date of the transaction.
    @Sendable static func create(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        var body = try StrictBody(req, allowed: ["supplierId", "creditLineId", "faceFen", "dueDate", "documents", "memo"])
        if body.fields["documents"] == nil { body.fields["documents"] = .array([]) }
        if body.fields["memo"] == .null { body.fields["memo"] = nil }
        // The ledger's own reader decodes the fields (with a stand-in issue date the service replaces).
        guard case .issue(let p) = try body.payload(.issue, adding: ["issueDate": .string(BusinessDate(epochMs: 0).description)]) else {
            throw StoreDamage("issue payload")
        }
        let issue = ReceivableService.Issue(supplierId: p.supplierId, creditLineId: p.creditLineId, faceFen: p.faceFen, dueDate: p.dueDate,
                                            documents: p.documents, memo: p.memo)
        return try await ReceivableService.issue(issue, by: viewer.caller, app: req.application).response(status: .created)
    }

    /// `POST /receivables/{id}/settle {tokenIds?, reference}`: by default every piece that is
    /// active or locked, in as many transactions as that takes (`transactionIds` lists them all).
    @Sendable static func settle(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        let id = try req.txIdParameter()
        let body = try StrictBody(req, allowed: ["tokenIds", "reference"])
        var tokenIds: [TokenID]?
        if let listed = body.fields["tokenIds"], listed != .null {
            // Read with the ledger's own bounds (1 to 10,000 ids, no repeats).
            guard case .settle(_, let ids, _) = try StrictBody(fields: ["tokenIds": listed, "reference": "-"], path: "", allowed: ["tokenIds", "reference"])
                .payload(.settle, adding: ["receivableId": .string(id.description)]) else { throw StoreDamage("settle payload") }
            // A request names at most 1,000 pieces (a body stays small); without a list every
            // payable piece is paid, in as many transactions as that takes.
            guard ids.count <= Self.maxListedSettleTokens else {
                throw LedgerError.invalid("tokenIds", "must have 1 to \(Self.maxListedSettleTokens) items; leave it out to pay every piece")
            }
            tokenIds = ids
        }
        let reference = try body.string("reference", maxLength: Limits.maxReferenceLength)!
        switch try await ReceivableService.settle(id, tokenIds: tokenIds, reference: reference, by: viewer, app: req.application) {
        case .pending(let approval): return ApprovalController.held(approval)
        case .done(let settlement) where !settlement.payments.isEmpty:
            // Instructed on the core's rail: each piece is settled on the ledger as its payment arrives.
            return JSON.object(["payments": .array(settlement.payments.map { $0.json() })]).response(status: .accepted)
        case .done(let settlement): return settlementAnswer(settlement.outcomes).response()
        }
    }

    /// The last transaction's outcome (the receivable as it then stood), with every token and
    /// transaction of the settlement.
    static func settlementAnswer(_ outcomes: [Outcome]) -> JSON {
        guard let last = outcomes.last, case .object(var answer) = DTO.outcome(last) else { return .null }
        answer["tokens"] = .array(outcomes.flatMap(\.tokens).map(DTO.token))
        answer["transactionIds"] = .array(outcomes.map { .string($0.effects.transactionId.description) })
        return .object(answer)
    }
}

/// Tokens: holdings lists.
extension TokenController {
    /// `GET /tokens?status=&receivableId=`: a holder's own tokens (live ones unless a status is
    /// asked for); the regulator and the operator see every token, spent ones included.
    @Sendable static func list(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        let page = try Page(req, keyCount: 2)
        var query: SQLQueryString = "SELECT \(unsafeRaw: Projection.tokens.columns.joined(separator: ", ")) FROM tokens WHERE "
        let status = try req.queryEnum("status", TokenStatus.self)
        if viewer.seesAll {
            query += "1 = 1"
        } else {
            query += "holder_id = \(bind: viewer.orgId.description)"
            if status == nil { query += " AND status IN ('pending', 'active', 'locked')" }
        }
        if let status { query += " AND status = \(bind: status.rawValue)" }
        if let r = try req.queryId("receivableId", TxID.init, "a receivable id (64 lowercase hex characters)") { query += " AND receivable_id = \(bind: r.description)" }
        return try await page.run(query, keys: ["created_on", "id"], descending: true, on: req.application.sql) { row in
            let t = try RowReader(row, "tokens").token
            return (DTO.token(t), [.string(t.createdOn.description), .string(t.id.description)])
        }.response()
    }
}

/// 存证: the files behind receivables, stored by SHA-256.
enum DocumentController {
    static let maxBytes = 10 * 1024 * 1024

    struct Upload: Content {
        var file: File
        var kind: String
        var number: String?
    }

    static func json(sha: String, size: Int64, kind: String, number: String?, fileName: String?) -> JSON {
        ["sha256": .string(sha), "size": .int(size), "kind": .string(kind), "number": number.map(JSON.string) ?? .null,
         "fileName": fileName.map(JSON.string) ?? .null]
    }

    /// `POST /documents` (multipart: `file`, `kind`, `number?`) → `{sha256, size, kind, number, fileName}`.
    @Sendable static func upload(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        // The regulator reads everything and changes nothing, a document store included.
        guard viewer.role != .regulator else { throw Problem(.forbidden, "the regulator reads documents; it does not upload them") }
        try viewer.caller.requirePreparer()
        guard req.headers.contentType?.type == "multipart" else { throw LedgerError.invalid("file", "send multipart/form-data with a file, a kind and optionally a number") }
        let upload: Upload
        do { upload = try req.content.decode(Upload.self) } catch { throw LedgerError.invalid("file", "send multipart/form-data with a file, a kind and optionally a number") }
        guard DocumentKind(rawValue: upload.kind) != nil else {
            throw LedgerError.invalid("kind", "must be one of \(DocumentKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        // A form part that is not UTF-8 reaches us with U+FFFD in its place: refused, never stored.
        for (field, text) in [("number", upload.number), ("fileName", upload.file.filename)] where text?.unicodeScalars.contains("\u{FFFD}") == true {
            throw LedgerError.invalid(field, "must be UTF-8 text")
        }
        if let n = upload.number { try Limits.checkText(n, field: "number", maxLength: Limits.maxDocumentNumberLength) }
        let bytes = Data(upload.file.data.readableBytesView)
        guard !bytes.isEmpty else { throw LedgerError.invalid("file", "is empty") }
        guard bytes.count <= maxBytes else { throw Problem(.payloadTooLarge, "a document may be at most 10 MB") }
        let fileName = upload.file.filename
        try Limits.checkText(fileName, field: "fileName", maxLength: Limits.maxFileNameLength)
        let sha = try await store(bytes, kind: upload.kind, number: upload.number, fileName: fileName,
                                  contentType: upload.file.contentType?.serialize() ?? "application/octet-stream", by: viewer.orgId, app: req.application)
        return json(sha: sha, size: Int64(bytes.count), kind: upload.kind, number: upload.number, fileName: fileName).response(status: .created)
    }

    /// Keeps a file by its SHA-256 (once: the same bytes uploaded again are the same document).
    static func store(_ bytes: Data, kind: String, number: String?, fileName: String, contentType: String, by org: OrgID, app: Application) async throws -> String {
        let sha = Hex.encode(Array(SHA256.hash(data: bytes)))
        try await app.sql.insert(into: "documents").columns("sha256", "size", "kind", "number", "file_name", "content_type", "content", "uploaded_by", "created_ms")
            .values(SQLBind(sha), SQLBind(Int64(bytes.count)), SQLBind(kind), SQLBind(number), SQLBind(fileName), SQLBind(contentType), SQLBind(bytes),
                    SQLBind(org.description), SQLBind(app.wallClock.nowMs()))
            .ignoringConflicts(with: "sha256")
            .run()
        return sha
    }

    /// `GET /documents/{sha256}`: the file, to the org that uploaded it, the regulator and the
    /// operator, and anyone who sees a receivable naming it.
    @Sendable static func download(req: Request) async throws -> Response {
        let viewer = try await req.viewer()
        guard let sha = req.parameters.get("sha256"), Hex.isLowercaseHex(sha, length: 64) else {
            throw LedgerError.invalid("sha256", "must be 64 lowercase hex characters")
        }
        let sql = req.application.sql
        guard let row = try await sql.raw("SELECT content, content_type, file_name, uploaded_by FROM documents WHERE sha256 = \(bind: sha)").first() else {
            throw Problem(.notFound, "no document with this SHA-256 was uploaded")
        }
        let uploader = try row.decode(column: "uploaded_by", as: String.self)
        if !viewer.seesAll, uploader != viewer.orgId.description {
            // A receivable the viewer sees opens a document only if its issuer uploaded that file:
            // naming another org's hash in one's own receivable opens nothing.
            var query: SQLQueryString = "SELECT r.documents FROM receivables r WHERE r.issuer_id = \(bind: uploader) AND r.documents LIKE \(bind: "%" + sha + "%") AND "
            query += ReceivableQueries.visible(viewer)
            let names = try await sql.raw(query).all().contains { candidate in
                guard case .array(let documents)? = try? JSON.parse(try candidate.decode(column: "documents", as: String.self)) else { return false }
                return documents.contains { $0["sha256"]?.stringValue == sha }
            }
            guard names else { throw Problem(.notFound, "no document with this SHA-256 was uploaded") }
        }
        var headers = HTTPHeaders()
        headers.replaceOrAdd(name: .contentType, value: try row.decode(column: "content_type", as: String.self))
        let name = (try? row.decode(column: "file_name", as: String.self)) ?? sha
        headers.replaceOrAdd(name: .contentDisposition, value: "attachment; filename*=UTF-8''\(name.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? sha)")
        return Response(status: .ok, headers: headers, body: .init(data: try row.decode(column: "content", as: Data.self)))
    }
}
