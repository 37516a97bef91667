/// How a long maintenance loop (prune, compaction) shares SQLite's write
/// lock with workers: it writes in chunks, starts with the smallest and
/// grows it while writes stay quick, shrinks it when a write took long (a
/// loaded machine, a slow disk), and pauses after each write for as long as
/// it took.
///
/// SQLite's lock is not fair: a worker waiting for it polls (every 10 ms,
/// `SQLiteExecutor`), and a worker's tick makes several writes in a row
/// (heartbeat, rescue, progress), each needing a gap. A loop that holds the
/// lock for long writes, or takes it again at once, keeps a worker from
/// renewing a short lease (measured: a job with `--lease 1s` rescued twice
/// while prune ran for 42 s with 500-row chunks on a loaded machine).
/// Starting with the largest chunk is no safer: on a loaded machine prune's
/// very first 500-row write held the lock past a 1 s lease (measured: the
/// job rescued 2 s after prune started).
/// PostgreSQL locks rows and waiters queue: chunks stay at their largest and
/// there is no pause.
struct LockShare {
    /// Each write should hold the lock about this long at most.
    static let target: Duration = .milliseconds(50)
    static let shortestPause: Duration = .milliseconds(20)

    let dialect: SQLDialect
    let largest: Int
    let smallest: Int
    /// Rows (or pages) for the next write.
    private(set) var size: Int

    init(dialect: SQLDialect, largest: Int, smallest: Int) {
        self.dialect = dialect
        self.largest = largest
        self.smallest = min(smallest, largest)
        self.size = dialect == .sqlite ? self.smallest : largest
    }

    /// After a write that took `took`: sizes the next one and, on SQLite,
    /// leaves the lock to others for a while.
    mutating func wrote(took: Duration) async throws {
        guard dialect == .sqlite else { return }
        if took > Self.target * 2 {
            size = max(smallest, size / 2)
        } else if took < Self.target / 2 {
            size = min(largest, size * 2)
        }
        try await Task.sleep(for: max(Self.shortestPause, took))
    }
}
