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
            "profile": .string(profile.rawValue),
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

extension JSON {
    /// What of a replayed state (`snapshotJSON`) differs from an `expected` one, section by
    /// section and object by object: the same ids, and for each the fields `expected` names (an
    /// earlier format's expected state names fewer fields than a replay now writes). Empty when
    /// they agree.
    public func differences(from expected: JSON) -> [String] {
        guard case .object(let sections) = expected else { return ["the expected state is not an object"] }
        var out: [String] = []
        for (key, want) in sections {
            guard case .object(let wantItems) = want else {
                if self[key.string] != want { out.append("\(key.string): expected \(want.canonicalString), got \(self[key.string]?.canonicalString ?? "nothing")") }
                continue
            }
            guard case .object(let got)? = self[key.string] else { out.append("missing \(key.string)"); continue }
            if Set(got.keys) != Set(wantItems.keys) { out.append("\(key.string): ids differ") }
            for (id, value) in wantItems {
                guard case .object(let fields) = value, case .object(let have)? = got[id] else { out.append("\(key.string) \(id.string) missing"); continue }
                for (field, v) in fields where have[field] != v {
                    out.append("\(key.string) \(id.string).\(field.string): expected \(v.canonicalString), got \(have[field]?.canonicalString ?? "nothing")")
                }
            }
        }
        return out
    }
}
