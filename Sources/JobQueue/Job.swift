/// A job as the queue knows it: a kind plus a JSON payload, and its
/// bookkeeping. Times are seconds since 1970 (UTC).
public struct Job: Sendable, Equatable {
    public var id: Int64
    public var kind: String
    /// JSON text; only the job's handler reads it.
    public var payload: String
    public var queue: String
    public var priority: Int
    public var state: JobState
    public var attempts: Int
    public var maxAttempts: Int
    /// Not to be claimed before this time (backoff after a failed attempt).
    public var runAt: Double
    public var leaseOwner: String?
    public var leaseExpiresAt: Double?
    /// 0…1 while running.
    public var progress: Double?
    public var fps: Double?
    public var eta: Double?
    /// JSON text the handler returned on success.
    public var result: String?
    public var error: String?
    public var submittedAt: Double
    public var startedAt: Double?
    public var finishedAt: Double?
    public var batchID: Int64?
    public var weight: Double = 1

    /// The attempt a worker holds, to check its lease against.
    public var lease: LeasedJob { LeasedJob(id: id, attempt: attempts) }

    /// Queued again after a failed attempt, waiting for its backoff.
    public var isRetrying: Bool { state == .queued && attempts > 0 }
}

/// One attempt of one job: what a lease is checked against, so a worker
/// that lost a job can never complete it.
public struct LeasedJob: Hashable, Sendable {
    public var id: Int64
    public var attempt: Int

    public init(id: Int64, attempt: Int) {
        self.id = id
        self.attempt = attempt
    }
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

    public init(kind: String, payload: String, queue: String = "default", priority: Int = 0, maxAttempts: Int = 3,
                weight: Double = 1) {
        self.kind = kind
        self.payload = payload
        self.queue = queue
        self.priority = priority
        self.maxAttempts = maxAttempts
        self.weight = weight
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
