/// Records how attempts ended: the decisions (`AttemptDecision`) turned into
/// store calls, the handler asked to remove leftovers, and one log line
/// each. Used by the worker for its own attempts and for what dead workers
/// left behind.
struct AttemptSettler: Sendable {
    let store: any JobStore
    let handler: any JobHandler
    let worker: String
    let configuration: WorkerConfiguration
    let log: @Sendable (String) -> Void

    /// An attempt that ended without success and without being stopped by
    /// the worker. Returns true when it counts against this worker (a
    /// failure, not the job's own permanent refusal).
    func settleFailure(_ job: Job, _ outcome: JobOutcome) async throws -> Bool {
        switch outcome {
        case .failed(let failure):
            try await record(job, AttemptDecision.after(failure, of: job, policy: configuration.retry))
            return !failure.permanent
        case .crashed(let signal, let detail):
            try await record(job, AttemptDecision.afterCrash(signal: SignalName.of(signal), detail: detail, of: job,
                                                              policy: configuration.retry))
            return true
        case .unavailableHere(let reason):
            handler.discard(job)
            try await store.release([job.lease], worker: worker, reason: "this box cannot run it now: \(reason)",
                                    code: "worker_unhealthy", delay: 1)
            log(line(job.id, .queued, "put back, attempt not counted: \(reason)"))
            return false
        case .stopped, .succeeded:
            try await record(job, AttemptDecision.after(JobFailure("the attempt stopped unexpectedly", code: "internal", permanent: false),
                                                        of: job, policy: configuration.retry))
            return true
        }
    }

    /// A failed attempt, as decided: its leftovers removed (the handler told
    /// the state the job is going to), then recorded.
    func record(_ job: Job, _ decision: AttemptDecision) async throws {
        var settled = job
        settled.state = decision.isFinal ? .failed : .queued
        handler.discard(settled)
        _ = try await store.fail(job.lease, worker: worker, decision: decision)
        log(line(job.id, decision.isFinal ? .failed : .queued,
                 decision.isFinal ? decision.message : "retrying after: \(decision.message)"))
    }

    /// Attempts stopped by a forced shutdown: back to the queue, not counted.
    func release(_ jobs: [Job]) async throws {
        for job in jobs { handler.discard(job) }
        try await store.release(jobs.map(\.lease), worker: worker, reason: "worker \(worker) was stopped",
                                code: "worker_stopped", delay: 0)
        for job in jobs { log(line(job.id, .queued, "worker stopped; attempt not counted")) }
    }

    /// What `rescue` found: leftovers of lost attempts removed, a dead
    /// worker's publications finished, abandoned attempts cleaned up.
    func handle(_ report: RescueReport) async throws {
        for job in report.rescued {
            handler.discard(job)
            log(line(job.id, job.state, job.state == .failed ? job.error : "retrying: \(job.error ?? "")"))
        }
        for job in report.publications {
            guard try await store.takeOverPublication(job, worker: worker, leaseSeconds: configuration.leaseSeconds),
                  let token = job.publishing else { continue }
            var mine = job
            mine.leaseOwner = worker
            if handler.recoverPublication(job, token: token) {
                let recorded = try await store.complete([JobCompletion(job: job.lease, result: job.result)], worker: worker)
                if recorded.contains(job.lease) {
                    log(line(job.id, .succeeded, "finished the publication of worker \(job.leaseOwner ?? "?"), which died"))
                }
            } else {
                try await record(mine, AttemptDecision.afterLostPublication(of: job, policy: configuration.retry))
            }
        }
        for job in report.abandoned {
            handler.discard(job)
            try await store.clearAbandoned(job.lease)
        }
    }

    func line(_ id: Int64, _ state: JobState?, _ detail: String?) -> String {
        "job \(id) \(state?.rawValue ?? "-") worker=\(worker)" + (detail.map { " \($0)" } ?? "")
    }
}
