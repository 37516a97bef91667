import Foundation

/// The supervisor of one worker process: claims jobs, runs each through the
/// handler (which puts it in a child process), keeps their leases alive,
/// records progress and outcomes, rescues the jobs of dead workers, and
/// stops gracefully or by force.
///
/// Everything the worker decides happens in one loop over one stream of
/// events (a tick every `pollInterval`, and each finished attempt), so its
/// bookkeeping needs no locks.
public struct Worker: Sendable {
    public let store: any JobStore
    public let handler: any JobHandler
    public let configuration: WorkerConfiguration
    public let identity: WorkerRecord
    /// One line per job transition (time, job, state, worker, detail).
    public let log: @Sendable (String) -> Void

    public init(store: any JobStore, handler: any JobHandler, configuration: WorkerConfiguration,
                identity: WorkerRecord, log: @escaping @Sendable (String) -> Void) {
        self.store = store
        self.handler = handler
        self.configuration = configuration
        self.identity = identity
        self.log = log
    }

    /// A worker id unique across hosts and restarts: `host:pid:random`.
    public static func makeIdentity(concurrency: Int, queues: [String], leaseSeconds: Double) -> WorkerRecord {
        // gethostname, not ProcessInfo.hostName, which may wait on DNS.
        var buffer = [CChar](repeating: 0, count: 256)
        gethostname(&buffer, buffer.count)
        let host = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let pid = Int(getpid())
        let suffix = String(UInt16.random(in: .min ... .max), radix: 16)
        return WorkerRecord(id: "\(host):\(pid):\(suffix)", host: host, pid: pid, concurrency: concurrency, queues: queues,
                            leaseSeconds: leaseSeconds)
    }

    private enum Event: Sendable {
        case tick
        case finished(Job, JobOutcome)
    }

    /// Why the worker itself stopped an attempt.
    private enum StopReason {
        /// Cancelled by a user, or its lease was taken over.
        case lost
        /// Forced shutdown: back to the queue, attempt not spent.
        case shutdown
    }

    private struct RunningJob {
        var job: Job
        var task: Task<Void, Never>
        var stopReason: StopReason?
    }

