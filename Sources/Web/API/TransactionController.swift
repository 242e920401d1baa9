import Core
import Foundation
import Ledger
import Vapor

extension JSON {
    /// A JSON response (the ledger's own encoder: integers stay integers, keys in canonical order).
    package func response(status: HTTPResponseStatus = .ok) -> Response {
        var headers = HTTPHeaders()
        headers.contentType = .json
        return Response(status: status, headers: headers, body: .init(data: Data(canonicalBytes)))
    }
}

/// `POST /api/v1/transactions {body, signature}`: a transaction the org signed itself with its
/// registered key. The signature is checked here, before the sequencer.
package enum TransactionController {
    /// How far a client's `body.time` may be from the server's clock: dates are judged on it.
    package static let maxClockSkewMs: Int64 = 5 * 60 * 1000

    package static func decode(_ bytes: [UInt8], nowMs: Int64, profile: CryptoProfile) throws -> Transaction {
        let json: JSON
        do {
            json = try JSON.parse(bytes)
        } catch {
            throw error.refusal(under: "")
        }
        guard case .object(var fields) = json else { throw LedgerError.invalid("body", "must be an object") }
        guard let body = fields.removeValue(forKey: "body") else { throw LedgerError.invalid("body", "is required") }
        guard case .string(let signatureText)? = fields.removeValue(forKey: "signature") else {
            throw LedgerError.invalid("signature", "is required, a base64 \(profile.signatureName) signature")
        }
        if let unknown = fields.keys.sorted().first { throw LedgerError.invalid(unknown.string, "is not a known field") }
        let parsed = try TransactionBody(json: body)
        guard abs(parsed.time - nowMs) <= maxClockSkewMs else {
            throw LedgerError.invalid("body.time", "is more than 5 minutes from the platform's clock (\(nowMs))")
        }
        guard signatureText.utf8.count <= 128, let signature = Base64.decode(signatureText) else {
            throw LedgerError.invalid("signature", "must be a \(profile.signatureName) signature in standard, padded base64")
        }
        if let problem = profile.signatureProblem(signature) { throw LedgerError.invalid("signature", problem) }
        // The id covers JCS of the body exactly as received, which is what was signed.
        let canonical = body.canonicalBytes
        return Transaction(id: profile.transactionId(of: canonical), body: parsed, signature: signature, canonicalBody: canonical)
    }

    package static let maxBodyBytes = 64 * 1024

    @Sendable package static func submit(req: Request) async throws -> Response {
        guard let buffer = req.body.data else { throw Problem(.malformedJSON, "the request has no body") }
        guard buffer.readableBytes <= maxBodyBytes else {
            throw Problem(.payloadTooLarge, "the body is \(buffer.readableBytes) bytes; at most \(maxBodyBytes) are accepted")
        }
        let sequencer = try req.application.requireSequencer()
        let tx = try decode(Array(buffer.readableBytesView), nowMs: req.application.ledgerClock.nowMs(), profile: sequencer.signingKeys.profile)
        // The sequencer's gate checks the signature with the key the body names, before the writer.
        let outcome = try await sequencer.submit(tx)
        return DTO.outcome(outcome).response(status: .created)
    }
}
