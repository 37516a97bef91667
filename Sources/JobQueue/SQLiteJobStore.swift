import Foundation
import GRDB

/// The embedded store: one SQLite file on one host (WAL needs shared
/// memory, so never on a network file system).
///
/// Writes are immediate transactions (GRDB's default for a pool), so they
/// can never deadlock on lock upgrades; a busy timeout makes a process wait
/// for another's write rather than fail. `synchronous=FULL` makes every
/// acknowledged submit survive a power cut.
public final class SQLiteJobStore: JobStore {
    let pool: DatabasePool

    public init(path: String) throws {
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent()
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var configuration = Configuration()
        configuration.busyMode = .timeout(60)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        pool = try DatabasePool(path: path, configuration: configuration)
        try SQLiteSchema.migrate(pool)
    }

    /// The store's clock.
    static var now: Double { Date().timeIntervalSince1970 }

    public func submit(_ jobs: [NewJob]) async throws -> [Job] {
        try await pool.write { db in try Self.insert(jobs, batchID: nil, db) }
    }

    public func submitBatch(_ jobs: [NewJob]) async throws -> (batchID: Int64, jobs: [Job]) {
        try await pool.write { db in
            try db.execute(sql: "INSERT INTO batches (created_at) VALUES (?)", arguments: [Self.now])
            let batchID = db.lastInsertedRowID
            return (batchID, try Self.insert(jobs, batchID: batchID, db))
        }
    }

    private static func insert(_ jobs: [NewJob], batchID: Int64?, _ db: Database) throws -> [Job] {
        let now = Self.now
        // One compiled statement for every row of the transaction.
        let insert = try db.cachedStatement(sql: """
            INSERT INTO jobs (kind, payload, queue, priority, state, max_attempts, run_at, submitted_at, updated_at,
                              batch_id, weight)
            VALUES (?, ?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?) RETURNING *
            """)
        return try jobs.map { job in
            let row = try Row.fetchOne(insert, arguments: [job.kind, job.payload, job.queue, job.priority, job.maxAttempts,
                                                           now, now, now, batchID, job.weight])
            return Job(row: row!)
        }
    }

    public func batch(id: Int64) async throws -> [Job]? {
        try await pool.read { db in try Self.batchJobs(id, db) }
    }

    private static func batchJobs(_ id: Int64, _ db: Database) throws -> [Job]? {
        guard try Bool.fetchOne(db, sql: "SELECT 1 FROM batches WHERE id = ?", arguments: [id]) ?? false else { return nil }
        return try Row.fetchAll(db, sql: "SELECT * FROM jobs WHERE batch_id = ? ORDER BY id", arguments: [id]).map(Job.init(row:))
    }

    public func cancelBatch(id: Int64) async throws -> [Job]? {
        try await pool.write { db in
            let now = Self.now
            try db.execute(sql: """
                UPDATE jobs SET state = 'cancelled', finished_at = ?, updated_at = ?, lease_expires_at = NULL, eta = NULL
                WHERE batch_id = ? AND state IN ('queued', 'running')
                """, arguments: [now, now, id])
            return try Self.batchJobs(id, db)
        }
    }

    public func retryBatch(id: Int64) async throws -> [Job]? {
        try await pool.write { db in
            try db.execute(sql: "\(Self.requeueFinished) WHERE batch_id = ? AND state = 'failed'",
                           arguments: [Self.now, Self.now, id])
            return try Self.batchJobs(id, db)
        }
    }

    /// Puts finished jobs back in the queue with fresh attempts (arguments:
    /// run_at, updated_at, then the WHERE clause's).
    private static let requeueFinished = """
        UPDATE jobs SET state = 'queued', attempts = 0, run_at = ?, error = NULL, result = NULL, progress = NULL,
                        fps = NULL, eta = NULL, lease_owner = NULL, started_at = NULL, finished_at = NULL, updated_at = ?
        """

