/// Whether this worker should take jobs: not while this box cannot reach
/// a job's files (a lost mount: the jobs would fail here and succeed
/// elsewhere), and not for a while after its last attempts in a row failed
/// on jobs that then succeeded on other workers. Either way it shows as
/// `unhealthy` with the reason, and resumes by itself.
struct WorkerHealth {
    /// Why the worker takes no jobs now, or nil.
    private(set) var problem: String?
    /// What the store was last told (nil: healthy).
    var recorded: String?
    /// When a pause for a failure streak ends (nil: not paused for that).
    private(set) var pauseEnds: ContinuousClock.Instant?
    /// Jobs whose attempts failed here one after another, oldest first.
    private(set) var failedInARow: [Int64] = []
    let streakLimit: Int

    init(streakLimit: Int) {
        self.streakLimit = streakLimit
    }

    var isHealthy: Bool { problem == nil }

    /// The box cannot run jobs (a missing folder).
    mutating func unavailable(_ reason: String) {
        problem = reason
        pauseEnds = nil
    }

    /// Paused after a failure streak, until `ends`.
    mutating func pause(_ reason: String, until ends: ContinuousClock.Instant) {
        problem = reason
        pauseEnds = ends
        failedInARow.removeAll()
    }

    mutating func healed() {
        problem = nil
        pauseEnds = nil
    }

    /// A pause that has run its time.
    func pauseIsOver(at now: ContinuousClock.Instant) -> Bool {
        pauseEnds.map { now >= $0 } ?? false
    }

    var isPaused: Bool { pauseEnds != nil }

    mutating func attemptSucceeded() {
        failedInARow.removeAll()
    }

    mutating func attemptFailed(job: Int64) {
        guard streakLimit > 0 else { return }
        failedInARow.append(job)
        if failedInARow.count > streakLimit { failedInARow.removeFirst(failedInARow.count - streakLimit) }
    }

    /// The jobs to look up when the streak is long enough to judge.
    var streakToJudge: [Int64]? {
        streakLimit > 0 && failedInARow.count >= streakLimit ? failedInARow : nil
    }
}
