/// Whether this worker should take jobs, and which. It stops claiming while
/// its box cannot reach jobs' files (a lost mount: the jobs would fail here
/// and succeed elsewhere) and for a while after its last attempts in a row
/// failed on jobs that then succeeded on other workers; either way it shows
/// as `unhealthy` with the reason, and resumes by itself.
///
/// A job whose own folder is missing here (while the box's roots are fine)
/// makes the worker pause for a short while, in case a mount is on its way
/// back; after that the worker takes other jobs and leaves that one alone
/// for a longer while, so one job whose folder was deleted neither burns
/// its attempts nor stops the farm (`vqueue status` shows why it waits).
struct WorkerHealth {
    /// Why the worker takes no jobs now, or nil.
    private(set) var problem: String?
    private(set) var cause: Cause?
    /// When a pause ends by itself (nil: only when the box heals).
    private(set) var pauseEnds: ContinuousClock.Instant?
    /// What the store was last told (nil: healthy).
    var recorded: String?
    /// Jobs not to claim until the given time: their files are missing here.
    private(set) var avoided: [Int64: ContinuousClock.Instant] = [:]
    /// Jobs whose attempts failed here one after another, oldest first.
    private(set) var failedInARow: [Int64] = []
    let streakLimit: Int

    enum Cause {
        /// The handler says the box cannot run jobs (a root of the box, an
        /// allowed folder or a path-map target, is missing).
        case roots
        /// A job's own folder was missing.
        case jobFolder
        /// Attempts failed here that succeeded elsewhere.
        case streak
    }

    /// How long a missing job folder pauses the worker, and how long that
    /// job is then left to other workers.
    static let jobFolderPause = Duration.seconds(60)
    static let avoidance = Duration.seconds(600)

    init(streakLimit: Int) {
        self.streakLimit = streakLimit
    }

    var isHealthy: Bool { problem == nil }

    /// The box cannot run jobs (`JobHandler.healthProblem`): until it heals.
    mutating func boxProblem(_ reason: String) {
        problem = reason
        cause = .roots
        pauseEnds = nil
    }

    /// A job's folder is missing here: pause briefly, then leave that job alone.
    mutating func jobUnavailable(_ job: Int64, _ reason: String, at now: ContinuousClock.Instant) {
        avoided[job] = now + Self.avoidance
        guard cause != .roots else { return }
        problem = reason
        cause = .jobFolder
        pauseEnds = now + Self.jobFolderPause
    }

    /// Paused after a failure streak, until `ends`.
    mutating func pause(_ reason: String, until ends: ContinuousClock.Instant) {
        problem = reason
        cause = .streak
        pauseEnds = ends
        failedInARow.removeAll()
    }

    mutating func healed() {
        problem = nil
        cause = nil
        pauseEnds = nil
    }

    /// The box reports no problem and every job folder found missing is
    /// back: jobs left alone for their folders may run here again (a folder
    /// still missing keeps its job left alone until its avoidance runs out).
    mutating func foldersBack() {
        avoided.removeAll()
    }

    /// Whether the worker may claim again: the box reports no problem (for
    /// missing folders), or the pause has run its time.
    func canHeal(boxProblem: String?, at now: ContinuousClock.Instant) -> Bool {
        switch cause {
        case nil: return true
        case .roots: return boxProblem == nil
        case .jobFolder: return boxProblem == nil || now >= pauseEnds!
        case .streak: return now >= pauseEnds!
        }
    }

    /// The jobs to leave alone now (expired avoidances dropped).
    mutating func avoidedJobs(at now: ContinuousClock.Instant) -> [Int64] {
        avoided = avoided.filter { $0.value > now }
        return Array(avoided.keys)
    }

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