    /// Runs until drained (with `drain`) or stopped through `shutdown`.
    public func run(shutdown: ShutdownRequest) async throws {
        try await store.registerWorker(identity)
        log("worker \(identity.id) started: concurrency \(configuration.concurrency), "
            + "queues \(configuration.queues.isEmpty ? "all" : configuration.queues.joined(separator: ","))")
        let (events, continuation) = AsyncStream<Event>.makeStream()
        let poll = configuration.pollInterval
        let ticker = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(poll))
                continuation.yield(.tick)
            }
        }
        defer { ticker.cancel() }

        let progress = ProgressBuffer()
        var running: [LeasedJob: RunningJob] = [:]
        var completions: [JobCompletion] = []
        var lastToken: Int64 = -1
        var queueMayHaveMore = true
        let clock = ContinuousClock()
        var nextClaimCheck = clock.now
        var nextLeaseCheck = clock.now
        var nextRenewal = clock.now
        var nextProgressFlush = clock.now
        var nextDrainCheck = clock.now
        var nextStopCheck = clock.now
        var forcing = false
        var announcedStopping = false
        // Attempts that ended without success, to record (kept while the store is away).
        var unsettled: [(job: Job, outcome: JobOutcome, stopReason: StopReason?)] = []
        // While the store cannot be reached: since when, and when to try again.
        var storeAway: (since: ContinuousClock.Instant, retryAt: ContinuousClock.Instant, backoff: Duration)?

        loop: for await event in events {
            switch event {
            case .finished(let job, let outcome):
                guard let entry = running.removeValue(forKey: job.lease) else { continue }
                if case .succeeded(let result, let commit) = outcome, entry.stopReason == nil {
                    completions.append(JobCompletion(job: job.lease, worker: identity.id, result: result, commit: commit))
                } else {
                    unsettled.append((job, outcome, entry.stopReason))
                }
                // Commit and claim again at once when the slots are (mostly)
                // free, rather than waiting for the next tick: a busy worker
                // turns over batches of short jobs without idling.
                if !(running.isEmpty || completions.count >= max(1, configuration.concurrency / 2)) { continue }
            case .tick:
                break
            }

            let now = clock.now
            if let away = storeAway, now < away.retryAt { continue }
            do {
            while let first = unsettled.first {
                try await settle(first.job, outcome: first.outcome, stopReason: first.stopReason)
                unsettled.removeFirst()
            }
            if now >= nextStopCheck {
                // `vqueue worker stop` from any process reaches us through the store.
                nextStopCheck = now + .milliseconds(250)
                shutdown.request(try await store.stopRequest(worker: identity.id))
            }
            let level = shutdown.level
            if level >= .graceful && !announcedStopping {
                announcedStopping = true
                let how = level >= .immediate ? "now" : "after its \(running.count) running job(s)"
                try await store.workerStopping(id: identity.id, reason: "stopping \(how)")
                log("worker \(identity.id) stopping \(how)")
            }
            if level >= .immediate && !forcing {
                forcing = true
                log("worker \(identity.id) stopping now: \(running.count) running job(s) go back to the queue")
                for key in running.keys {
                    running[key]!.stopReason = .shutdown
                    running[key]!.task.cancel()
                }
            }

            if !completions.isEmpty {
                // Kept until committed: while the store is away, they wait here.
                try await commit(completions)
                completions.removeAll()
            }

            if now >= nextLeaseCheck && !running.isEmpty {
                nextLeaseCheck = now + .milliseconds(250)
                let lost = try await store.leasesLost(worker: identity.id, jobs: Array(running.keys))
                for key in lost where running[key]?.stopReason == nil {
                    running[key]!.stopReason = .lost
                    running[key]!.task.cancel()
                }
            }

            if now >= nextRenewal {
                nextRenewal = now + .milliseconds(Int64(configuration.leaseSeconds * 1000 / 3))
                try await store.renewLeases(worker: identity.id, jobs: Array(running.keys), leaseSeconds: configuration.leaseSeconds)
                for worker in try await store.markSilentWorkers() {
                    log("worker \(worker.id) is gone: no heartbeat within its lease")
                }
                for job in try await store.rescueExpiredLeases(retry: configuration.retry) {
                    handler.discard(job)
                    log(line(job.id, job.state, detail: job.state == .failed ? job.error : "retrying: \(job.error ?? "")"))
                }
            }

            if now >= nextProgressFlush {
                nextProgressFlush = now + .milliseconds(500)
                try await store.recordProgress(progress.take().filter { running[$0.key] != nil })
            }

            let free = configuration.concurrency - running.count
            if level == .none && free > 0 {
                let token = try await store.changeToken(for: .jobQueued)
                if token != lastToken || queueMayHaveMore || now >= nextClaimCheck {
                    lastToken = token
                    nextClaimCheck = now + .seconds(1)
                    let claimed = try await store.claim(worker: identity.id, queues: configuration.queues,
                                                        limit: free, leaseSeconds: configuration.leaseSeconds)
                    queueMayHaveMore = claimed.count == free
                    for job in claimed {
                        log(line(job.id, .running, detail: "attempt \(job.attempts) of \(job.maxAttempts)"))
                        let lease = job.lease
                        let task = Task { [handler] in
                            let outcome = await handler.run(job) { progress.record($0, for: lease) }
                            continuation.yield(.finished(job, outcome))
                        }
                        running[lease] = RunningJob(job: job, task: task)
                    }
                }
            }

            if running.isEmpty && completions.isEmpty && unsettled.isEmpty {
                if level >= .graceful { break loop }
                if configuration.drain && now >= nextDrainCheck {
                    nextDrainCheck = now + .milliseconds(100)
                    if try await store.unfinishedCount() == 0 { break loop }
                }
            }
            if let away = storeAway {
                log("worker \(identity.id): the queue database is back after \(Self.seconds(clock.now - away.since))")
                storeAway = nil
            }
            } catch {
                // The store is away (a database restart, a dropped connection):
                // children keep encoding, and what they report waits here.
                // Try again with backoff; leases are renewed once it is back.
                let backoff = min((storeAway?.backoff ?? .milliseconds(50)) * 2, .seconds(2))
                if storeAway == nil {
                    log("worker \(identity.id): cannot reach the queue database (\(StoreErrorText.describe(error))); "
                        + "\(running.count) job(s) keep running; retrying")
                }
                storeAway = (storeAway?.since ?? now, clock.now + backoff, backoff)
            }
        }
        try await store.workerStopped(id: identity.id)
        log("worker \(identity.id) stopped")
    }

    /// Records successes in one transaction; each commit step (the output
    /// rename) runs only while its lease still holds.
    private func commit(_ completions: [JobCompletion]) async throws {
        let results = try await store.complete(completions)
        for completion in completions {
            switch results[completion.job] ?? .leaseLost {
            case .succeeded:
                log(line(completion.job.id, .succeeded, detail: nil))
            case .leaseLost:
                log(line(completion.job.id, nil, detail: "result discarded: this worker no longer holds the job"))
                handler.discard(try await jobForDiscard(completion.job))
            case .commitFailed(let reason):
                let job = try await jobForDiscard(completion.job)
                try await settle(job, outcome: .failed("could not put the result in place: \(reason)", permanent: false), stopReason: nil)
            }
        }
    }

    private func jobForDiscard(_ lease: LeasedJob) async throws -> Job {
        var job = try await store.job(id: lease.id) ?? Job(id: lease.id, kind: "", payload: "{}", queue: "", priority: 0,
                                                          state: .failed, attempts: lease.attempt, maxAttempts: 0, runAt: 0,
                                                          submittedAt: 0)
        job.attempts = lease.attempt
        return job
    }

    /// Records an attempt that did not succeed.
    private func settle(_ job: Job, outcome: JobOutcome, stopReason: StopReason?) async throws {
        let lease = job.lease
        switch (stopReason, outcome) {
        case (.shutdown, _):
            handler.discard(job)
            try await store.release([lease], worker: identity.id, reason: "worker \(identity.id) was stopped")
            log(line(job.id, .queued, detail: "worker stopped; attempt not counted"))
        case (.lost, _):
            handler.discard(job)
            let now = try await store.job(id: job.id)
            log(line(job.id, nil, detail: now?.state == .cancelled ? "cancelled; stopped"
                     : "lease lost (the job is \(now?.state.rawValue ?? "gone") elsewhere); stopped"))
        case (nil, .failed(let message, let permanent)):
            try await fail(job, message, permanent: permanent)
        case (nil, .crashed(let signal, let detail)):
            let name = SignalName.of(signal)
            if job.attempts >= job.maxAttempts {
                try await fail(job, "poison: the job's process crashed (\(name)) on attempt \(job.attempts) of \(job.maxAttempts)"
                               + (detail.isEmpty ? "" : ": \(detail)"), permanent: true)
            } else {
                try await fail(job, "the job's process crashed (\(name))", permanent: false)
            }
        case (nil, .stopped), (nil, .succeeded):
            try await fail(job, "the attempt stopped unexpectedly", permanent: false)
        }
    }

    private func fail(_ job: Job, _ message: String, permanent: Bool) async throws {
        handler.discard(job)
        let final = permanent || job.attempts >= job.maxAttempts
        let retryAfter = final ? nil : configuration.retry.delay(afterAttempt: job.attempts)
        _ = try await store.fail(job.lease, worker: identity.id, error: message, retryAfter: retryAfter)
        log(line(job.id, final ? .failed : .queued, detail: final ? message : "retrying after: \(message)"))
    }

    private static func seconds(_ duration: Duration) -> String {
        let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        return String(format: "%.1f s", seconds)
    }

    private func line(_ id: Int64, _ state: JobState?, detail: String?) -> String {
        "job \(id) \(state?.rawValue ?? "-") worker=\(identity.id)" + (detail.map { " \($0)" } ?? "")
    }
}
