/// Everything a running worker keeps track of, owned by its loop alone.
struct WorkerState {
    let events: AsyncStream<Worker.Event>.Continuation
    var running: [LeasedJob: Worker.RunningJob] = [:]
    /// Succeeded attempts to publish and record.
    var successes: [Worker.Success] = []
    /// Attempts that ended without success, to record.
    var failures: [(Job, JobOutcome)] = []
    /// Attempts stopped by a forced shutdown, to put back uncounted.
    var released: [Job] = []
    /// Attempts stopped because the job was cancelled or taken over: their
    /// leftovers to remove and the stop to confirm.
    var stopped: [Job] = []
    let progress = ProgressBuffer()
    var schedule: WorkerSchedule
    var health: WorkerHealth
    var outage: StoreOutage?
    var lastToken: Int64 = -1
    var queueMayHaveMore = true
    var registered = false
    /// The store's time of this worker's latest heartbeat.
    var lastHeartbeat: Double?
    var checkedHealthOnce = false
    var announcedStopping = false
    /// A stop to tell the store about.
    var stoppingReason: String?
    var forcing = false

    init(configuration: WorkerConfiguration, events: AsyncStream<Worker.Event>.Continuation) {
        self.events = events
        schedule = WorkerSchedule(leaseSeconds: configuration.leaseSeconds)
        health = WorkerHealth(streakLimit: configuration.failureStreakLimit)
    }

    /// Files a finished attempt under what is left to do about it.
    mutating func finished(_ job: Job, _ outcome: JobOutcome, stopReason: Worker.StopReason?) {
        switch (stopReason, outcome) {
        case (.shutdown, _):
            released.append(job)
        case (.lost, _):
            stopped.append(job)
        case (nil, .succeeded(let result, let publication)):
            successes.append(Worker.Success(job: job, result: result, publication: publication))
        case (nil, _):
            failures.append((job, outcome))
        }
    }

    /// Every attempt this worker still answers for: running, or ended and
    /// not yet recorded.
    var heldAttempts: Set<LeasedJob> {
        Set(running.keys).union(successes.map(\.job.lease)).union(failures.map(\.0.lease))
            .union(released.map(\.lease)).union(stopped.map(\.lease))
    }

    /// Nothing running and nothing left to record.
    var isIdle: Bool {
        running.isEmpty && successes.isEmpty && failures.isEmpty && released.isEmpty && stopped.isEmpty
    }

    /// Outcomes not yet recorded in the store.
    var unrecorded: Int { successes.count + failures.count + released.count }

    /// Whether a stopping worker should stop waiting for an unreachable
    /// store: at once when it has nothing to record, else once its leases
    /// have run out anyway (other workers take its jobs over then), or
    /// after a few seconds when stopping by force.
    func shouldGiveUp(level: ShutdownRequest.Level, at now: ContinuousClock.Instant, leaseSeconds: Double) -> Bool {
        guard level >= .graceful, running.isEmpty, let outage else { return false }
        if isIdle { return true }
        let patience: Duration = level >= .immediate ? .seconds(5) : .milliseconds(Int64(leaseSeconds * 1000))
        return now - outage.since > patience
    }
}
