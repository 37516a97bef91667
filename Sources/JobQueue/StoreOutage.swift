import Foundation

/// A worker's view of a store that cannot be reached (a database restart,
/// a dropped connection, a full disk): since when, and when to try again,
/// with backoff. While it lasts the children keep encoding, and what they
/// report waits in the worker.
struct StoreOutage {
    private(set) var since: ContinuousClock.Instant
    private(set) var retryAt: ContinuousClock.Instant
    private var backoff: Duration

    /// The first failure of an outage.
    init(at now: ContinuousClock.Instant) {
        since = now
        backoff = .milliseconds(100)
        retryAt = now + backoff
    }

    /// Another failed try: wait longer, up to two seconds.
    mutating func failedAgain(at now: ContinuousClock.Instant) {
        backoff = min(backoff * 2, .seconds(2))
        retryAt = now + backoff
    }

    func isWaiting(at now: ContinuousClock.Instant) -> Bool {
        now < retryAt
    }

    /// How long it has lasted, for the log.
    func duration(at now: ContinuousClock.Instant) -> String {
        let elapsed = now - since
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return String(format: "%.1f s", seconds)
    }
}
