import Foundation

/// How a worker runs.
public struct WorkerConfiguration: Sendable {
    /// Jobs run at once.
    public var concurrency: Int
    /// Queues to take jobs from; empty means every queue.
    public var queues: [String]
    /// How long a claimed job stays ours without a renewal. Renewed every
    /// third of it; a worker that stops renewing loses its jobs to others.
    public var leaseSeconds: Double
    /// Exit once nothing is queued, retrying or running anywhere.
    public var drain: Bool
    /// How often a worker with jobs looks (stop requests, leases, new jobs
    /// for its free slots), and an idle one whose store cannot wake it. The
    /// check is one cheap change counter (`PRAGMA data_version`, or NOTIFYs
    /// counted), so it can be frequent.
    public var pollInterval: Double
    /// How often a worker with nothing running looks, when its store wakes
    /// it on changes (`JobStore.watchChanges`): the renewal of a short lease
    /// still comes in time.
    public var idlePollInterval: Double { min(1, leaseSeconds / 6) }
    public var retry: RetryPolicy
    /// A worker whose last this many attempts in a row failed on jobs that
    /// then succeeded on other workers pauses itself (0: never).
    public var failureStreakLimit: Int
    /// How long such a pause lasts before the worker tries again.
    public var failureStreakPause: Double

    public init(concurrency: Int = ProcessInfo.processInfo.activeProcessorCount, queues: [String] = [],
                leaseSeconds: Double = 30, drain: Bool = false, pollInterval: Double = 0.01, retry: RetryPolicy = RetryPolicy(),
                failureStreakLimit: Int = 5, failureStreakPause: Double = 300) {
        self.concurrency = concurrency
        self.queues = queues
        self.leaseSeconds = leaseSeconds
        self.drain = drain
        self.pollInterval = pollInterval
        self.retry = retry
        self.failureStreakLimit = failureStreakLimit
        self.failureStreakPause = failureStreakPause
    }
}
