/// The queue's one store: every statement, transition and row decoder
/// written once, over an `SQLExecutor` (GRDB for SQLite, libpq for
/// PostgreSQL). What differs between the two is asked of the executor's
/// `SQLDialect`; what to do after a failed attempt is decided by
/// `AttemptDecision` and only recorded here.
///
/// Every time comes from the database's clock (`vqueue_now()`: a function
/// of the schema on PostgreSQL, registered on each SQLite connection), so
/// boxes whose clocks disagree neither steal a live job nor keep a dead one.
///
/// The store's roles are in its extensions: leasing (workers), workers'
/// records, administration, monitoring.
public final class SQLJobStore: Sendable {
    let executor: any SQLExecutor

    /// Opens the store on an executor, bringing its tables up to date.
    init(executor: any SQLExecutor) async throws {
        self.executor = executor
        try await SchemaMigrator.migrate(executor)
    }

    public var displayName: String { executor.displayName }

    /// Rows per statement when many are inserted or deleted at once: well
    /// under both databases' limits on bound values, and short enough that a
    /// big prune never holds the write lock for long.
    static let chunk = 500

    /// The database's time, read once for the whole statement: compared with
    /// an indexed column, unlike `vqueue_now()` itself, it lets the index
    /// find the rows (PostgreSQL evaluates a volatile function row by row).
    static let now = "(SELECT vqueue_now())"

    func read<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) throws -> T) async throws -> T {
        try await executor.read(body)
    }

    func write<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) throws -> T) async throws -> T {
        try await executor.write(body)
    }

    public func checkIdentity() throws {
        try executor.checkIdentity()
    }

    public func interrupt() {
        executor.interrupt()
    }

    /// Ends the store's connections; it must not be used afterwards.
    public func close() async {
        await executor.close()
    }
}

extension Job {
    init(row: SQLRow) {
        self.init(id: row.int64("id"), kind: row.string("kind"), payload: row.string("payload"), queue: row.string("queue"),
                  priority: row.int("priority"), state: JobState(rawValue: row.string("state")) ?? .failed,
                  attempts: row.int("attempts"), maxAttempts: row.int("max_attempts"), runAt: row.double("run_at"),
                  submittedAt: row.double("submitted_at"))
        attemptBase = row.int("attempt_base")
        leaseOwner = row.optionalString("lease_owner")
        leaseExpiresAt = row.optionalDouble("lease_expires_at")
        progress = row.optionalDouble("progress")
        fps = row.optionalDouble("fps")
        eta = row.optionalDouble("eta")
        result = row.optionalString("result")
        error = row.optionalString("error")
        errorCode = row.optionalString("error_code")
        startedAt = row.optionalDouble("started_at")
        finishedAt = row.optionalDouble("finished_at")
        batchID = row.optionalInt64("batch_id")
        weight = row.optionalDouble("weight") ?? 1
        target = row.optionalString("target")
        key = row.optionalString("idempotency_key")
        publishing = row.optionalString("publishing")
        meta = JobMeta(json: row.optionalString("meta"))
        notify = row.optionalString("notify")
        parentID = row.optionalInt64("parent_id")
    }
}

extension WorkerRecord {
    init(row: SQLRow) {
        self.init(id: row.string("id"), host: row.string("host"), pid: row.int("pid"), concurrency: row.int("concurrency"),
                  queues: row.string("queues").split(separator: ",").map(String.init), leaseSeconds: row.double("lease_seconds"))
        startedAt = row.double("started_at")
        heartbeatAt = row.double("heartbeat_at")
        stopRequested = ShutdownRequest.Level(rawValue: row.int("stop_requested")) ?? .none
        stoppingAt = row.optionalDouble("stopping_at")
        stoppedAt = row.optionalDouble("stopped_at")
        goneAt = row.optionalDouble("gone_at")
        unhealthyReason = row.optionalString("unhealthy_reason")
        unhealthyAt = row.optionalDouble("unhealthy_at")
        jobsDone = row.int("jobs_done")
        jobsFailed = row.int("jobs_failed")
        runningJobs = row.int("running_jobs")
    }
}

extension JobEvent {
    init(row: SQLRow) {
        self.init(id: row.int64("id"), kind: row.string("kind"), jobID: row.optionalInt64("job_id"), at: row.double("at"),
                  from: row.optionalString("from_state"), to: row.string("to_state"), worker: row.optionalString("worker"),
                  detail: row.optionalString("detail"), errorCode: row.optionalString("error_code"))
        meta = JobMeta(json: row.optionalString("job_meta"))
        parentID = row.optionalInt64("job_parent")
    }
}
