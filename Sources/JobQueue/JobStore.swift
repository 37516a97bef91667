/// Where jobs live. The queue's semantics (DESIGN.md §3) are the same on
/// every store; SQLite comes first, PostgreSQL follows with the same claim
/// shape (`FOR UPDATE SKIP LOCKED`).
///
/// Times are measured on the store's clock (`now`), never a worker's own,
/// so that leases mean the same thing to every process that reads them.
public protocol JobStore: Sendable {
    /// Queues the jobs in one transaction: all of them or none.
    func submit(_ jobs: [NewJob]) async throws -> [Job]
    /// Queues the jobs as one new batch, all or none; returns the batch id.
    func submitBatch(_ jobs: [NewJob]) async throws -> (batchID: Int64, jobs: [Job])
    /// A batch's jobs in id order, or nil when there is no such batch.
    func batch(id: Int64) async throws -> [Job]?
    /// Cancels a batch's queued and running jobs; returns the batch's jobs.
    func cancelBatch(id: Int64) async throws -> [Job]?
    /// Queues a batch's failed jobs again; returns the batch's jobs.
    func retryBatch(id: Int64) async throws -> [Job]?
    func job(id: Int64) async throws -> Job?
    /// Newest first.
    func jobs(state: JobState?, limit: Int) async throws -> [Job]

    /// Leases up to `limit` due jobs from `queues` (all queues when empty),
    /// highest priority first, then oldest, in one short transaction.
    func claim(worker: String, queues: [String], limit: Int, leaseSeconds: Double) async throws -> [Job]
    /// Extends the leases of the worker's running jobs and its heartbeat, in
    /// one write.
    func renewLeases(worker: String, jobs: [LeasedJob], leaseSeconds: Double) async throws
    /// Of these leases, the ones the worker no longer holds (job cancelled,
    /// lease expired and taken over).
    func leasesLost(worker: String, jobs: [LeasedJob]) async throws -> Set<LeasedJob>
    func recordProgress(_ updates: [LeasedJob: JobProgress]) async throws
    /// Marks jobs succeeded, each only if its lease still holds; a
    /// completion's `commit` runs inside the same transaction, before the
    /// job is marked, so "output in place" and "succeeded" go together.
    func complete(_ completions: [JobCompletion]) async throws -> [LeasedJob: CompletionResult]
    /// Fails an attempt: back to `queued` for another attempt in
    /// `retryAfter` seconds (on the store's clock) when given, else failed
    /// for good. False when the lease no longer held.
    func fail(_ job: LeasedJob, worker: String, error: String, retryAfter: Double?) async throws -> Bool
    /// Puts jobs back in the queue without spending their attempt (a worker
    /// stopped by force).
    func release(_ jobs: [LeasedJob], worker: String, reason: String) async throws
    /// Re-queues running jobs whose lease expired (their worker died),
    /// failing those whose attempts are used up. Returns the jobs touched.
    func rescueExpiredLeases(retry: RetryPolicy) async throws -> [Job]

    /// Cancels a queued or running job; returns the job as it now stands.
    func cancel(id: Int64) async throws -> Job?
    /// Queues a failed or cancelled job again with fresh attempts.
    func retry(id: Int64) async throws -> Job?

    func registerWorker(_ worker: WorkerRecord) async throws
    /// The worker has begun to stop (finishing its running jobs).
    func workerStopping(id: String, reason: String) async throws
    func workerStopped(id: String) async throws
    /// Marks workers that missed their heartbeats as gone (with an event).
    func markSilentWorkers() async throws -> [WorkerRecord]
    /// Every worker known, newest first, with its running job count.
    func workers() async throws -> [WorkerRecord]
    /// Asks workers (one, or all live ones when `id` is nil) to stop;
    /// returns the ids asked.
    func requestStop(worker id: String?, level: ShutdownRequest.Level) async throws -> [String]
    /// What this worker has been asked through the store.
    func stopRequest(worker id: String) async throws -> ShutdownRequest.Level
    /// Deletes finished jobs (in `states`) that finished before `before`, and
    /// their events; returns how many jobs.
    func prune(finishedBefore before: Double, states: [JobState]) async throws -> Int
    /// Jobs queued (including those waiting to retry) or running.
    func unfinishedCount() async throws -> Int
    /// Queued jobs per queue and priority.
    func queueDepths() async throws -> [QueueDepth]
    /// Jobs that succeeded and failed since `since`.
    func finishedCounts(since: Double) async throws -> (succeeded: Int, failed: Int)
    /// Changes when `change` may have happened (on SQLite: whenever another
    /// connection commits; on PostgreSQL: on a NOTIFY). Cheap to poll often;
    /// a poller still looks now and then without a change (a missed wake-up).
    func changeToken(for change: StoreChange) async throws -> Int64
    /// Events with an id above `after`, oldest first.
    func events(after: Int64, job: Int64?, limit: Int) async throws -> [JobEvent]
    /// The store's clock, seconds since 1970.
    func now() async throws -> Double
}

