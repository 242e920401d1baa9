import Foundation
import Ledger
import Vapor

/// JSON shapes of the ledger objects, as every `GET` returns them.
enum DTO {
    static func token(_ t: Token) -> JSON {
        ["id": .string(t.id.description), "receivableId": .string(t.receivableId.description),
         "parentId": t.parentId.map { .string($0.description) } ?? .null, "holderId": .string(t.holderId.description),
         "amountFen": .int(t.amountFen), "tier": .int(t.tier), "status": .string(t.status.rawValue),
         "createdTx": .string(t.createdTx.description), "spentTx": t.spentTx.map { .string($0.description) } ?? .null]
    }

    static func receivable(_ r: Receivable) -> JSON {
        ["id": .string(r.id.description), "number": .string(r.number), "issuerId": .string(r.issuerId.description),
         "firstHolderId": .string(r.firstHolderId.description), "creditLineId": .string(r.creditLineId.description),
         "faceFen": .int(r.faceFen), "paidFen": .int(r.paidFen), "issueDate": .string(r.issueDate.description),
         "dueDate": .string(r.dueDate.description), "status": .string(r.status.rawValue), "memo": r.memo.map(JSON.string) ?? .null,
         "documents": .array(r.documents.map(\.json))]
    }

    static func financing(_ f: Financing) -> JSON {
        ["id": .string(f.id.description), "tokenId": .string(f.tokenId.description), "supplierId": .string(f.supplierId.description),
         "bankId": .string(f.bankId.description), "amountFen": .int(f.amountFen), "rateBps": .int(f.rateBps), "days": .int(f.days),
         "interestFen": .int(f.interestFen), "payoutFen": .int(f.payoutFen), "status": .string(f.status.rawValue)]
    }

    static func creditLine(_ l: CreditLine) -> JSON {
        ["id": .string(l.id.description), "bankId": .string(l.bankId.description), "coreId": .string(l.coreId.description),
         "limitFen": .int(l.limitFen), "usedFen": .int(l.usedFen), "rateBps": .int(l.rateBps),
         "expiresOn": .string(l.expiresOn.description), "status": .string(l.status.rawValue), "createdTx": .string(l.createdTx.description)]
    }

    /// `{transactionId, blockHeight, tokens, receivable?, financing?, creditLine?}` (SPEC §5).
    static func outcome(_ o: Outcome) -> JSON {
        var fields: [JSONKey: JSON] = ["transactionId": .string(o.effects.transactionId.description), "blockHeight": .int(o.blockHeight),
                                      "tokens": .array(o.tokens.map(token))]
        if let r = o.receivable { fields["receivable"] = receivable(r) }
        if let f = o.financings.first { fields["financing"] = financing(f) }
        if let l = o.creditLine { fields["creditLine"] = creditLine(l) }
        return .object(fields)
    }
}

extension JSON {
    /// A JSON response (the ledger's own encoder: integers stay integers, keys in canonical order).
    func response(status: HTTPResponseStatus = .ok) -> Response {
        var headers = HTTPHeaders()
        headers.contentType = .json
        return Response(status: status, headers: headers, body: .init(data: Data(canonicalBytes)))
    }
}

/// `POST /api/v1/transactions {body, signature}`: a transaction the org signed itself with its
/// registered key. The signature is checked here, before the sequencer.
enum TransactionController {
    /// How far a client's `body.time` may be from the server's clock: dates are judged on it.
    static let maxClockSkewMs: Int64 = 5 * 60 * 1000

    static func decode(_ bytes: [UInt8], nowMs: Int64) throws -> Transaction {
        let json: JSON
        do {
            json = try JSON.parse(bytes)
        } catch {
            throw error.refusal(under: "")
        }
        guard case .object(var fields) = json else { throw LedgerError.invalid("body", "must be an object") }
        guard let body = fields.removeValue(forKey: "body") else { throw LedgerError.invalid("body", "is required") }
        guard case .string(let signatureText)? = fields.removeValue(forKey: "signature") else {
            throw LedgerError.invalid("signature", "is required, a base64 Ed25519 signature")
        }
        if let unknown = fields.keys.sorted().first { throw LedgerError.invalid(unknown.string, "is not a known field") }
        let parsed = try TransactionBody(json: body)
        guard abs(parsed.time - nowMs) <= maxClockSkewMs else {
            throw LedgerError.invalid("body.time", "is more than 5 minutes from the platform's clock (\(nowMs))")
        }
        guard signatureText.utf8.count <= 128, let signature = Base64.decode(signatureText), signature.count == 64 else {
            throw LedgerError.invalid("signature", "must be a 64-byte Ed25519 signature in base64")
        }
        // The id covers JCS of the body exactly as received, which is what was signed.
        let canonical = body.canonicalBytes
        return Transaction(id: TxID(digest: Hashing.sha256(canonical)), body: parsed, signature: signature, canonicalBody: canonical)
    }

    static let maxBodyBytes = 64 * 1024

    @Sendable static func submit(req: Request) async throws -> Response {
        guard let buffer = req.body.data else { throw Problem(.malformedJSON, "the request has no body") }
        guard buffer.readableBytes <= maxBodyBytes else {
            throw Problem(.payloadTooLarge, "the body is \(buffer.readableBytes) bytes; at most \(maxBodyBytes) are accepted")
        }
        let tx = try decode(Array(buffer.readableBytesView), nowMs: req.application.ledgerClock.nowMs())
        // The sequencer's gate checks the signature with the key the body names, before the writer.
        let outcome = try await req.application.requireSequencer().submit(tx)
        return DTO.outcome(outcome).response(status: .created)
    }
}

extension Application {
    private struct SequencerKey: StorageKey {
        typealias Value = Sequencer
    }

    /// The single writer, once the server has loaded it.
    var sequencer: Sequencer? {
        get { storage[SequencerKey.self] }
        set { storage[SequencerKey.self] = newValue }
    }

    func requireSequencer() throws -> Sequencer {
        guard let sequencer else { throw Problem(.forbidden, "this node is read-only; send transactions to the writer") }
        return sequencer
    }
}
