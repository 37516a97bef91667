import Synchronization

/// The latest progress of each running attempt, written by job tasks as
/// often as their children report and flushed to the store a couple of
/// times a second in one write.
final class ProgressBuffer: Sendable {
    private let latest = Mutex<[LeasedJob: JobProgress]>([:])

    func record(_ progress: JobProgress, for job: LeasedJob) {
        latest.withLock { $0[job] = progress }
    }

    func take() -> [LeasedJob: JobProgress] {
        latest.withLock { pending in
            defer { pending.removeAll() }
            return pending
        }
    }
}
