import Foundation
import JobQueue

/// What `vqueue serve` needs to know of the jobs it shows and takes, handed
/// in by the executable: the same JSON as the command line's `--json`, and
/// the same checks as `submit` and `retry`. The server itself knows jobs
/// only as the queue does.
public protocol FarmPresentation: Sendable {
    /// A job as `status --json` shows it.
    func job(_ job: Job, in store: SQLJobStore) async throws -> String
    /// A batch as `status --batch --json` shows it.
    func batch(id: Int64, jobs: [Job]) -> String
    /// The workers as `workers --json` shows them.
    func workers(_ workers: [WorkerRecord], now: Double) -> String
    /// An event as `events --json` shows it.
    func event(_ event: JobEvent) -> String
    /// Queues the job a `POST /v1/jobs` body describes, with `submit`'s
    /// checks; the job, and whether it is new (false: found by its key).
    /// Refusals are `APIError`s.
    func submit(_ body: [String: JSONValue], to store: SQLJobStore) async throws -> Submitted
    /// Queues the batch a `POST /v1/batches` body describes, all or nothing:
    /// its id and its jobs.
    func submitBatch(_ body: [String: JSONValue], to store: SQLJobStore) async throws -> (batchID: Int64, jobs: [Job])
    /// Queues a failed or cancelled job again, with `retry`'s checks.
    func retry(_ job: Job, in store: SQLJobStore) async throws -> Job
}
