import Foundation
import Ledger
import class Vapor.Application
import protocol Vapor.StorageKey

/// A time source the sequencer and the jobs read; tests move it by hand.
public protocol LedgerClock: Sendable {
    func nowMs() -> Int64
}

public struct SystemClock: LedgerClock {
    public init() {}
    public func nowMs() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }
}

extension Application {
    private struct ClockKey: StorageKey {
        package typealias Value = any LedgerClock
    }

    /// The business clock: the system clock unless something (a test, the admin clock) sets another.
    package var ledgerClock: any LedgerClock {
        get { storage[ClockKey.self] ?? SystemClock() }
        set { storage[ClockKey.self] = newValue }
    }

    /// Today's business date (Asia/Shanghai) on the ledger's clock.
    package var businessDate: BusinessDate { BusinessDate(epochMs: ledgerClock.nowMs()) }

    private struct WallClockKey: StorageKey {
        package typealias Value = any LedgerClock
    }

    /// Real time, for what the business date must not move: sessions, sign-in throttling, the
    /// audit log, upload times. Tests set their own.
    package var wallClock: any LedgerClock {
        get { storage[WallClockKey.self] ?? SystemClock() }
        set { storage[WallClockKey.self] = newValue }
    }
}
