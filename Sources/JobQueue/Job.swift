/// A job as the queue knows it: a kind plus a JSON payload, and its
/// bookkeeping. Times are seconds since 1970 (UTC) on the store's clock.
public struct Job: Sendable, Equatable {
    public var id: Int64
    public var kind: String
    /// JSON text; only the job's handler reads it.
    public var payload: String
    public var queue: String
    public var priority: Int
    public var state: JobState
    /// The number of the latest attempt. It only ever grows (a retry does
    /// not reset it), so an attempt's number is never handed out twice and
    /// a lease names one attempt forever.
    public var attempts: Int
    /// Attempts before this number are not counted against `maxAttempts`
    /// (they were before a retry by hand, or stopped by a worker's shutdown).
    public var attemptBase: Int = 0
    public var maxAttempts: Int
    /// Not to be claimed before this time (backoff after a failed attempt).
    public var runAt: Double
    /// The worker that ran the latest attempt.
    public var leaseOwner: String?
    /// While set, the latest attempt may still be running somewhere: a
    /// running job's lease, or a cancelled one whose worker has not yet
    /// confirmed that it stopped (the job is not claimed again before).
    public var leaseExpiresAt: Double?
    /// 0…1 while running.
    public var progress: Double?
    public var fps: Double?
    public var eta: Double?
    /// JSON text the handler returned on success.
    public var result: String?
    public var error: String?
    /// A stable, machine-readable name for `error` (`input_unreadable`, `lost_lease`…).
    public var errorCode: String?
    public var submittedAt: Double
    public var startedAt: Double?
    public var finishedAt: Double?
    public var batchID: Int64?
    public var weight: Double = 1
    /// What the job writes; at most one unfinished job per target.
    public var target: String?
    /// The submitter's idempotency key (`submit --key`).
    public var key: String?
    /// Set while the latest attempt's result is being put in place.
    public var publishing: String?
    /// The submitter's opaque strings (`submit --meta`).
    public var meta: JobMeta = .none
    /// Where the job's end is announced (`submit --notify`), besides the farm's URL.
    public var notify: String?
    /// The job this one is a part of (`NewJob.parts`), if any.
    public var parentID: Int64?

    public init(id: Int64, kind: String, payload: String, queue: String, priority: Int, state: JobState, attempts: Int,
                maxAttempts: Int, runAt: Double, submittedAt: Double) {
        self.id = id
        self.kind = kind
        self.payload = payload
        self.queue = queue
        self.priority = priority
        self.state = state
        self.attempts = attempts
        self.maxAttempts = maxAttempts
        self.runAt = runAt
        self.submittedAt = submittedAt
    }

    /// Attempts spent against `maxAttempts`.
    public var attemptsUsed: Int { max(0, attempts - attemptBase) }

    /// The attempt a worker holds, to check its lease against.
    public var lease: LeasedJob { LeasedJob(id: id, attempt: attempts) }

    /// Queued again after a failed attempt, waiting for its backoff.
    public var isRetrying: Bool { state == .queued && attemptsUsed > 0 }

    /// Failed before its attempts were used up: the failure was permanent.
    public var failedWithoutRetry: Bool { state == .failed && attemptsUsed < maxAttempts }
}

/// One attempt of one job: what a lease is checked against, so a worker
/// that lost a job can never complete it.
public struct LeasedJob: Hashable, Sendable, CustomStringConvertible {
    public var id: Int64
    public var attempt: Int

    public init(id: Int64, attempt: Int) {
        self.id = id
        self.attempt = attempt
    }

    public var description: String { "job \(id) attempt \(attempt)" }
}

/// What `submit` stores.
public struct NewJob: Sendable {
    public var kind: String
    public var payload: String
    public var queue: String
    public var priority: Int
    public var maxAttempts: Int
    /// How much the job counts in its batch's progress (e.g. media seconds).
    public var weight: Double
    /// What the job writes (a transcode's output path): refused while another
    /// unfinished job has the same target.
    public var target: String?
    /// When a job with this key exists, whatever its state, submitting
    /// returns it instead of queueing another.
    public var key: String?
    /// The submitter's opaque strings, returned with the job.
    public var meta: JobMeta
    /// A URL told when the job ends (and its batch, if any).
    public var notify: String?
    /// Jobs this one is made of, queued with it: it waits (`JobState.waiting`)
    /// until they have all succeeded, then runs itself. Each part is an
    /// ordinary job (any worker claims it, with its own lease, attempts and
    /// events) whose `parentID` names this one; parts belong to no batch,
    /// are announced to no URL, and are pruned with their whole. A part's own
    /// parts are ignored.
    public var parts: [NewJob] = []

    public init(kind: String, payload: String, queue: String = "default", priority: Int = 0, maxAttempts: Int = 3,
                weight: Double = 1, target: String? = nil, key: String? = nil, meta: JobMeta = .none,
                notify: String? = nil) {
        self.kind = kind
        self.payload = payload
        self.queue = queue
        self.priority = priority
        self.maxAttempts = maxAttempts
        self.weight = weight
        self.target = target
        self.key = key
        self.meta = meta
        self.notify = notify
    }
}

extension NewJob {
    /// What the job and its parts write.
    var allTargets: [String] { ([target] + parts.map(\.target)).compactMap { $0 } }
}

/// A submitted job, and whether this submit queued it or found it by its key.
public struct Submitted: Sendable, Equatable {
    public var job: Job
    /// False when a job with the same key existed already.
    public var isNew: Bool

    public init(job: Job, isNew: Bool) {
        self.job = job
        self.isNew = isNew
    }
}

/// The latest progress of a running attempt.
public struct JobProgress: Sendable, Equatable {
    public var fraction: Double
    public var fps: Double?
    public var eta: Double?

    public init(fraction: Double, fps: Double? = nil, eta: Double? = nil) {
        self.fraction = fraction
        self.fps = fps
        self.eta = eta
    }
}