    public func job(id: Int64) async throws -> Job? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM jobs WHERE id = ?", arguments: [id]).map(Job.init(row:))
        }
    }

    public func jobs(state: JobState?, limit: Int) async throws -> [Job] {
        try await pool.read { db in
            if let state {
                return try Row.fetchAll(db, sql: "SELECT * FROM jobs WHERE state = ? ORDER BY id DESC LIMIT ?",
                                        arguments: [state.rawValue, limit]).map(Job.init(row:))
            }
            return try Row.fetchAll(db, sql: "SELECT * FROM jobs ORDER BY id DESC LIMIT ?", arguments: [limit]).map(Job.init(row:))
        }
    }

    public func claim(worker: String, queues: [String], limit: Int, leaseSeconds: Double) async throws -> [Job] {
        guard limit > 0 else { return [] }
        return try await pool.write { db in
            let now = Self.now
            let queueFilter = queues.isEmpty ? "" : "AND queue IN (\(databaseQuestionMarks(count: queues.count)))"
            var arguments: StatementArguments = [worker, now + leaseSeconds, now, now, now]
            arguments += StatementArguments(queues)
            arguments += [limit]
            let rows = try Row.fetchAll(db, sql: """
                UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_owner = ?, lease_expires_at = ?,
                                started_at = ?, updated_at = ?, progress = 0, fps = NULL, eta = NULL
                WHERE id IN (SELECT id FROM jobs WHERE state = 'queued' AND run_at <= ? \(queueFilter)
                             ORDER BY priority DESC, id LIMIT ?)
                RETURNING *
                """, arguments: arguments)
            return rows.map(Job.init(row:)).sorted { ($0.priority, -$0.id) > ($1.priority, -$1.id) }
        }
    }

    public func renewLeases(worker: String, jobs: [LeasedJob], leaseSeconds: Double) async throws {
        try await pool.write { db in
            let now = Self.now
            if !jobs.isEmpty {
                try db.execute(sql: """
                    UPDATE jobs SET lease_expires_at = ?
                    WHERE lease_owner = ? AND state = 'running' AND id IN (\(databaseQuestionMarks(count: jobs.count)))
                    """, arguments: [now + leaseSeconds, worker] + StatementArguments(jobs.map(\.id)))
            }
            // A worker marked gone (its heartbeats missed) that is heard from again is back online.
            if let goneAt = try Double.fetchOne(db, sql: "SELECT gone_at FROM workers WHERE id = ?", arguments: [worker]) {
                try db.execute(sql: "UPDATE workers SET gone_at = NULL WHERE id = ?", arguments: [worker])
                try Self.workerEvent(worker, "online", detail: "heard from again \(Int((now - goneAt).rounded())) s after it was marked gone", db)
            }
            try db.execute(sql: "UPDATE workers SET heartbeat_at = ? WHERE id = ?", arguments: [now, worker])
        }
    }

    public func leasesLost(worker: String, jobs: [LeasedJob]) async throws -> Set<LeasedJob> {
        guard !jobs.isEmpty else { return [] }
        return try await pool.read { db in
            let held = try Row.fetchAll(db, sql: """
                SELECT id, attempts FROM jobs
                WHERE id IN (\(databaseQuestionMarks(count: jobs.count))) AND state = 'running' AND lease_owner = ?
                """, arguments: StatementArguments(jobs.map(\.id)) + [worker])
            let holding = Set(held.map { LeasedJob(id: $0["id"], attempt: $0["attempts"]) })
            return Set(jobs).subtracting(holding)
        }
    }

    public func recordProgress(_ updates: [LeasedJob: JobProgress]) async throws {
        guard !updates.isEmpty else { return }
        try await pool.write { db in
            let update = try db.cachedStatement(sql: """
                UPDATE jobs SET progress = ?, fps = ?, eta = ? WHERE id = ? AND attempts = ? AND state = 'running'
                """)
            for (job, progress) in updates {
                try update.execute(arguments: [progress.fraction, progress.fps, progress.eta, job.id, job.attempt])
            }
        }
    }

    public func complete(_ completions: [JobCompletion]) async throws -> [LeasedJob: CompletionResult] {
        guard !completions.isEmpty else { return [:] }
        return try await pool.write { db in
            let now = Self.now
            // Which of these attempts still hold their lease, in one query.
            var held = Set<LeasedJob>()
            for worker in Set(completions.map(\.worker)) {
                let ids = completions.filter { $0.worker == worker }.map(\.job.id)
                let rows = try Row.fetchAll(db, sql: """
                    SELECT id, attempts FROM jobs
                    WHERE lease_owner = ? AND state = 'running' AND id IN (\(databaseQuestionMarks(count: ids.count)))
                    """, arguments: [worker] + StatementArguments(ids))
                held.formUnion(rows.map { LeasedJob(id: $0["id"], attempt: $0["attempts"]) })
            }
            let results = completions.commitHeld(held)
            let succeed = try db.cachedStatement(sql: """
                UPDATE jobs SET state = 'succeeded', result = ?, error = NULL, progress = 1, eta = 0,
                                finished_at = ?, updated_at = ?, lease_expires_at = NULL
                WHERE id = ?
                """)
            for completion in completions where results[completion.job] == .succeeded {
                try succeed.execute(arguments: [completion.result, now, now, completion.job.id])
            }
            return results
        }
    }

    public func fail(_ job: LeasedJob, worker: String, error: String, retryAfter: Double?) async throws -> Bool {
        try await pool.write { db in
            let now = Self.now
            if let retryAfter {
                let retryAt = now + retryAfter
                try db.execute(sql: """
                    UPDATE jobs SET state = 'queued', run_at = ?, error = ?, updated_at = ?, lease_expires_at = NULL,
                                    progress = NULL, fps = NULL, eta = NULL
                    WHERE id = ? AND attempts = ? AND lease_owner = ? AND state = 'running'
                    """, arguments: [retryAt, error, now, job.id, job.attempt, worker])
            } else {
                try db.execute(sql: """
                    UPDATE jobs SET state = 'failed', error = ?, finished_at = ?, updated_at = ?, lease_expires_at = NULL,
                                    eta = NULL
                    WHERE id = ? AND attempts = ? AND lease_owner = ? AND state = 'running'
                    """, arguments: [error, now, now, job.id, job.attempt, worker])
            }
            return db.changesCount > 0
        }
    }

    public func release(_ jobs: [LeasedJob], worker: String, reason: String) async throws {
        guard !jobs.isEmpty else { return }
        try await pool.write { db in
            let now = Self.now
            for job in jobs {
                try db.execute(sql: """
                    UPDATE jobs SET state = 'queued', attempts = attempts - 1, run_at = ?, error = ?, updated_at = ?,
                                    lease_expires_at = NULL, progress = NULL, fps = NULL, eta = NULL
                    WHERE id = ? AND attempts = ? AND lease_owner = ? AND state = 'running'
                    """, arguments: [now, reason, now, job.id, job.attempt, worker])
            }
        }
    }

    public func rescueExpiredLeases(retry: RetryPolicy) async throws -> [Job] {
        try await pool.write { db in
            let now = Self.now
            let expired = try Row.fetchAll(db, sql: """
                SELECT * FROM jobs WHERE state = 'running' AND lease_expires_at < ?
                """, arguments: [now]).map(Job.init(row:))
            var rescued: [Job] = []
            for var job in expired {
                let reason = "worker \(job.leaseOwner ?? "?") stopped renewing its lease (it died or lost the database)"
                if job.attempts >= job.maxAttempts {
                    job.state = .failed
                    job.error = "\(reason), on attempt \(job.attempts) of \(job.maxAttempts)"
                    try db.execute(sql: """
                        UPDATE jobs SET state = 'failed', error = ?, finished_at = ?, updated_at = ?, lease_expires_at = NULL
                        WHERE id = ? AND state = 'running'
                        """, arguments: [job.error, now, now, job.id])
                } else {
                    job.state = .queued
                    job.error = reason
                    job.runAt = now + retry.delay(afterAttempt: job.attempts)
                    try db.execute(sql: """
                        UPDATE jobs SET state = 'queued', run_at = ?, error = ?, updated_at = ?, lease_expires_at = NULL,
                                        progress = NULL, fps = NULL, eta = NULL
                        WHERE id = ? AND state = 'running'
                        """, arguments: [job.runAt, reason, now, job.id])
                }
                rescued.append(job)
            }
            return rescued
        }
    }

    public func cancel(id: Int64) async throws -> Job? {
        try await pool.write { db in
            let now = Self.now
            try db.execute(sql: """
                UPDATE jobs SET state = 'cancelled', finished_at = ?, updated_at = ?, lease_expires_at = NULL, eta = NULL
                WHERE id = ? AND state IN ('queued', 'running')
                """, arguments: [now, now, id])
            return try Row.fetchOne(db, sql: "SELECT * FROM jobs WHERE id = ?", arguments: [id]).map(Job.init(row:))
        }
    }

    public func retry(id: Int64) async throws -> Job? {
        try await pool.write { db in
            try db.execute(sql: "\(Self.requeueFinished) WHERE id = ? AND state IN ('failed', 'cancelled')",
                           arguments: [Self.now, Self.now, id])
            return try Row.fetchOne(db, sql: "SELECT * FROM jobs WHERE id = ?", arguments: [id]).map(Job.init(row:))
        }
    }

    public func registerWorker(_ worker: WorkerRecord) async throws {
        try await pool.write { db in
            let now = Self.now
            try db.execute(sql: """
                INSERT INTO workers (id, host, pid, concurrency, queues, started_at, heartbeat_at, lease_seconds)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [worker.id, worker.host, worker.pid, worker.concurrency,
                                 worker.queues.joined(separator: ","), now, now, worker.leaseSeconds])
            try Self.workerEvent(worker.id, "online", detail: "pid \(worker.pid) on \(worker.host), concurrency \(worker.concurrency)", db)
        }
    }

    public func workerStopping(id: String, reason: String) async throws {
        try await pool.write { db in
            try db.execute(sql: "UPDATE workers SET stopping_at = ? WHERE id = ? AND stopping_at IS NULL", arguments: [Self.now, id])
            if db.changesCount > 0 { try Self.workerEvent(id, "stopping", detail: reason, db) }
        }
    }

    public func workerStopped(id: String) async throws {
        try await pool.write { db in
            try db.execute(sql: "UPDATE workers SET stopped_at = ? WHERE id = ?", arguments: [Self.now, id])
            try Self.workerEvent(id, "stopped", detail: nil, db)
        }
    }

    public func markSilentWorkers() async throws -> [WorkerRecord] {
        try await pool.write { db in
            let now = Self.now
            let silent = try Row.fetchAll(db, sql: """
                UPDATE workers SET gone_at = ?
                WHERE stopped_at IS NULL AND gone_at IS NULL AND heartbeat_at + lease_seconds < ?
                RETURNING *
                """, arguments: [now, now]).map { WorkerRecord(row: $0) }
            for worker in silent {
                let age = Int((now - worker.heartbeatAt).rounded())
                try Self.workerEvent(worker.id, "offline", detail: "no heartbeat for \(age) s", db)
            }
            return silent
        }
    }

    public func workers() async throws -> [WorkerRecord] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT workers.*, (SELECT COUNT(*) FROM jobs WHERE jobs.state = 'running' AND jobs.lease_owner = workers.id)
                       AS running_jobs
                FROM workers ORDER BY started_at DESC
                """).map { WorkerRecord(row: $0) }
        }
    }

    public func requestStop(worker id: String?, level: ShutdownRequest.Level) async throws -> [String] {
        try await pool.write { db in
            // Live as `WorkerRecord.state` has it: not stopped, and heard from within its lease.
            let live = "stopped_at IS NULL AND gone_at IS NULL AND heartbeat_at + lease_seconds >= ?"
            let now = Self.now
            let rows: [String]
            if let id {
                rows = try String.fetchAll(db, sql: """
                    UPDATE workers SET stop_requested = MAX(stop_requested, ?) WHERE id = ? AND \(live) RETURNING id
                    """, arguments: [level.rawValue, id, now])
            } else {
                rows = try String.fetchAll(db, sql: """
                    UPDATE workers SET stop_requested = MAX(stop_requested, ?) WHERE \(live) RETURNING id
                    """, arguments: [level.rawValue, now])
            }
            return rows.sorted()
        }
    }

    public func stopRequest(worker id: String) async throws -> ShutdownRequest.Level {
        try await pool.read { db in
            let level = try Int.fetchOne(db, sql: "SELECT stop_requested FROM workers WHERE id = ?", arguments: [id]) ?? 0
            return ShutdownRequest.Level(rawValue: level) ?? .immediate
        }
    }

    private static func workerEvent(_ worker: String, _ what: String, detail: String?, _ db: Database) throws {
        try db.execute(sql: """
            INSERT INTO events (kind, job_id, at, from_state, to_state, worker, detail) VALUES ('worker', NULL, ?, NULL, ?, ?, ?)
            """, arguments: [Self.now, what, worker, detail])
    }

    public func prune(finishedBefore before: Double, states: [JobState]) async throws -> Int {
        let finished = states.filter(\.isFinished).map(\.rawValue)
        guard !finished.isEmpty else { return 0 }
        let count = try await pool.write { db in
            let marks = databaseQuestionMarks(count: finished.count)
            let doomed = "SELECT id FROM jobs WHERE state IN (\(marks)) AND finished_at < ?"
            let arguments = StatementArguments(finished) + [before]
            try db.execute(sql: "DELETE FROM events WHERE job_id IN (\(doomed))", arguments: arguments)
            try db.execute(sql: "DELETE FROM jobs WHERE id IN (\(doomed))", arguments: arguments)
            let deleted = db.changesCount
            // Worker rows and their events go too once the worker is long gone.
            try db.execute(sql: """
                DELETE FROM events WHERE kind = 'worker' AND at < ? AND worker IN
                    (SELECT id FROM workers WHERE COALESCE(stopped_at, gone_at) < ?)
                """, arguments: [before, before])
            try db.execute(sql: "DELETE FROM workers WHERE COALESCE(stopped_at, gone_at) < ?", arguments: [before])
            try db.execute(sql: "DELETE FROM batches WHERE id NOT IN (SELECT DISTINCT batch_id FROM jobs WHERE batch_id IS NOT NULL)")
            return deleted
        }
        // Hand the freed pages back to the file system, so the database does
        // not keep the size of its busiest week.
        try await pool.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)")
            try db.execute(sql: "VACUUM")
        }
        return count
    }

    public func now() async throws -> Double { Self.now }

    public func unfinishedCount() async throws -> Int {
        try await pool.read { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM jobs WHERE state IN ('queued', 'running')") ?? 0
        }
    }

    public func queueDepths() async throws -> [QueueDepth] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT queue, priority, COUNT(*) AS count FROM jobs WHERE state = 'queued'
                GROUP BY queue, priority ORDER BY queue, priority DESC
                """).map { QueueDepth(queue: $0["queue"], priority: $0["priority"], count: $0["count"]) }
        }
    }

    public func finishedCounts(since: Double) async throws -> (succeeded: Int, failed: Int) {
        try await pool.read { db in
            let row = try Row.fetchOne(db, sql: """
                SELECT COALESCE(SUM(state = 'succeeded'), 0) AS succeeded, COALESCE(SUM(state = 'failed'), 0) AS failed
                FROM jobs WHERE finished_at >= ? AND state IN ('succeeded', 'failed')
                """, arguments: [since])
            return (row?["succeeded"] ?? 0, row?["failed"] ?? 0)
        }
    }

    public func changeToken(for change: StoreChange) async throws -> Int64 {
        // data_version is per connection and moves when *another*
        // connection commits; the writer connection is always the same one.
        try await pool.writeWithoutTransaction { db in
            try Int64.fetchOne(db, sql: "PRAGMA data_version") ?? 0
        }
    }

    public func events(after: Int64, job: Int64?, limit: Int) async throws -> [JobEvent] {
        try await pool.read { db in
            let rows: [Row]
            if let job {
                rows = try Row.fetchAll(db, sql: "SELECT * FROM events WHERE id > ? AND job_id = ? ORDER BY id LIMIT ?",
                                        arguments: [after, job, limit])
            } else {
                rows = try Row.fetchAll(db, sql: "SELECT * FROM events WHERE id > ? ORDER BY id LIMIT ?", arguments: [after, limit])
            }
            return rows.map(JobEvent.init(row:))
        }
    }
}

extension Job {
    init(row: Row) {
        self.init(id: row["id"], kind: row["kind"], payload: row["payload"], queue: row["queue"], priority: row["priority"],
                  state: JobState(rawValue: row["state"]) ?? .failed, attempts: row["attempts"], maxAttempts: row["max_attempts"],
                  runAt: row["run_at"], leaseOwner: row["lease_owner"], leaseExpiresAt: row["lease_expires_at"],
                  progress: row["progress"], fps: row["fps"], eta: row["eta"], result: row["result"], error: row["error"],
                  submittedAt: row["submitted_at"], startedAt: row["started_at"], finishedAt: row["finished_at"],
                  batchID: row["batch_id"], weight: row["weight"])
    }
}

extension WorkerRecord {
    init(row: Row) {
        self.init(id: row["id"], host: row["host"], pid: row["pid"], concurrency: row["concurrency"],
                  queues: (row["queues"] as String).split(separator: ",").map(String.init), leaseSeconds: row["lease_seconds"])
        startedAt = row["started_at"]
        heartbeatAt = row["heartbeat_at"]
        stopRequested = ShutdownRequest.Level(rawValue: row["stop_requested"]) ?? .none
        stoppingAt = row["stopping_at"]
        stoppedAt = row["stopped_at"]
        goneAt = row["gone_at"]
        jobsDone = row["jobs_done"]
        jobsFailed = row["jobs_failed"]
        runningJobs = row["running_jobs"] ?? 0
    }
}

extension JobEvent {
    init(row: Row) {
        self.init(id: row["id"], kind: row["kind"], jobID: row["job_id"], at: row["at"], from: row["from_state"],
                  to: row["to_state"], worker: row["worker"], detail: row["detail"])
    }
}
