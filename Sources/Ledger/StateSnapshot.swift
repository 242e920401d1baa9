/// The replayed state in the shape of `shared/vectors-2/expected-state.json`: every credit line,
/// financing, receivable, token and org by id, with the fields any replayer must agree on, and
/// the chain's crypto profile. (The first vectors' expected state names a subset of these fields.)
extension LedgerState {
    public var snapshotJSON: JSON {
        func map<K: CustomStringConvertible, V>(_ items: [K: V], _ f: (V) -> JSON) -> JSON {
            .object(Dictionary(uniqueKeysWithValues: items.map { (JSONKey($0.key.description), f($0.value)) }))
        }
        func id(_ v: some CustomStringConvertible) -> JSON { .string(v.description) }
        return .object([
            "creditLines": map(creditLines.storage) { l in
                ["bankId": id(l.bankId), "coreId": id(l.coreId), "limitFen": .int(l.limitFen),
                 "rateBps": .int(l.rateBps), "usedFen": .int(l.usedFen)]
            },
            "financings": map(financings.storage) { f in
                ["amountFen": .int(f.amountFen), "bankId": id(f.bankId), "days": .int(f.days),
                 "interestFen": .int(f.interestFen), "payoutFen": .int(f.payoutFen), "rateBps": .int(f.rateBps),
                 "status": .string(f.status.rawValue), "supplierId": id(f.supplierId), "tokenId": id(f.tokenId),
                 "recourse": .bool(f.recourse), "filing": f.filing?.json ?? .null,
                 "termReview": f.termReview.map { JSON.object(["reason": .string($0)]) } ?? .null]
            },
            "orgs": map(orgs.storage) { o in
                ["role": .string(o.role.rawValue), "status": .string(o.status.rawValue), "inDefault": .bool(o.inDefault)]
            },
            "profile": .string("ed25519-sha256"),
            "earlyPayments": map(earlyPayments.storage) { e in
                ["amountFen": .int(e.amountFen), "days": .int(e.days), "discountFen": .int(e.discountFen), "issuerId": id(e.issuerId),
                 "payoutFen": .int(e.payoutFen), "rateBps": .int(e.rateBps), "status": .string(e.status.rawValue),
                 "supplierId": id(e.supplierId), "tokenId": id(e.tokenId)]
            },
            "receivables": map(receivables.storage) { r in
                ["dueDate": .string(r.dueDate.description), "faceFen": .int(r.faceFen), "issuerId": id(r.issuerId),
                 "paidFen": .int(r.paidFen), "status": .string(r.status.rawValue), "termReview": .bool(r.termReview)]
            },
            "tokens": map(Dictionary(uniqueKeysWithValues: tokens.values.map { ($0.id, $0) })) { t in
                ["amountFen": .int(t.amountFen), "holderId": id(t.holderId), "parentId": t.parentId.map { id($0) } ?? .null,
                 "receivableId": id(t.receivableId), "status": .string(t.status.rawValue), "tier": .int(t.tier)]
            },
        ])
    }
}