/// What a poller of `changeToken` waits for.
public enum StoreChange: Sendable, CaseIterable {
    /// A job became queued (submitted or retried): idle workers look.
    case jobQueued
    /// An event was recorded: `events --follow` looks.
    case event
}

/// A finished attempt to record, with the step that makes its result real
/// (for a transcode: renaming the temporary file into place).
public struct JobCompletion: Sendable {
    public var job: LeasedJob
    public var worker: String
    public var result: String?
    public var commit: @Sendable () throws -> Void

    public init(job: LeasedJob, worker: String, result: String?, commit: @escaping @Sendable () throws -> Void) {
        self.job = job
        self.worker = worker
        self.result = result
        self.commit = commit
    }
}

extension [JobCompletion] {
    /// Runs the commit step of each completion whose attempt is `held`
    /// (checked, and locked, in the store's transaction); the store then
    /// marks the `.succeeded` ones in that same transaction.
    func commitHeld(_ held: Set<LeasedJob>) -> [LeasedJob: CompletionResult] {
        var results: [LeasedJob: CompletionResult] = [:]
        for completion in self {
            guard held.contains(completion.job) else {
                results[completion.job] = .leaseLost
                continue
            }
            do {
                try completion.commit()
                results[completion.job] = .succeeded
            } catch {
                results[completion.job] = .commitFailed(String(describing: error))
            }
        }
        return results
    }
}

public enum CompletionResult: Sendable, Equatable {
    case succeeded
    /// The worker no longer held the job; nothing was committed.
    case leaseLost
    /// The commit step threw; the job is still running and its lease held.
    case commitFailed(String)
}

/// A worker process as the store knows it.
public struct WorkerRecord: Sendable, Equatable {
    public var id: String
    public var host: String
    public var pid: Int
    public var concurrency: Int
    public var queues: [String]
    public var leaseSeconds: Double
    public var startedAt: Double = 0
    public var heartbeatAt: Double = 0
    public var stopRequested = ShutdownRequest.Level.none
    public var stoppingAt: Double?
    public var stoppedAt: Double?
    public var goneAt: Double?
    public var jobsDone = 0
    public var jobsFailed = 0
    public var runningJobs = 0

    public init(id: String, host: String, pid: Int, concurrency: Int, queues: [String], leaseSeconds: Double) {
        self.id = id
        self.host = host
        self.pid = pid
        self.concurrency = concurrency
        self.queues = queues
        self.leaseSeconds = leaseSeconds
    }

    public enum State: String, Sendable {
        case alive, stopping, stopped, gone
    }

    /// Gone when stopped without saying so: no heartbeat within its lease time.
    public func state(at now: Double) -> State {
        if stoppedAt != nil { return .stopped }
        if goneAt != nil || now - heartbeatAt > leaseSeconds { return .gone }
        if stoppingAt != nil || stopRequested != .none { return .stopping }
        return .alive
    }
}

/// One event: a job's state change (`kind` "job") or a worker coming
/// online, stopping, stopped or gone offline (`kind` "worker").
public struct JobEvent: Sendable, Equatable {
    public var id: Int64
    public var kind: String
    public var jobID: Int64?
    public var at: Double
    /// For jobs, the state before (nil on submit).
    public var from: String?
    /// For jobs, the new state; for workers online, stopping, stopped, offline.
    public var to: String
    public var worker: String?
    public var detail: String?
}

/// How many jobs wait in one queue at one priority.
public struct QueueDepth: Sendable, Equatable {
    public var queue: String
    public var priority: Int
    public var count: Int

    public init(queue: String, priority: Int, count: Int) {
        self.queue = queue
        self.priority = priority
        self.count = count
    }
}
