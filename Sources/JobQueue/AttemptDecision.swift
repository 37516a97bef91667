/// What becomes of a job after an attempt that did not succeed. Decided
/// here, in code, once; the stores only record it (as River's rescuer
/// decides and its drivers record).
public struct AttemptDecision: Sendable, Equatable {
    /// The error recorded on the job.
    public var message: String
    public var code: String
    /// Seconds until the next attempt may start, or nil: failed for good.
    public var retryAfter: Double?

    public var isFinal: Bool { retryAfter == nil }

    /// After a failure the attempt reported itself.
    public static func after(_ failure: JobFailure, of job: Job, policy: RetryPolicy) -> AttemptDecision {
        decide(job, message: failure.message, code: failure.code, permanent: failure.permanent, policy: policy)
    }

    /// After the attempt's process was killed by a signal: retried, and on
    /// the last attempt failed as poison with the signal named.
    public static func afterCrash(signal name: String, detail: String, of job: Job, policy: RetryPolicy) -> AttemptDecision {
        if isLast(job) {
            return decide(job, message: "poison: the job's process crashed (\(name)) on attempt \(job.attemptsUsed) of "
                          + "\(job.maxAttempts)" + (detail.isEmpty ? "" : ": \(detail)"), code: "crashed", permanent: true,
                          policy: policy)
        }
        return decide(job, message: "the job's process crashed (\(name))", code: "crashed", permanent: false, policy: policy)
    }

    /// After the attempt's worker stopped renewing its lease (it died, or
    /// lost the database for longer than the lease).
    public static func afterLostLease(of job: Job, policy: RetryPolicy) -> AttemptDecision {
        let reason = "worker \(job.leaseOwner ?? "?") stopped renewing its lease (it died or lost the database)"
        return decide(job, message: isLast(job) ? "\(reason), on attempt \(job.attemptsUsed) of \(job.maxAttempts)" : reason,
                      code: "lost_lease", permanent: false, policy: policy)
    }

    /// After a publication whose worker died turned out to be lost (its
    /// result is neither in place nor where it was left).
    public static func afterLostPublication(of job: Job, policy: RetryPolicy) -> AttemptDecision {
        decide(job, message: "worker \(job.leaseOwner ?? "?") died while putting the result in place, and the result is gone",
               code: "lost_lease", permanent: false, policy: policy)
    }

    /// Whether the attempt just made was the last one allowed.
    static func isLast(_ job: Job) -> Bool {
        job.attemptsUsed >= job.maxAttempts
    }

    private static func decide(_ job: Job, message: String, code: String, permanent: Bool, policy: RetryPolicy) -> AttemptDecision {
        let final = permanent || isLast(job)
        return AttemptDecision(message: message, code: code,
                               retryAfter: final ? nil : policy.delay(afterAttempt: job.attemptsUsed))
    }
}
