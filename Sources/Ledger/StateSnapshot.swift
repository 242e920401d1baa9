/// The replayed state in the shape of `shared/vectors/expected-state.json`: every credit line,
/// financing, receivable and token by id, with the fields any replayer must agree on.
extension LedgerState {
    public var snapshotJSON: JSON {
        func map<V>(_ items: [String: V], _ f: (V) -> JSON) -> JSON { .object(items.mapValues(f)) }
        return .object([
            "creditLines": map(creditLines) { l in
                ["bankId": .string(l.bankId), "coreId": .string(l.coreId), "limitFen": .int(l.limitFen),
                 "rateBps": .int(l.rateBps), "usedFen": .int(l.usedFen)]
            },
            "financings": map(financings) { f in
                ["amountFen": .int(f.amountFen), "bankId": .string(f.bankId), "days": .int(f.days),
                 "interestFen": .int(f.interestFen), "payoutFen": .int(f.payoutFen), "rateBps": .int(f.rateBps),
                 "status": .string(f.status.rawValue), "supplierId": .string(f.supplierId), "tokenId": .string(f.tokenId)]
            },
            "receivables": map(receivables) { r in
                ["dueDate": .string(r.dueDate.description), "faceFen": .int(r.faceFen), "issuerId": .string(r.issuerId),
                 "paidFen": .int(r.paidFen), "status": .string(r.status.rawValue)]
            },
            "tokens": map(tokens) { t in
                ["amountFen": .int(t.amountFen), "holderId": .string(t.holderId), "parentId": t.parentId.map(JSON.string) ?? .null,
                 "receivableId": .string(t.receivableId), "status": .string(t.status.rawValue), "tier": .int(t.tier)]
            },
        ])
    }
}
