/// Runs jobs of one kind. The queue calls it; it knows what a payload means.
public protocol JobHandler: Sendable {
    /// Runs one attempt (`job.attempts` is its number). Cancellation of the
    /// calling task means "stop now" (the job was cancelled, its lease was
    /// lost or the worker is stopping by force): the handler stops its work
    /// promptly and returns `.stopped`.
    func run(_ job: Job, progress: @escaping @Sendable (JobProgress) -> Void) async -> JobOutcome

    /// Removes whatever the attempt `job.attempts` left behind (a temporary
    /// file) when it will not be published: called by the worker that ran
    /// it, and by any worker that finds the attempt abandoned (its worker
    /// died). `job.state` is the state the job is in, or going to, after the
    /// attempt (`cancelled`, `failed` for good, `queued` to retry): what the
    /// job keeps across attempts may go when it has ended. Also called for a
    /// whole that ended while waiting for its parts (no attempt of its own).
    /// Must not fail when there is nothing to remove.
    func discard(_ job: Job)

    /// Finishes a publication that a worker recorded (`Publication.token`)
    /// and then died before confirming: true when the result is in place
    /// now (put there before, or by this call), false when it is lost.
    func recoverPublication(_ job: Job, token: String) -> Bool

    /// Why this box cannot run jobs at the moment (a shared folder that is
    /// not mounted), or nil when it can. Asked before claiming while the
    /// worker is unhealthy.
    func healthProblem() -> String?

    /// Whether a job's folder this box found missing is missing still, also
    /// one `healthProblem()` no longer reports (a folder gone for long is
    /// the job's problem, not the box's). Until it is back, the jobs left
    /// alone for their folders stay left alone.
    func jobFoldersStillMissing() -> Bool
}

extension JobHandler {
    /// A handler that reports no job folders: none are.
    public func jobFoldersStillMissing() -> Bool { false }
}

/// How an attempt ended.
public enum JobOutcome: Sendable {
    /// Done. With a publication, the result is put in place by the worker
    /// in two recorded steps (`Publication`); without, success is recorded at once.
    case succeeded(result: String?, publication: Publication?)
    /// The attempt failed; a permanent failure fails the job at once, a
    /// transient one is retried.
    case failed(JobFailure)
    /// The process running the attempt was killed by a signal. Retried; if
    /// the last attempt also crashes the job is failed as poison.
    case crashed(signal: Int32, detail: String)
    /// This box cannot run the job now (its input or output folder is
    /// missing here): back to the queue without spending an attempt, and
    /// the worker stops claiming until `healthProblem()` clears.
    case unavailableHere(String)
    /// Stopped on request (task cancelled).
    case stopped
}

/// What makes an attempt's result real (for a transcode: renaming the
/// temporary file over OUT). The worker records `token` first, then calls
/// `publish`, then records success, so a worker that dies in between leaves
/// a job that another worker finishes (`JobHandler.recoverPublication`)
/// instead of running it again.
public struct Publication: Sendable {
    /// Names the result being put in place (opaque to the queue).
    public var token: String
    /// Puts it in place. A `JobFailure` thrown here fails the attempt as it
    /// says (an OUT that appeared meanwhile is permanent); anything else is
    /// a transient failure.
    public var publish: @Sendable () throws -> Void

    public init(token: String, publish: @escaping @Sendable () throws -> Void) {
        self.token = token
        self.publish = publish
    }
}

/// Why an attempt failed, in words and as a stable code.
public struct JobFailure: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    /// Machine-readable (`input_unreadable`, `output_exists`, `timeout`…); documented in the README.
    public var code: String
    /// A second attempt would fail the same way.
    public var permanent: Bool

    public init(_ message: String, code: String, permanent: Bool) {
        self.message = message
        self.code = code
        self.permanent = permanent
    }

    public var description: String { message }
}
