import JobQueue

/// `GET /metrics`, in Prometheus's text format. Gauges are counted by the
/// database at each scrape (`FarmCensus`, the workers): jobs by state and
/// queue, queue depth and the age of the oldest queued job per queue, the
/// frames per second of everything running, workers by state. Counters and
/// histograms are kept by this process from the event stream, from the
/// moment it started (a restart starts them again, which Prometheus's
/// `rate()` expects): attempts, retries, failures by cause, jobs finished by
/// state, and how long jobs waited and ran.
actor FarmMetrics {
    private let store: SQLJobStore
    /// When each job seen queued or running got there (forgotten when it moves on).
    private var queuedAt: [Int64: Double] = [:]
    private var runningAt: [Int64: Double] = [:]
    private var attempts = 0
    private var retries = 0
    private var finished: [String: Int] = [:]
    private var failures: [String: Int] = [:]
    private var waited = Histogram(bounds: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 14400])
    private var ran = Histogram(bounds: [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400])

    /// Put back by a worker that stopped or cannot see the job's folders: not a retry of a failure.
    static let notFailures: Set<String> = ["worker_stopped", "worker_unhealthy"]

    init(store: SQLJobStore) {
        self.store = store
    }

    /// Follows the events from now on, until cancelled.
    func follow() async {
        var follower: EventFollower?
        while !Task.isCancelled {
            do {
                if follower == nil { follower = EventFollower(store: store, after: try await store.census().lastEventID) }
                let events = try await follower!.next(waitingUpTo: .seconds(5))
                observe(events)
            } catch {
                // The store is away: looked at again in a moment; the counters wait.
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }

    private func observe(_ events: [JobEvent]) {
        for event in events where event.kind == "job" {
            guard let job = event.jobID else { continue }
            switch event.to {
            case "queued":
                if event.from == "running" {
                    runningAt[job] = nil
                    if let code = event.errorCode, !Self.notFailures.contains(code) { retries += 1 }
                }
                queuedAt[job] = event.at
            case "running":
                attempts += 1
                if let queued = queuedAt.removeValue(forKey: job) { waited.observe(max(0, event.at - queued)) }
                runningAt[job] = event.at
            default:
                finished[event.to, default: 0] += 1
                if event.to == "failed" { failures[event.errorCode ?? "unknown", default: 0] += 1 }
                if let started = runningAt.removeValue(forKey: job), event.to == "succeeded" || event.to == "failed" {
                    ran.observe(max(0, event.at - started))
                }
                queuedAt[job] = nil
            }
        }
    }

    func render() async throws -> String {
        let census = try await store.census()
        let workers = try await store.workers()
        var text = PrometheusText()

        text.family("vqueue_jobs", "gauge", "Jobs the queue database holds, by state and queue.")
        for count in census.jobs { text.sample("vqueue_jobs", [("state", count.state.rawValue), ("queue", count.queue)], Double(count.count)) }
        let queues = Set(census.jobs.map(\.queue)).sorted()
        text.family("vqueue_queue_depth", "gauge", "Jobs waiting to run, per queue.")
        for queue in queues {
            let depth = census.jobs.filter { $0.queue == queue && $0.state == .queued }.reduce(0) { $0 + $1.count }
            text.sample("vqueue_queue_depth", [("queue", queue)], Double(depth))
        }
        text.family("vqueue_queue_oldest_seconds", "gauge", "Age of the oldest queued job, per queue (0 when none waits).")
        for queue in queues {
            text.sample("vqueue_queue_oldest_seconds", [("queue", queue)], census.oldestQueued[queue].map { max(0, census.now - $0) } ?? 0)
        }
        text.family("vqueue_running_fps", "gauge", "Frames per second of all running jobs together.")
        text.sample("vqueue_running_fps", [], census.runningFPS)
        text.family("vqueue_webhook_deliveries", "gauge",
                    "Webhook notifications the queue database holds, by state (pending, delivered, failed for good).")
        for state in JobNotification.State.allCases {
            text.sample("vqueue_webhook_deliveries", [("state", state.rawValue)], Double(census.notifications[state] ?? 0))
        }
        text.family("vqueue_workers", "gauge", "Workers by state.")
        for state in WorkerRecord.State.allCases {
            text.sample("vqueue_workers", [("state", state.rawValue)], Double(workers.filter { $0.state(at: census.now) == state }.count))
        }

        text.family("vqueue_job_attempts_total", "counter", "Attempts started since this server started.")
        text.sample("vqueue_job_attempts_total", [], Double(attempts))
        text.family("vqueue_job_retries_total", "counter", "Failed attempts queued again since this server started.")
        text.sample("vqueue_job_retries_total", [], Double(retries))
        text.family("vqueue_jobs_finished_total", "counter", "Jobs that ended since this server started, by state.")
        for state in ["succeeded", "failed", "cancelled"] {
            text.sample("vqueue_jobs_finished_total", [("state", state)], Double(finished[state] ?? 0))
        }
        text.family("vqueue_job_failures_total", "counter", "Jobs failed for good since this server started, by error code.")
        for (code, count) in failures.sorted(by: { $0.key < $1.key }) {
            text.sample("vqueue_job_failures_total", [("error_code", code)], Double(count))
        }
        text.histogram("vqueue_job_wait_seconds", "Time from queued to running, per attempt.", waited)
        text.histogram("vqueue_job_run_seconds", "Time from running to succeeded or failed.", ran)
        return text.text
    }
}
