import Ledger

/// What a caller gets back once its transaction's block is committed: the effects, and every
/// object the transaction touched as it stood right after it.
public struct Outcome: Sendable {
    public var effects: TxEffects
    public var blockHeight: Int64
    public var tokens: [Token]
    public var receivable: Receivable?
    public var financings: [Financing]
    public var creditLine: CreditLine?
    public var earlyPayments: [EarlyPayment] = []
}
