/// Where jobs live, split by who asks: workers lease jobs, operators and
/// submitters administer them, everyone monitors. One SQL store implements
/// all three on SQLite and PostgreSQL (`SQLJobStore`, opened by
/// `QueueLocation`); the queue's semantics (DESIGN.md §3) are the same on both.
///
/// Times are measured on the store's clock, never a worker's own, so that
/// leases mean the same thing to every process that reads them.
public typealias JobStore = JobLeasing & JobAdministration & JobMonitoring & NotificationOutbox

/// What a worker does with the store.
public protocol JobLeasing: Sendable {
    func registerWorker(_ worker: WorkerRecord) async throws
    /// Extends the leases of the worker's running jobs and its heartbeat,
    /// in one write; returns the store's time of the heartbeat.
    @discardableResult
    func heartbeat(worker: String, jobs: [LeasedJob], leaseSeconds: Double) async throws -> Double
    /// Marks the worker unhealthy with a reason (nil: healthy again), with an event.
    func setHealth(worker: String, problem: String?) async throws
    /// The worker has begun to stop (finishing its running jobs).
    func workerStopping(id: String, reason: String) async throws
    func workerStopped(id: String) async throws
    /// Marks workers that missed their heartbeats as gone (with an event):
    /// those whose last heartbeat's lease had run out by `before` (the
    /// store's time; nil: now). Never `caller`, which is alive since it asks.
    func markSilentWorkers(except caller: String?, before: Double?) async throws -> [WorkerRecord]
    /// What this worker has been asked through the store (`vqueue worker stop`).
    func stopRequest(worker id: String) async throws -> ShutdownRequest.Level

    /// Leases up to `limit` due jobs from `queues` (all queues when empty),
    /// highest priority first, then oldest, in one short transaction. Each
    /// claim starts a new attempt with a number never used before. Jobs in
    /// `excluding` are left to other workers.
    func claim(worker: String, queues: [String], limit: Int, leaseSeconds: Double, excluding: [Int64]) async throws -> [Job]
    /// Of these leases, the ones the worker no longer holds (job cancelled,
    /// lease expired and taken over).
    func leasesLost(worker: String, jobs: [LeasedJob]) async throws -> Set<LeasedJob>
    func recordProgress(_ updates: [LeasedJob: JobProgress]) async throws
    /// Records, for each attempt whose lease still holds, the publication
    /// about to be made, and extends its lease; returns the attempts that held.
    func beginPublishing(_ publications: [PendingPublication], worker: String, leaseSeconds: Double) async throws -> Set<LeasedJob>
    /// Marks attempts succeeded, each only if the worker still holds it;
    /// returns the ones recorded.
    func complete(_ completions: [JobCompletion], worker: String) async throws -> Set<LeasedJob>
    /// Records a failed attempt as decided: queued again after
    /// `decision.retryAfter`, or failed for good. False when the lease no longer held.
    func fail(_ job: LeasedJob, worker: String, decision: AttemptDecision) async throws -> Bool
    /// Puts jobs back in the queue without spending their attempt (a worker
    /// stopped by force, a box that cannot reach the job's files).
    func release(_ jobs: [LeasedJob], worker: String, reason: String, code: String, delay: Double) async throws
    /// The worker stopped the attempt of a job that was cancelled while it
    /// ran: the job may be claimed again (after a retry).
    func settleStopped(_ jobs: [LeasedJob], worker: String) async throws
    /// Re-queues or fails (as `AttemptDecision` says) running jobs whose
    /// lease expired, and reports what else a dead worker left: publications
    /// to finish, attempts to clean up. Never touches the attempts `caller`
    /// holds: a worker that asks is alive, and one whose own heartbeat was
    /// late (its writes waited behind a lock) must not rescue its jobs from
    /// itself. Attempts under its name that it does not hold (a claim whose
    /// answer it never got) are rescued like any other.
    ///
    /// Only leases that had run out by `before` (the store's time; nil:
    /// now) are taken. A worker passes its latest heartbeat's time, or,
    /// when that heartbeat was held up (nobody could write for a while: a
    /// lock held, a disk stalled in fsync, a frozen server), its previous
    /// one: a lease that ran out meanwhile is left to its owner until the
    /// rescuer's next heartbeat (measured before this: on a loaded machine
    /// a busy worker's and a rescuer's writes both waited a second, and the
    /// rescuer got the lock first and took a healthy job).
    func rescue(retry: RetryPolicy, by caller: String?, holding: Set<LeasedJob>, expiredBefore before: Double?) async throws
        -> RescueReport
    /// Takes over a dead worker's publication (same attempt), to finish it.
    func takeOverPublication(_ job: Job, worker: String, leaseSeconds: Double) async throws -> Bool
    /// Forgets an abandoned attempt once its leftovers are removed.
    func clearAbandoned(_ job: LeasedJob) async throws

