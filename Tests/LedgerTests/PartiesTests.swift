import Ledger
import Testing

/// Who a transaction concerns: the signer and every org its payload names (SPEC §5: the parties
/// to a transaction read it, and it appears in their feeds).
@Suite struct PartiesTests {
    static let signer = OrgID("00000000-0000-4000-8000-000000000001")!
    static let other = OrgID("00000000-0000-4000-8000-000000000002")!
    static let token = TokenID(String(repeating: "a", count: 32))!
    static let tx = TxID(String(repeating: "b", count: 64))!
    static let day = BusinessDate("2027-01-01")!

    static func parties(_ payload: Payload) -> Set<OrgID> {
        TransactionBody(orgId: signer, keyId: "0123456789abcdef", time: 0, nonce: "n", payload: payload).parties
    }

    @Test(arguments: [
        Payload.registerOrg(RegisterOrgPayload(orgId: other, name: "n", role: .supplier, creditCode: "c", publicKey: [])),
        .rotateKey(orgId: other, publicKey: []),
        .setOrgStatus(orgId: other, status: .suspended),
        .grantCredit(coreId: other, limitFen: 1, rateBps: 1, expiresOn: day),
        .issue(IssuePayload(supplierId: other, creditLineId: tx, faceFen: 1, issueDate: day, dueDate: day, documents: [])),
        .transfer(tokenId: token, toOrgId: other, amountFen: 1, memo: nil),
        .requestFinancing(tokenId: token, bankId: other),
    ])
    func aPayloadThatNamesAnotherOrgConcernsItAndTheSigner(payload: Payload) {
        #expect(Self.parties(payload) == [Self.signer, Self.other])
    }

    @Test(arguments: [
        Payload.accept(tokenId: token), .reject(tokenId: token), .split(tokenId: token, amountsFen: [1, 1]),
        .approveFinancing(financingId: tx), .rejectFinancing(financingId: tx), .cancelFinancing(financingId: tx),
        .confirmPayout(financingId: tx, reference: "r"), .settle(receivableId: tx, tokenIds: [token], reference: "r"),
        .expireOffer(tokenId: token), .markOverdue(receivableId: tx),
    ])
    func aPayloadThatNamesNoOrgConcernsTheSignerAlone(payload: Payload) {
        #expect(Self.parties(payload) == [Self.signer])
    }
}
