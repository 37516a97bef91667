/// Runs jobs of one kind. The queue calls it; it knows what a payload means.
public protocol JobHandler: Sendable {
    /// Runs one attempt. Cancellation of the calling task means "stop now"
    /// (the job was cancelled, its lease was lost or the worker is stopping
    /// by force): the handler stops its work promptly and returns `.stopped`.
    func run(_ job: Job, progress: @escaping @Sendable (JobProgress) -> Void) async -> JobOutcome

    /// Removes whatever an abandoned attempt left behind (a temporary file),
    /// for jobs that will not be completed by this attempt.
    func discard(_ job: Job)
}

/// How an attempt ended.
public enum JobOutcome: Sendable {
    /// Done; `commit` makes the result real and runs in the transaction
    /// that records success, only while the lease still holds.
    case succeeded(result: String?, commit: @Sendable () throws -> Void)
    /// The attempt failed. A permanent failure (the input cannot be
    /// decoded) fails the job at once; a transient one is retried.
    case failed(String, permanent: Bool)
    /// The process running the attempt was killed by a signal. Retried; if
    /// the last attempt also crashes the job is failed as poison.
    case crashed(signal: Int32, detail: String)
    /// Stopped on request (task cancelled).
    case stopped
}
