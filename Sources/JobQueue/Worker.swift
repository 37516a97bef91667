import Foundation

/// The supervisor of one worker process: claims jobs, runs each through the
/// handler (which puts it in a child process), keeps their leases alive,
/// publishes and records outcomes, cleans up after dead workers, keeps
/// itself off jobs while its box is unhealthy, and stops gracefully or by
/// force.
///
/// Everything the worker decides happens in one loop over one stream of
/// events (a tick every `pollInterval`, each finished attempt, a stop
/// request), so its bookkeeping needs no locks. Each pass first does what
/// needs no store (answering a stop request at once, whatever the store is
/// doing), then one round with the store (`storeRound`); a store that
/// cannot be reached is an outage to wait out (`StoreOutage`), never a
/// reason to exit.
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

    /// Why `run` ended other than by a stop request or a drained queue.
    public enum Failure: Error, CustomStringConvertible {
        /// The SQLite file was removed or replaced under the worker.
        case databaseReplaced(String)

        public var description: String {
            switch self {
            case .databaseReplaced(let reason): return reason
            }
        }
    }

    enum Event: Sendable {
        /// `changed`: woken because the store may have changed, not by the clock.
        case tick(changed: Bool)
        case finished(Job, JobOutcome)
        case stopRequested
    }

    /// Why the worker itself stopped an attempt.
    enum StopReason {
        /// Cancelled by a user, or its lease was taken over.
        case lost
        /// Forced shutdown: back to the queue, attempt not spent.
        case shutdown
    }

    struct RunningJob {
        var job: Job
        var task: Task<Void, Never>
        var stopReason: StopReason?
    }

    /// A succeeded attempt on its way: recorded as publishing, put in place, recorded as succeeded.
    struct Success {
        var job: Job
        var result: String?
        var publication: Publication?
        /// The publication is in place; success is still to be recorded.
        var published = false
    }

    /// Runs until drained (with `drain`) or stopped through `shutdown`.
    public func run(shutdown: ShutdownRequest) async throws {
        let (events, continuation) = AsyncStream<Event>.makeStream()
        var state = WorkerState(configuration: configuration, events: continuation)
        shutdown.observe { [store] in
            continuation.yield(.stopRequested)
            store.interrupt()
        }
        let ticker = WorkerTicker(interval: configuration.pollInterval) { continuation.yield(.tick(changed: $0)) }
        // Idle, the worker sleeps between slow polls and is woken when another
        // process changes the store: it costs next to nothing and still starts
        // a new job at once. A store that cannot tell is polled as before.
        let stopWatching = store.watchChanges { ticker.wake() }
        if stopWatching != nil {
            ticker.sleepWhenIdle(configuration.idlePollInterval)
            state.schedule = WorkerSchedule(leaseSeconds: configuration.leaseSeconds, wokenOnChanges: true)
        }
        defer {
            stopWatching?()
            ticker.stop()
        }
        let settler = AttemptSettler(store: store, handler: handler, worker: identity.id, configuration: configuration, log: log)
        log("worker \(identity.id) started: concurrency \(configuration.concurrency), "
            + "queues \(configuration.queues.isEmpty ? "all" : configuration.queues.joined(separator: ","))")

        for await event in events {
            let now = ContinuousClock.now
            switch event {
            case .finished(let job, let outcome):
                guard let entry = state.running.removeValue(forKey: job.lease) else { continue }
                state.finished(job, outcome, stopReason: entry.stopReason)
                // Record and claim again at once when the slots are (mostly)
                // free, rather than waiting for the next tick: a busy worker
                // turns over batches of short jobs without idling.
                if !(state.running.isEmpty || state.successes.count >= max(1, configuration.concurrency / 2)) { continue }
            case .tick(let changed):
                ticker.taken()
                // A `worker stop` from another process is one of the changes.
                if changed { state.schedule.expedite(.stopRequest) }
            case .stopRequested:
                break
            }

            defer { ticker.idle(state.isIdle && state.outage == nil && !state.queueMayHaveMore && shutdown.level == .none) }
            answerStopRequest(shutdown.level, &state)
            if let outage = state.outage, outage.isWaiting(at: now) {
                if state.shouldGiveUp(level: shutdown.level, at: now, leaseSeconds: configuration.leaseSeconds) {
                    log("worker \(identity.id): the queue database is still unreachable; stopping without recording "
                        + "\(state.unrecorded) result(s): their jobs will be finished or run again by other workers")
                    return
                }
                continue
            }
            // Stopping by force, a store call may hold the worker up for a second at most: one
            // still hanging then is interrupted, an outage like any other, which a stopping
            // worker gives up on after a few seconds (`shouldGiveUp`).
            let watchdog = shutdown.level >= .immediate ? Task { [store] in
                try? await Task.sleep(for: .seconds(1))
                if !Task.isCancelled { store.interrupt() }
            } : nil
            defer { watchdog?.cancel() }
            do {
                let done = try await storeRound(&state, shutdown: shutdown, settler: settler, at: now)
                if let outage = state.outage {
                    log("worker \(identity.id): the queue database is back after \(outage.duration(at: ContinuousClock.now))")
                    state.outage = nil
                }
                if done { break }
            } catch let error as Failure {
                log("worker \(identity.id): \(error); stopping its jobs and exiting (restart it to use the new database)")
                for key in state.running.keys { state.running[key]!.task.cancel() }
                throw error
            } catch {
                if let unavailable = error as? StoreUnavailable, unavailable.interrupted, shutdown.level < .immediate { continue }
                if state.outage == nil {
                    log("worker \(identity.id): cannot reach the queue database (\(StoreErrorText.describe(error))); "
                        + "\(state.running.count) job(s) keep running; retrying")
                    state.outage = StoreOutage(at: now)
                } else {
                    state.outage!.failedAgain(at: ContinuousClock.now)
                }
            }
        }
        do {
            try await store.workerStopped(id: identity.id)
        } catch {
            log("worker \(identity.id): could not record that it stopped (\(StoreErrorText.describe(error)))")
        }
        log("worker \(identity.id) stopped")
    }

    /// What a stop request changes at once, without the store: claiming
    /// stops, and a forced stop stops the running attempts.
    private func answerStopRequest(_ level: ShutdownRequest.Level, _ state: inout WorkerState) {
        if level >= .graceful && !state.announcedStopping {
            state.announcedStopping = true
            let how = level >= .immediate ? "now" : "after its \(state.running.count) running job(s)"
            state.stoppingReason = "stopping \(how)"
            log("worker \(identity.id) stopping \(how)")
        }
        if level >= .immediate && !state.forcing {
            state.forcing = true
            log("worker \(identity.id) stopping now: \(state.running.count) running job(s) go back to the queue")
            for key in state.running.keys where state.running[key]!.stopReason == nil {
                state.running[key]!.stopReason = .shutdown
                state.running[key]!.task.cancel()
            }
        }
    }

    /// One pass of everything that needs the store. Throws when the store
    /// cannot be reached (the caller waits and tries again); returns true
    /// when the worker is done.
    private func storeRound(_ state: inout WorkerState, shutdown: ShutdownRequest, settler: AttemptSettler,
                            at now: ContinuousClock.Instant) async throws -> Bool {
        // While the store is out, a pass may have no call due (nothing running, no check due,
        // and looking for jobs is no round trip on PostgreSQL): one statement proves the store
        // is back before the worker says so, or it would announce each outage many times over.
        if state.outage != nil {
            _ = try await store.now()
        }
        if !state.registered {
            try await store.registerWorker(identity)
            state.registered = true
        }
        try await settle(&state, settler: settler)

        if state.schedule.isDue(.stopRequest, at: now) {
            // An SQLite file removed or replaced under us: everything we would
            // write from now on would go where nobody reads (one stat).
            do {
                try store.checkIdentity()
            } catch let error as StoreUnavailable {
                throw Failure.databaseReplaced(error.description)
            }
            // `vqueue worker stop` from any process reaches us through the store.
            shutdown.request(try await store.stopRequest(worker: identity.id))
            answerStopRequest(shutdown.level, &state)
        }
        if let reason = state.stoppingReason {
            try await store.workerStopping(id: identity.id, reason: reason)
            state.stoppingReason = nil
        }

        try await publish(&state, settler: settler)

        if !state.running.isEmpty && state.schedule.isDue(.leases, at: now) {
            let lost = try await store.leasesLost(worker: identity.id, jobs: Array(state.running.keys))
            for key in lost where state.running[key]?.stopReason == nil {
                state.running[key]!.stopReason = .lost
                state.running[key]!.task.cancel()
            }
        }

        if state.schedule.isDue(.renewal, at: now) {
            let started = ContinuousClock.now
            let beat = try await store.heartbeat(worker: identity.id, jobs: Array(state.running.keys),
                                                 leaseSeconds: configuration.leaseSeconds)
            let written = ContinuousClock.now
            // The next heartbeat a full interval after this one was written.
            state.schedule.restart(.renewal, from: written)
            // Held up itself (its heartbeat waited for the database, or came late): so may every
            // other worker have been. Their leases and heartbeats are then judged as of this
            // worker's previous heartbeat (`JobLeasing.rescue`), and at the next round, an
            // interval on, as of then: the others have that interval to be heard again.
            let interval = configuration.leaseSeconds / 3
            let heldUp = written - started > .milliseconds(Int64(interval * 500))
                || state.lastHeartbeat.map { beat - $0 > interval * 1.5 } ?? false
            if let asOf = heldUp ? state.lastHeartbeat : beat {
                for worker in try await store.markSilentWorkers(except: identity.id, before: asOf) {
                    log("worker \(worker.id) is gone: no heartbeat within its lease")
                }
                try await settler.handle(try await store.rescue(retry: configuration.retry, by: identity.id,
                                                                holding: state.heldAttempts, expiredBefore: asOf))
            }
            state.lastHeartbeat = beat
            try await judgeFailureStreak(&state, at: now)
        }

        if state.schedule.isDue(.progress, at: now) {
            try await store.recordProgress(state.progress.take().filter { state.running[$0.key] != nil })
        }

        try await checkHealth(&state, at: now)

        let level = shutdown.level
        let free = configuration.concurrency - state.running.count
        if level == .none && state.health.isHealthy && free > 0 {
            let token = try await store.changeToken(for: .jobQueued)
            if token != state.lastToken || state.queueMayHaveMore || state.schedule.isDue(.claim, at: now) {
                state.lastToken = token
                let claimed = try await store.claim(worker: identity.id, queues: configuration.queues, limit: free,
                                                    leaseSeconds: configuration.leaseSeconds,
                                                    excluding: state.health.avoidedJobs(at: now))
                state.queueMayHaveMore = claimed.count == free
                for job in claimed { start(job, &state, settler: settler) }
            }
        }

        if state.isIdle {
            if level >= .graceful { return true }
            if configuration.drain && state.schedule.isDue(.drain, at: now), try await store.unfinishedCount(queues: configuration.queues) == 0 {
                return true
            }
        }
        return false
    }

    private func start(_ job: Job, _ state: inout WorkerState, settler: AttemptSettler) {
        log(settler.line(job.id, .running, "attempt \(job.attemptsUsed) of \(job.maxAttempts)"))
        let lease = job.lease
        let progress = state.progress
        let task = Task { [handler, events = state.events] in
            let outcome = await handler.run(job) { progress.record($0, for: lease) }
            events.yield(.finished(job, outcome))
        }
        state.running[lease] = RunningJob(job: job, task: task)
    }

    /// Records attempts that ended without success, and cancelled attempts
    /// whose child has stopped.
    private func settle(_ state: inout WorkerState, settler: AttemptSettler) async throws {
        if !state.released.isEmpty {
            try await settler.release(state.released)
            state.released.removeAll()
        }
        if !state.stopped.isEmpty {
            for job in state.stopped {
                let now = try await store.job(id: job.id)
                // The attempt's leftovers, the handler told the state the job is in now (cancelled, say).
                var settled = job
                settled.state = now?.state ?? job.state
                handler.discard(settled)
                log(settler.line(job.id, nil, now?.state == .cancelled ? "cancelled; stopped"
                                 : "lease lost (the job is \(now?.state.rawValue ?? "gone") elsewhere); stopped"))
            }
            try await store.settleStopped(state.stopped.map(\.lease), worker: identity.id)
            state.stopped.removeAll()
        }
        while let (job, outcome) = state.failures.first {
            if try await settler.settleFailure(job, outcome) {
                state.health.attemptFailed(job: job.id)
            }
            if case .unavailableHere(let reason) = outcome {
                state.health.jobUnavailable(job.id, reason, at: ContinuousClock.now)
            }
            state.failures.removeFirst()
        }
    }

    /// Successes in three recorded steps: the publication is recorded
    /// (while the lease holds), made (the handler's rename), then success is
    /// recorded. A worker that dies in between leaves a job that another
    /// worker finishes (`AttemptSettler.handle`).
    private func publish(_ state: inout WorkerState, settler: AttemptSettler) async throws {
        guard !state.successes.isEmpty else { return }
        let pending = state.successes.filter { $0.publication != nil && !$0.published }
        if !pending.isEmpty {
            let held = try await store.beginPublishing(
                pending.map { PendingPublication(job: $0.job.lease, token: $0.publication!.token, result: $0.result) },
                worker: identity.id, leaseSeconds: configuration.leaseSeconds)
            var failed: [(Job, JobOutcome)] = []
            state.successes = state.successes.compactMap { success in
                guard let publication = success.publication, !success.published else { return success }
                guard held.contains(success.job.lease) else {
                    log(settler.line(success.job.id, nil, "result discarded: this worker no longer holds the job"))
                    handler.discard(success.job)
                    return nil
                }
                do {
                    try publication.publish()
                    var done = success
                    done.published = true
                    return done
                } catch let failure as JobFailure {
                    failed.append((success.job, .failed(failure)))
                } catch {
                    failed.append((success.job, .failed(JobFailure("could not put the result in place: \(error)",
                                                                   code: "publish_failed", permanent: false))))
                }
                return nil
            }
            state.failures += failed
        }
        let ready = state.successes.filter { $0.publication == nil || $0.published }
        guard !ready.isEmpty else { return }
        var recorded = try await store.complete(ready.map { JobCompletion(job: $0.job.lease, result: $0.result) },
                                                worker: identity.id)
        // A completion tried again because the answer to its COMMIT was lost (the connection died
        // mid-commit, which no client can tell from a failed commit) finds its attempt already
        // succeeded, by this worker: recorded, not lost to another.
        for success in ready where !recorded.contains(success.job.lease) {
            if let now = try await store.job(id: success.job.id), now.state == .succeeded, now.lease == success.job.lease,
               now.leaseOwner == identity.id {
                recorded.insert(success.job.lease)
            }
        }
        for success in ready {
            if recorded.contains(success.job.lease) {
                log(settler.line(success.job.id, .succeeded, nil))
                state.health.attemptSucceeded()
                // The last part of a whole to succeed queued the whole, in this worker's own
                // commit, which its change token does not see: look for it at once.
                if success.job.parentID != nil { state.queueMayHaveMore = true }
            } else if success.published {
                log(settler.line(success.job.id, nil, "result put in place, but the job was taken over meanwhile; its new worker records it"))
            } else {
                log(settler.line(success.job.id, nil, "result discarded: this worker no longer holds the job"))
                handler.discard(success.job)
            }
        }
        let finished = Set(ready.map(\.job.lease))
        state.successes.removeAll { finished.contains($0.job.lease) }
        try await settle(&state, settler: settler)
    }

    /// While unhealthy: heal when the handler says the box is fine again (or
    /// a streak pause has run its time); keep the store told either way.
    private func checkHealth(_ state: inout WorkerState, at now: ContinuousClock.Instant) async throws {
        if state.schedule.isDue(.health, at: now) || !state.checkedHealthOnce {
            state.checkedHealthOnce = true
            let boxProblem = handler.healthProblem()
            if boxProblem == nil && !handler.jobFoldersStillMissing() { state.health.foldersBack() }
            if state.health.isHealthy {
                if let boxProblem { state.health.boxProblem(boxProblem) }
            } else if state.health.canHeal(boxProblem: boxProblem, at: now) {
                state.health.healed()
                log("worker \(identity.id) is healthy again: taking jobs")
            }
        }
        if state.health.recorded != state.health.problem {
            if let problem = state.health.problem { log("worker \(identity.id) is unhealthy, taking no jobs: \(problem)") }
            try await store.setHealth(worker: identity.id, problem: state.health.problem)
            state.health.recorded = state.health.problem
        }
    }

    /// A worker whose last attempts all failed on jobs that then succeeded
    /// elsewhere is the problem, not the jobs: it pauses itself.
    private func judgeFailureStreak(_ state: inout WorkerState, at now: ContinuousClock.Instant) async throws {
        guard state.health.isHealthy, let streak = state.health.streakToJudge else { return }
        var elsewhere = 0
        var lastError: String?
        for id in streak {
            guard let job = try await store.job(id: id) else { continue }
            if job.state == .succeeded && job.leaseOwner != identity.id { elsewhere += 1 }
            lastError = lastError ?? job.error
        }
        guard elsewhere == streak.count else { return }
        let pause = configuration.failureStreakPause
        state.health.pause("its last \(streak.count) attempts failed on jobs that then succeeded on other workers; "
                           + "paused for \(Int(pause)) s", until: now + .milliseconds(Int64(pause * 1000)))
    }
}
