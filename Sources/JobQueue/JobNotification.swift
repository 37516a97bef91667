/// An announcement that a job or a batch ended, to one URL: a row of the
/// store's outbox, written by the transaction that ended the job
/// (`QueueSchema.notificationStatements`) and delivered by a worker
/// (`NotificationDeliverer`), at least once.
public struct JobNotification: Sendable, Equatable {
    public var id: Int64
    /// The job that ended (for a batch, the last one).
    public var jobID: Int64?
    /// Set for a batch's end.
    public var batchID: Int64?
    public var url: String
    /// `job.succeeded`, `job.failed`, `job.cancelled` or `batch.ended`.
    public var event: String
    /// The job as it ended (a job may run again before its end is announced).
    public var jobState: String?
    public var error: String?
    public var errorCode: String?
    public var result: String?
    /// When the job or batch ended.
    public var at: Double
    public var state: State
    /// Delivery attempts so far, this one included once claimed.
    public var attempts: Int
    public var lastStatus: Int?
    public var lastError: String?
    /// Seconds since `at`, on the store's clock, when claimed.
    public var age: Double = 0

    public init(id: Int64, url: String, event: String, at: Double, state: State = .pending, attempts: Int = 0) {
        self.id = id
        self.url = url
        self.event = event
        self.at = at
        self.state = state
        self.attempts = attempts
    }

    public enum State: String, Sendable, CaseIterable {
        case pending, delivered, failed
    }

    /// How long a notification is retried before it is marked failed.
    public static let retryWindow: Double = 24 * 3600

    /// The pause after failed attempt `attempt` (1-based): soon at first
    /// (a receiver restarting), then longer, an hour at most.
    public static func retryDelay(afterAttempt attempt: Int) -> Double {
        let delays: [Double] = [2, 5, 15, 30, 60, 120, 300, 600, 1200, 1800]
        return attempt <= delays.count ? delays[max(attempt, 1) - 1] : 3600
    }

    /// The job as it was when it ended: its row as it stands now (meta,
    /// input, output), with the state, error and result it ended with.
    public func ended(_ job: Job) -> Job {
        var ended = job
        if let jobState, let state = JobState(rawValue: jobState) { ended.state = state }
        ended.error = error
        ended.errorCode = errorCode
        ended.result = result
        return ended
    }
}

/// What one delivery attempt came to, as the sender judged it.
public enum NotificationAttempt: Sendable, Equatable {
    /// The receiver took it (HTTP 2xx).
    case delivered(status: Int)
    /// The receiver asked never to be sent it again (HTTP 410).
    case refused(status: Int)
    /// Anything else: tried again later. `status` when there was an answer.
    case retry(status: Int?, reason: String)
}

/// What a notification is about, read from the store when it is delivered.
public enum NotificationSubject: Sendable {
    /// The job as it ended.
    case job(Job)
    /// The batch's jobs as they stand, and its id.
    case batch(Int64, [Job])
}

/// Sends one notification (the executable's: the job's JSON, signed, by HTTP).
public protocol NotificationSender: Sendable {
    func send(_ notification: JobNotification, about subject: NotificationSubject) async -> NotificationAttempt
}