    /// Throws `StoreUnavailable` when the database is no longer the one
    /// opened (an SQLite file removed or replaced).
    func checkIdentity() throws
    /// Makes the call in progress give up now (a worker asked to stop).
    func interrupt()
}

extension JobAdministration {
    public func retry(id: Int64) async throws -> Job? {
        try await retry(id: id, payload: nil)
    }

    public func retryBatch(id: Int64) async throws -> [Job]? {
        try await retryBatch(id: id, payloads: [:])
    }
}

extension JobLeasing {
    /// A rescue by no worker in particular (tests, tools).
    public func rescue(retry: RetryPolicy) async throws -> RescueReport {
        try await rescue(retry: retry, by: nil, holding: [], expiredBefore: nil)
    }

    public func markSilentWorkers() async throws -> [WorkerRecord] {
        try await markSilentWorkers(except: nil, before: nil)
    }

    /// Claims without leaving any job to others.
    public func claim(worker: String, queues: [String], limit: Int, leaseSeconds: Double) async throws -> [Job] {
        try await claim(worker: worker, queues: queues, limit: limit, leaseSeconds: leaseSeconds, excluding: [])
    }
}

/// What submitters and operators do.
public protocol JobAdministration: Sendable {
    /// Queues the jobs in one transaction: all of them or none. A job whose
    /// key exists already is returned as it stands (`isNew` false); a target
    /// held by an unfinished job refuses the whole submit with
    /// `JobStoreError.targetBusy`.
    func submit(_ jobs: [NewJob]) async throws -> [Submitted]
    /// Queues the jobs as one new batch, all or none; returns the batch id.
    func submitBatch(_ jobs: [NewJob]) async throws -> (batchID: Int64, jobs: [Job])
    /// Cancels a queued or running job (not one whose result is being put
    /// in place); returns the job as it now stands.
    func cancel(id: Int64) async throws -> Job?
    /// Cancels a batch's queued and running jobs; returns the batch's jobs.
    func cancelBatch(id: Int64) async throws -> [Job]?
    /// Queues a failed or cancelled job again with its attempts counted
    /// afresh (their numbers go on from the last one), with `payload` in
    /// place of its old one when given (what the submitter's checks,
    /// made again, recorded).
    func retry(id: Int64, payload: String?) async throws -> Job?
    /// Queues a batch's failed jobs again (with new payloads for the jobs
    /// given); returns the batch's jobs.
    func retryBatch(id: Int64, payloads: [Int64: String]) async throws -> [Job]?
    /// Asks workers (one, or all live ones when `id` is nil) to stop;
    /// returns the ids asked.
    func requestStop(worker id: String?, level: ShutdownRequest.Level) async throws -> [String]
    /// Deletes finished jobs (in `states`) that finished before `before`,
    /// and their events, in short transactions; returns how many jobs. Parts
    /// go with their whole (and count), never before it. `wholesDeleted`
    /// hears of the jobs made of parts once they are deleted (they can no
    /// longer be retried: what was kept for a retry may go).
    func prune(finishedBefore before: Double, states: [JobState],
               wholesDeleted: (@Sendable ([Job]) async -> Void)?) async throws -> Int
    /// Gives freed space back to the file system: little by little where the
    /// database allows it (never blocking workers for long), or, with
    /// `full`, in one pass that blocks writers while it runs.
    func compact(full: Bool) async throws
}

