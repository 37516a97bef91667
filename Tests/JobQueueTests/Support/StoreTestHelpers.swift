import Foundation
import Testing
@testable import JobQueue

/// A job for the store tests: the store never reads kind or payload, so they only tell jobs apart.
func newJob(_ name: String = "job", queue: String = "default", priority: Int = 0, maxAttempts: Int = 3,
            weight: Double = 1, target: String? = nil, key: String? = nil) -> NewJob {
    NewJob(kind: "test", payload: #"{"name":"\#(name)"}"#, queue: queue, priority: priority, maxAttempts: maxAttempts,
           weight: weight, target: target, key: key)
}

/// A worker's record, unique per call unless named. Its lease outlasts any test, however loaded the
/// machine: only a record given a short lease goes silent.
func workerRecord(_ id: String = "worker-\(UUID().uuidString.prefix(8))", leaseSeconds: Double = 600,
                  queues: [String] = []) -> WorkerRecord {
    WorkerRecord(id: id, host: "test-host", pid: 4242, concurrency: 2, queues: queues, leaseSeconds: leaseSeconds)
}

/// No backoff: a retried job is due at once.
let noBackoff = RetryPolicy(baseDelay: 0, maximumDelay: 0)

/// A lease that must hold for the whole test.
let longLease = 30.0
/// A lease meant to expire; tests wait `outlast(lease:)` for it.
let shortLease = 0.3

extension SQLJobStore {
    /// The job, which must exist.
    func existing(_ id: Int64, sourceLocation: SourceLocation = #_sourceLocation) async throws -> Job {
        try #require(try await job(id: id), "job \(id) is missing", sourceLocation: sourceLocation)
    }

    /// One submitted job, which must be new.
    func submitOne(_ job: NewJob, sourceLocation: SourceLocation = #_sourceLocation) async throws -> Job {
        let submitted = try await submit([job])
        try #require(submitted.count == 1 && submitted[0].isNew, "submit returned \(submitted)", sourceLocation: sourceLocation)
        return submitted[0].job
    }

    /// Claims exactly the one job that should be due, for `worker`.
    func claimOne(_ worker: String, lease: Double = longLease, queues: [String] = [],
                  sourceLocation: SourceLocation = #_sourceLocation) async throws -> Job {
        let claimed = try await claim(worker: worker, queues: queues, limit: 1, leaseSeconds: lease)
        return try #require(claimed.first, "nothing to claim for \(worker)", sourceLocation: sourceLocation)
    }

    /// A job's events, oldest first.
    func jobEvents(_ id: Int64) async throws -> [JobEvent] {
        try await events(after: 0, job: id, limit: 1000)
    }

    /// The states a job went through, from its events: ["queued", "running", ...].
    func history(_ id: Int64) async throws -> [String] {
        try await jobEvents(id).map(\.to)
    }

    /// Worker events (online, offline, unhealthy…) of one worker, oldest first.
    func workerEvents(_ worker: String) async throws -> [JobEvent] {
        try await events(after: 0, job: nil, limit: 100_000).filter { $0.kind == "worker" && $0.worker == worker }
    }

    /// The worker's record as `workers()` lists it.
    func workerNamed(_ id: String, sourceLocation: SourceLocation = #_sourceLocation) async throws -> WorkerRecord {
        try #require(try await workers().first { $0.id == id }, "worker \(id) is not listed", sourceLocation: sourceLocation)
    }

    /// Makes a dead worker's lease on `attempt` run out now, as its last renewal would have had
    /// it if its lease were short: its worker ran with a lease long enough never to lapse while
    /// alive, however loaded the machine.
    func runOut(_ attempt: LeasedJob, of worker: String) async throws {
        try await heartbeat(worker: worker, jobs: [attempt], leaseSeconds: 0.05)
        try await Task.sleep(for: .milliseconds(200))
    }

    /// Every job, in id order.
    func allJobs() async throws -> [Job] {
        try await jobs(state: nil, limit: 1_000_000).reversed()
    }
}

/// An error the store threw, as `JobStoreError` (nil if it threw something else or nothing).
func storeError(_ body: () async throws -> Void) async -> JobStoreError? {
    do {
        try await body()
        return nil
    } catch let error as JobStoreError {
        return error
    } catch {
        Issue.record("expected a JobStoreError, got \(error)")
        return nil
    }
}
