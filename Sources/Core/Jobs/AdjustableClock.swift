import Foundation
import Ledger
import NIOCore
import SQLKit
import class Vapor.Application
import struct Vapor.Environment
import protocol Vapor.StorageKey

/// The business clock of a running server: the system clock, moved forward by an offset that
/// only the admin clock route (development and testing) may set. Never moves backwards.
package final class AdjustableClock: LedgerClock, @unchecked Sendable {
    private let lock = NSLock()
    private var offsetMs: Int64 = 0
    private let base: any LedgerClock

    package init(base: any LedgerClock = SystemClock()) { self.base = base }

    package func nowMs() -> Int64 { lock.withLock { base.nowMs() + offsetMs } }

    /// Moves the clock forward to at least `ms`: a server started again on a chain whose clock
    /// was moved (a demo at maturity) goes on from the chain's last block, not from before it.
    package func catchUp(to ms: Int64) {
        lock.withLock { offsetMs = max(offsetMs, ms - base.nowMs()) }
    }

    /// Sets the clock `days` back: only for seeding a history on an empty chain, before anything
    /// is written (`catchUp` then brings it to the present again).
    package func rewind(days: Int64) {
        lock.withLock { offsetMs -= days * 86_400_000 }
    }

    /// Moves the business date forward to `day` (the same time of day); refuses to go back.
    package func move(to day: BusinessDate) throws {
        try lock.withLock {
            let now = base.nowMs() + offsetMs
            let delta = BusinessDate(epochMs: now).days(until: day)
            guard delta >= 0 else { throw LedgerError.invalid("today", "must not be before the current business date \(BusinessDate(epochMs: now))") }
            offsetMs += delta * 86_400_000
        }
    }
}