/// Announcements of jobs' and batches' ends (`JobNotification`), written by the
/// store itself when a job ends; delivered by workers.
public protocol NotificationOutbox: Sendable {
    /// Leases up to `limit` notifications due now, oldest first; each claim
    /// counts an attempt.
    func claimNotifications(worker: String, limit: Int, leaseSeconds: Double) async throws -> [JobNotification]
    /// Records how an attempt ended, if the worker still holds the lease;
    /// a delivery's end (delivered, failed for good) is an event too.
    func recordNotification(_ notification: JobNotification, worker: String, outcome: NotificationOutcome) async throws
    /// A job's notifications, oldest first.
    func notifications(job id: Int64) async throws -> [JobNotification]
    /// The URL told of every job's end (`worker --notify`), if any.
    func farmNotifyURL() async throws -> String?
    func setFarmNotifyURL(_ url: String?) async throws
}

/// What became of a delivery attempt, as recorded.
public enum NotificationOutcome: Sendable, Equatable {
    case delivered(status: Int)
    /// For good: refused by the receiver, or retried for too long.
    case failed(status: Int?, reason: String)
    case retry(status: Int?, reason: String, after: Double)
}

/// What everyone reads.
public protocol JobMonitoring: Sendable {
    func job(id: Int64) async throws -> Job?
    /// The job submitted with this idempotency key, if any.
    func job(key: String) async throws -> Job?
    /// Newest first.
    func jobs(state: JobState?, limit: Int) async throws -> [Job]
    /// Newest first, in one state and one queue when given, with ids below
    /// `before` when given (the next page: the last id of this one).
    func jobs(state: JobState?, queue: String?, before: Int64?, limit: Int) async throws -> [Job]
    /// A batch's jobs in id order, or nil when there is no such batch.
    func batch(id: Int64) async throws -> [Job]?
    /// A batch's counts and progress in one cheap query (for polling).
    func batchSummary(id: Int64) async throws -> BatchSummary?
    /// The parts of a job (`NewJob.parts`) in id order; empty for a job without.
    func parts(of id: Int64) async throws -> [Job]
    /// The parts' counts and progress, as for a batch (its `id` is the whole's).
    func partsSummary(of id: Int64) async throws -> BatchSummary
    /// Every worker known, newest first, with its running job count.
    func workers() async throws -> [WorkerRecord]
    /// Jobs queued (including those waiting to retry), running, or waiting for their parts.
    func unfinishedCount() async throws -> Int
    /// The same, in these queues only (all for none).
    func unfinishedCount(queues: [String]) async throws -> Int
    /// Queued jobs per queue and priority.
    func queueDepths() async throws -> [QueueDepth]
    /// Jobs that succeeded and failed since `since`.
    func finishedCounts(since: Double) async throws -> (succeeded: Int, failed: Int)
    /// Changes when `change` may have happened (SQLite: whenever another
    /// connection commits; PostgreSQL: on a NOTIFY). Cheap to poll often; a
    /// poller still looks now and then without a change (a missed wake-up).
    func changeToken(for change: StoreChange) async throws -> Int64
    /// Calls `wake`, from a thread of its own, soon after another process
    /// may have changed the store (a submit, a cancel, a stop request), until
    /// the returned function is called: an idle worker sleeps between slow
    /// polls and still starts a new job at once. nil when the store cannot
    /// tell; the caller then polls.
    func watchChanges(_ wake: @escaping @Sendable () -> Void) -> (@Sendable () -> Void)?
    /// Events with an id above `after`, oldest first.
    func events(after: Int64, job: Int64?, limit: Int) async throws -> [JobEvent]
    /// The store's clock, seconds since 1970.
    func now() async throws -> Double
    /// The database for messages (a path, or a URL without its password).
    var displayName: String { get }
}

/// What a poller of `changeToken` waits for.
public enum StoreChange: Sendable, CaseIterable {
    /// A job became queued (submitted or retried): idle workers look.
    case jobQueued
    /// An event was recorded: `events --follow` looks.
    case event
}

/// Refusals of the queue's own rules.
public enum JobStoreError: Error, Equatable, CustomStringConvertible {
    /// Another unfinished job writes the same target.
    case targetBusy(target: String, jobID: Int64)

