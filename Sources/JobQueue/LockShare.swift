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
/// Pauses alone are not enough on a loaded machine: a worker starved of CPU
/// wakes after the pause has ended and prune holds the lock again (measured:
/// with three busy loops, both workers' 1 s leases lapsed 17 s into a prune).
/// So after its pause the loop also waits while any live worker's renewal is
/// late (`lateRenewal`, a read: it takes no lock): the worker then finds the
/// lock free whenever it gets to run. The wait is bounded by the check itself,
/// which stops counting a worker once its lease is over (it is gone then, and
/// other workers' rescues take over).
/// PostgreSQL locks rows and waiters queue: chunks stay at their largest and
/// there is no pause.
struct LockShare {
    /// Each write should hold the lock about this long at most.
    static let target: Duration = .milliseconds(50)
    static let shortestPause: Duration = .milliseconds(20)
    /// How often a late renewal is looked for again while waiting for it.
    static let lateRenewalPoll: Duration = .milliseconds(20)

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
    /// leaves the lock to others for a while, and longer while
    /// `lateRenewal` says a worker's lease renewal is late.
    mutating func wrote(took: Duration, lateRenewal: () async throws -> Bool = { false }) async throws {
        guard dialect == .sqlite else { return }
        if took > Self.target * 2 {
            size = max(smallest, size / 2)
        } else if took < Self.target / 2 {
            size = min(largest, size * 2)
        }
        try await Task.sleep(for: max(Self.shortestPause, took))
        while try await lateRenewal() {
            try await Task.sleep(for: Self.lateRenewalPoll)
        }
    }
}
