/// When each of a worker's periodic checks is next due. The worker's loop
/// wakes every `pollInterval` and asks which are; each check is then
/// rescheduled one interval on.
struct WorkerSchedule {
    enum Check: CaseIterable {
        /// `vqueue worker stop` from another process, read from the store.
        case stopRequest
        /// Whether each running job's lease still holds (a cancel, a takeover).
        case leases
        /// Heartbeat and lease renewal, silent workers, rescues.
        case renewal
        /// The running jobs' progress, written in one transaction.
        case progress
        /// With `--drain`: whether anything is left anywhere.
        case drain
        /// A claim attempt even without a change notice (a missed wake-up).
        case claim
        /// While unhealthy: whether the box can run jobs again.
        case health
    }

    private var next: [Check: ContinuousClock.Instant] = [:]
    private let intervals: [Check: Duration]

    /// `wokenOnChanges`: the store wakes the worker when another process
    /// changes it (`JobStore.watchChanges`): a claim without a change notice
    /// is only a safety net, made less often, and a stop request is looked
    /// for at each change (`expedite`) and otherwise less often.
    init(leaseSeconds: Double, wokenOnChanges: Bool = false) {
        intervals = [
            .stopRequest: wokenOnChanges ? .seconds(2) : .milliseconds(250),
            .leases: .milliseconds(250),
            .renewal: .milliseconds(Int64(leaseSeconds * 1000 / 3)),
            .progress: .milliseconds(500),
            .drain: .milliseconds(100),
            .claim: wokenOnChanges ? .seconds(5) : .seconds(1),
            .health: .seconds(2),
        ]
    }

    /// Whether `check` is due at `now`; if so it is rescheduled.
    mutating func isDue(_ check: Check, at now: ContinuousClock.Instant) -> Bool {
        if let due = next[check], now < due { return false }
        next[check] = now + intervals[check]!
        return true
    }

    /// Makes `check` due one interval after `instant` (when a slow check
    /// ended, rather than when it began).
    mutating func restart(_ check: Check, from instant: ContinuousClock.Instant) {
        next[check] = instant + intervals[check]!
    }

    /// Makes `check` due at the next look.
    mutating func expedite(_ check: Check) {
        next[check] = nil
    }
}