    public var description: String {
        switch self {
        case .targetBusy(let target, let jobID):
            return "job \(jobID) is already queued or running to write \(target); wait for it, or cancel it first"
        }
    }
}

/// A publication a worker is about to make (`Publication`), as recorded first.
public struct PendingPublication: Sendable {
    public var job: LeasedJob
    public var token: String
    /// Recorded with it, so a worker that finishes the publication has it.
    public var result: String?

    public init(job: LeasedJob, token: String, result: String?) {
        self.job = job
        self.token = token
        self.result = result
    }
}

/// A finished attempt to record as succeeded.
public struct JobCompletion: Sendable {
    public var job: LeasedJob
    public var result: String?

    public init(job: LeasedJob, result: String?) {
        self.job = job
        self.result = result
    }
}

/// What `rescue` found.
public struct RescueReport: Sendable {
    /// Jobs re-queued or failed because their worker stopped renewing the lease.
    public var rescued: [Job] = []
    /// Jobs whose worker died while publishing: another worker takes them
    /// over and finishes (`takeOverPublication`).
    public var publications: [Job] = []
    /// Finished or queued jobs whose last attempt's worker died before it
    /// confirmed the attempt stopped: its leftovers are to be removed
    /// (`JobHandler.discard`), then `clearAbandoned`.
    public var abandoned: [Job] = []

    public init() {}
}

/// A batch in numbers (what a progress bar needs), without its jobs.
public struct BatchSummary: Sendable, Equatable {
    public var id: Int64
    public var counts: [JobState: Int]
    /// Queued jobs that have failed before and wait for their next attempt.
    public var retrying: Int
    /// The sum of the jobs' weights, and the part of it done.
    public var totalWeight: Double
    public var doneWeight: Double
    /// When the batch's first job started, if any has.
    public var firstStart: Double?
    /// Frames per second of its running jobs together.
    public var fps: Double = 0

    public var total: Int { counts.values.reduce(0, +) }
    public var isFinished: Bool { counts.filter { !$0.key.isFinished }.values.reduce(0, +) == 0 }
    public var progress: Double { totalWeight > 0 ? min(1, doneWeight / totalWeight) : 1 }
    /// Jobs that ended, however they ended.
    public var finished: Int { counts.filter { $0.key.isFinished }.values.reduce(0, +) }

    public init(id: Int64, counts: [JobState: Int], retrying: Int, totalWeight: Double, doneWeight: Double, firstStart: Double?) {
        self.id = id
        self.counts = counts
        self.retrying = retrying
        self.totalWeight = totalWeight
        self.doneWeight = doneWeight
        self.firstStart = firstStart
    }
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
    /// Why the worker does not take jobs at the moment (a missing folder).
    public var unhealthyReason: String?
    public var unhealthyAt: Double?
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

    public enum State: String, Sendable, CaseIterable {
        case alive, unhealthy, stopping, stopped, gone
    }

    /// Gone when stopped without saying so: no heartbeat within its lease time.
    public func state(at now: Double) -> State {
        if stoppedAt != nil { return .stopped }
        if goneAt != nil || now - heartbeatAt > leaseSeconds { return .gone }
        if stoppingAt != nil || stopRequested != .none { return .stopping }
        if unhealthyReason != nil { return .unhealthy }
        return .alive
    }
}

/// One event: a job's state change (`kind` "job") or a worker coming
/// online, stopping, stopped, gone offline, unhealthy or healthy again
/// (`kind` "worker").
public struct JobEvent: Sendable, Equatable {
    public var id: Int64
    public var kind: String
    public var jobID: Int64?
    public var at: Double
    /// For jobs, the state before (nil on submit).
    public var from: String?
    /// For jobs, the new state; for workers online, stopping, stopped,
    /// offline, unhealthy, healthy.
    public var to: String
    public var worker: String?
    public var detail: String?
    public var errorCode: String?
    /// For jobs, the job's meta (none once the job was pruned).
    public var meta: JobMeta = .none
    /// For a part's events, the job it is part of (`Job.parentID`).
    public var parentID: Int64?
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
