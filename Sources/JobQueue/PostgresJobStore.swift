import Foundation
import PostgresNIO

/// The store for farms of many boxes: one PostgreSQL database, the same
/// tables and semantics as `SQLiteJobStore`.
///
/// Every time (leases, heartbeats, backoff, events) is taken from the
/// server's clock, so boxes whose clocks disagree neither steal a live job
/// nor keep a dead one. Claims lock rows with `FOR UPDATE SKIP LOCKED`, so
/// workers on many boxes never wait for each other's claims; a completion
/// locks its row while its output is put in place, so a rescue can never
/// hand the job to another box in between.
public final class PostgresJobStore: JobStore {
    let session: PostgresSession
    private let notifier: PostgresNotifier

    /// Connects (creating the tables on first use). Fails with
    /// `PostgresUnavailable` when the server cannot be reached.
    public init(location: PostgresLocation) async throws {
        session = try PostgresSession(location)
        notifier = PostgresNotifier(session: session)
        do {
            try await PostgresSchema.migrate(session)
        } catch {
            await session.close()
            throw error
        }
    }

    /// Ends the connection (one-shot commands, before exiting).
    public func close() async {
        await session.close()
    }

    private static var logger: Logger { PostgresSession.logger }

    // MARK: Reading rows

    private func jobs(_ query: PostgresQuery) async throws -> [Job] {
        try await session.run { try await Self.jobs(query, $0) }
    }

    private static func jobs(_ query: PostgresQuery, _ connection: PostgresConnection) async throws -> [Job] {
        try await connection.query(query, logger: logger).collect().map { try Job(row: $0.makeRandomAccess()) }
    }

    private static func values<T: PostgresDecodable & Sendable>(_ type: T.Type, _ query: PostgresQuery,
                                                                _ connection: PostgresConnection) async throws -> [T] {
        var values: [T] = []
        for try await value in try await connection.query(query, logger: logger).decode(T.self) {
            values.append(value)
        }
        return values
    }

    private func values<T: PostgresDecodable & Sendable>(_ type: T.Type, _ query: PostgresQuery) async throws -> [T] {
        try await session.run { try await Self.values(type, query, $0) }
    }

    // MARK: Submitting

    public func submit(_ jobs: [NewJob]) async throws -> [Job] {
        try await session.transaction { try await Self.insert(jobs, batchID: nil, $0) }
    }

    public func submitBatch(_ jobs: [NewJob]) async throws -> (batchID: Int64, jobs: [Job]) {
        let (batchID, inserted) = try await session.transaction { connection in
            let batchID = try await Self.values(Int64.self, "INSERT INTO batches (created_at) VALUES (vqueue_now()) RETURNING id",
                                                connection)[0]
            return (batchID, try await Self.insert(jobs, batchID: batchID, connection))
        }
        return (batchID, inserted)
    }

    /// All the jobs in one statement; ids are handed out in the jobs' order.
    private static func insert(_ jobs: [NewJob], batchID: Int64?, _ connection: PostgresConnection) async throws -> [Job] {
        guard !jobs.isEmpty else { return [] }
        let inserted = try await Self.jobs("""
            INSERT INTO jobs (kind, payload, queue, priority, state, max_attempts, run_at, submitted_at, updated_at,
                              batch_id, weight)
            SELECT kind, payload, queue, priority, 'queued', max_attempts, vqueue_now(), vqueue_now(), vqueue_now(),
                   \(batchID), weight
            FROM unnest(\(jobs.map(\.kind))::text[], \(jobs.map(\.payload))::text[], \(jobs.map(\.queue))::text[],
                        \(jobs.map(\.priority))::bigint[], \(jobs.map(\.maxAttempts))::bigint[], \(jobs.map(\.weight))::float8[])
                 WITH ORDINALITY AS new (kind, payload, queue, priority, max_attempts, weight, position)
            ORDER BY position
            RETURNING *
            """, connection)
        return inserted.sorted { $0.id < $1.id }
    }

    // MARK: Batches

    public func batch(id: Int64) async throws -> [Job]? {
        try await session.run { try await Self.batchJobs(id, $0) }
    }

    private static func batchJobs(_ id: Int64, _ connection: PostgresConnection) async throws -> [Job]? {
        guard try await !values(Int64.self, "SELECT id FROM batches WHERE id = \(id)", connection).isEmpty else { return nil }
        return try await jobs("SELECT * FROM jobs WHERE batch_id = \(id) ORDER BY id", connection)
    }

    public func cancelBatch(id: Int64) async throws -> [Job]? {
        try await session.transaction { connection in
            try await connection.query("""
                UPDATE jobs SET state = 'cancelled', finished_at = vqueue_now(), updated_at = vqueue_now(),
                                lease_expires_at = NULL, eta = NULL
                WHERE batch_id = \(id) AND state IN ('queued', 'running')
                """, logger: Self.logger)
            return try await Self.batchJobs(id, connection)
        }
    }

    public func retryBatch(id: Int64) async throws -> [Job]? {
        try await session.transaction { connection in
            try await connection.query("\(unescaped: Self.requeueFinished) WHERE batch_id = \(id) AND state = 'failed'",
                                       logger: Self.logger)
            return try await Self.batchJobs(id, connection)
        }
    }

    /// Puts finished jobs back in the queue with fresh attempts.
    private static let requeueFinished = """
        UPDATE jobs SET state = 'queued', attempts = 0, run_at = vqueue_now(), error = NULL, result = NULL,
                        progress = NULL, fps = NULL, eta = NULL, lease_owner = NULL, started_at = NULL,
                        finished_at = NULL, updated_at = vqueue_now()
        """

    // MARK: Reading jobs

    public func job(id: Int64) async throws -> Job? {
        try await jobs("SELECT * FROM jobs WHERE id = \(id)").first
    }

    public func jobs(state: JobState?, limit: Int) async throws -> [Job] {
        if let state {
            return try await jobs("SELECT * FROM jobs WHERE state = \(state.rawValue) ORDER BY id DESC LIMIT \(limit)")
        }
        return try await jobs("SELECT * FROM jobs ORDER BY id DESC LIMIT \(limit)")
    }

    // MARK: Running jobs

    public func claim(worker: String, queues: [String], limit: Int, leaseSeconds: Double) async throws -> [Job] {
        guard limit > 0 else { return [] }
        let claimed = try await jobs("""
            UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_owner = \(worker),
                            lease_expires_at = vqueue_now() + \(leaseSeconds), started_at = vqueue_now(),
                            updated_at = vqueue_now(), progress = 0, fps = NULL, eta = NULL
            WHERE id IN (SELECT id FROM jobs
                         WHERE state = 'queued' AND run_at <= vqueue_now()
                               AND (cardinality(\(queues)::text[]) = 0 OR queue = ANY(\(queues)::text[]))
                         ORDER BY priority DESC, id LIMIT \(limit)
                         FOR UPDATE SKIP LOCKED)
            RETURNING *
            """)
        return claimed.sorted { ($0.priority, -$0.id) > ($1.priority, -$1.id) }
    }

    public func renewLeases(worker: String, jobs: [LeasedJob], leaseSeconds: Double) async throws {
        try await session.transaction { connection in
            // A worker marked gone (its heartbeats missed) that is heard from again is back online.
            let back = try await Self.values(Double.self, """
                WITH renewed AS (
                    UPDATE jobs SET lease_expires_at = vqueue_now() + \(leaseSeconds)
                    WHERE lease_owner = \(worker) AND state = 'running' AND id = ANY(\(jobs.map(\.id))::bigint[])
                ), previous AS (
                    SELECT gone_at FROM workers WHERE id = \(worker) FOR UPDATE
                )
                UPDATE workers SET heartbeat_at = vqueue_now(), gone_at = NULL FROM previous
                WHERE id = \(worker) AND previous.gone_at IS NOT NULL
                RETURNING vqueue_now() - previous.gone_at
                """, connection)
            if let away = back.first {
                try await Self.workerEvent(worker, "online", detail: "heard from again \(Int(away.rounded())) s after it was marked gone",
                                           connection)
            } else {
                try await connection.query("UPDATE workers SET heartbeat_at = vqueue_now() WHERE id = \(worker)",
                                           logger: Self.logger)
            }
        }
    }

    public func leasesLost(worker: String, jobs: [LeasedJob]) async throws -> Set<LeasedJob> {
        guard !jobs.isEmpty else { return [] }
        let holding = try await session.run { try await Self.held(worker: worker, jobs.map(\.id), lock: false, $0) }
        return Set(jobs).subtracting(holding)
    }

    /// Which of these jobs' attempts the worker holds; `lock` keeps them
    /// locked to the end of the transaction.
    private static func held(worker: String, _ ids: [Int64], lock: Bool,
                             _ connection: PostgresConnection) async throws -> Set<LeasedJob> {
        var held = Set<LeasedJob>()
        let rows = try await connection.query("""
            SELECT id, attempts FROM jobs
            WHERE id = ANY(\(ids)::bigint[]) AND state = 'running' AND lease_owner = \(worker)
            \(unescaped: lock ? "FOR UPDATE" : "")
            """, logger: logger)
        for try await (id, attempts) in rows.decode((Int64, Int).self) {
            held.insert(LeasedJob(id: id, attempt: attempts))
        }
        return held
    }

    public func recordProgress(_ updates: [LeasedJob: JobProgress]) async throws {
        guard !updates.isEmpty else { return }
        try await session.transaction { connection in
            for (job, progress) in updates {
                try await connection.query("""
                    UPDATE jobs SET progress = \(progress.fraction), fps = \(progress.fps), eta = \(progress.eta)
                    WHERE id = \(job.id) AND attempts = \(job.attempt) AND state = 'running'
                    """, logger: Self.logger)
            }
        }
    }

    public func complete(_ completions: [JobCompletion]) async throws -> [LeasedJob: CompletionResult] {
        guard !completions.isEmpty else { return [:] }
        return try await session.transaction { connection in
            var held = Set<LeasedJob>()
            for worker in Set(completions.map(\.worker)) {
                let ids = completions.filter { $0.worker == worker }.map(\.job.id)
                held.formUnion(try await Self.held(worker: worker, ids, lock: true, connection))
            }
            let results = completions.commitHeld(held)
            let succeeded = completions.filter { results[$0.job] == .succeeded }
            if !succeeded.isEmpty {
                // One statement for all; a text array holds no NULL here, so '' stands for "no result".
                try await connection.query("""
                    UPDATE jobs SET state = 'succeeded', result = NULLIF(done.result, ''), error = NULL, progress = 1,
                                    eta = 0, finished_at = vqueue_now(), updated_at = vqueue_now(), lease_expires_at = NULL
                    FROM unnest(\(succeeded.map(\.job.id))::bigint[], \(succeeded.map { $0.result ?? "" })::text[])
                         AS done (id, result)
                    WHERE jobs.id = done.id
                    """, logger: Self.logger)
            }
            return results
        }
    }

    public func fail(_ job: LeasedJob, worker: String, error: String, retryAfter: Double?) async throws -> Bool {
        let failed: [Int64]
        if let retryAfter {
            failed = try await values(Int64.self, """
                UPDATE jobs SET state = 'queued', run_at = vqueue_now() + \(retryAfter), error = \(error),
                                updated_at = vqueue_now(), lease_expires_at = NULL, progress = NULL, fps = NULL, eta = NULL
                WHERE id = \(job.id) AND attempts = \(job.attempt) AND lease_owner = \(worker) AND state = 'running'
                RETURNING id
                """)
        } else {
            failed = try await values(Int64.self, """
                UPDATE jobs SET state = 'failed', error = \(error), finished_at = vqueue_now(), updated_at = vqueue_now(),
                                lease_expires_at = NULL, eta = NULL
                WHERE id = \(job.id) AND attempts = \(job.attempt) AND lease_owner = \(worker) AND state = 'running'
                RETURNING id
                """)
        }
        return !failed.isEmpty
    }

    public func release(_ jobs: [LeasedJob], worker: String, reason: String) async throws {
        guard !jobs.isEmpty else { return }
        try await session.transaction { connection in
            for job in jobs {
                try await connection.query("""
                    UPDATE jobs SET state = 'queued', attempts = attempts - 1, run_at = vqueue_now(), error = \(reason),
                                    updated_at = vqueue_now(), lease_expires_at = NULL, progress = NULL, fps = NULL, eta = NULL
                    WHERE id = \(job.id) AND attempts = \(job.attempt) AND lease_owner = \(worker) AND state = 'running'
                    """, logger: Self.logger)
            }
        }
    }

    public func rescueExpiredLeases(retry: RetryPolicy) async throws -> [Job] {
        try await session.transaction { connection in
            // SKIP LOCKED: a row locked by a completion in progress is not expired for long.
            let expired = try await Self.jobs("""
                SELECT * FROM jobs WHERE state = 'running' AND lease_expires_at < vqueue_now()
                FOR UPDATE SKIP LOCKED
                """, connection)
            var rescued: [Job] = []
            for var job in expired {
                let reason = "worker \(job.leaseOwner ?? "?") stopped renewing its lease (it died or lost the database)"
                if job.attempts >= job.maxAttempts {
                    job.error = "\(reason), on attempt \(job.attempts) of \(job.maxAttempts)"
                    rescued += try await Self.jobs("""
                        UPDATE jobs SET state = 'failed', error = \(job.error), finished_at = vqueue_now(),
                                        updated_at = vqueue_now(), lease_expires_at = NULL
                        WHERE id = \(job.id) RETURNING *
                        """, connection)
                } else {
                    rescued += try await Self.jobs("""
                        UPDATE jobs SET state = 'queued', run_at = vqueue_now() + \(retry.delay(afterAttempt: job.attempts)),
                                        error = \(reason), updated_at = vqueue_now(), lease_expires_at = NULL,
                                        progress = NULL, fps = NULL, eta = NULL
                        WHERE id = \(job.id) RETURNING *
                        """, connection)
                }
            }
            return rescued
        }
    }

    public func cancel(id: Int64) async throws -> Job? {
        try await session.transaction { connection in
            try await connection.query("""
                UPDATE jobs SET state = 'cancelled', finished_at = vqueue_now(), updated_at = vqueue_now(),
                                lease_expires_at = NULL, eta = NULL
                WHERE id = \(id) AND state IN ('queued', 'running')
                """, logger: Self.logger)
            return try await Self.jobs("SELECT * FROM jobs WHERE id = \(id)", connection).first
        }
    }

    public func retry(id: Int64) async throws -> Job? {
        try await session.transaction { connection in
            try await connection.query("\(unescaped: Self.requeueFinished) WHERE id = \(id) AND state IN ('failed', 'cancelled')",
                                       logger: Self.logger)
            return try await Self.jobs("SELECT * FROM jobs WHERE id = \(id)", connection).first
        }
    }

    // MARK: Workers

    public func registerWorker(_ worker: WorkerRecord) async throws {
        try await session.transaction { connection in
            try await connection.query("""
                INSERT INTO workers (id, host, pid, concurrency, queues, started_at, heartbeat_at, lease_seconds)
                VALUES (\(worker.id), \(worker.host), \(worker.pid), \(worker.concurrency),
                        \(worker.queues.joined(separator: ",")), vqueue_now(), vqueue_now(), \(worker.leaseSeconds))
                """, logger: Self.logger)
            try await Self.workerEvent(worker.id, "online",
                                       detail: "pid \(worker.pid) on \(worker.host), concurrency \(worker.concurrency)", connection)
        }
    }

    public func workerStopping(id: String, reason: String) async throws {
        try await session.transaction { connection in
            let marked = try await Self.values(String.self, """
                UPDATE workers SET stopping_at = vqueue_now() WHERE id = \(id) AND stopping_at IS NULL RETURNING id
                """, connection)
            if !marked.isEmpty { try await Self.workerEvent(id, "stopping", detail: reason, connection) }
        }
    }

    public func workerStopped(id: String) async throws {
        try await session.transaction { connection in
            try await connection.query("UPDATE workers SET stopped_at = vqueue_now() WHERE id = \(id)", logger: Self.logger)
            try await Self.workerEvent(id, "stopped", detail: nil, connection)
        }
    }

    public func markSilentWorkers() async throws -> [WorkerRecord] {
        try await session.transaction { connection in
            let silent = try await connection.query("""
                UPDATE workers SET gone_at = vqueue_now()
                WHERE stopped_at IS NULL AND gone_at IS NULL AND heartbeat_at + lease_seconds < vqueue_now()
                RETURNING *
                """, logger: Self.logger).collect().map { try WorkerRecord(row: $0.makeRandomAccess()) }
            for worker in silent {
                let age = Int(((worker.goneAt ?? worker.heartbeatAt) - worker.heartbeatAt).rounded())
                try await Self.workerEvent(worker.id, "offline", detail: "no heartbeat for \(age) s", connection)
            }
            return silent
        }
    }

    public func workers() async throws -> [WorkerRecord] {
        try await session.run { connection in
            try await connection.query("""
                SELECT workers.*, (SELECT count(*) FROM jobs WHERE jobs.state = 'running' AND jobs.lease_owner = workers.id)
                       AS running_jobs
                FROM workers ORDER BY started_at DESC
                """, logger: Self.logger).collect().map { try WorkerRecord(row: $0.makeRandomAccess()) }
        }
    }

    public func requestStop(worker id: String?, level: ShutdownRequest.Level) async throws -> [String] {
        // Live as `WorkerRecord.state` has it: not stopped, and heard from within its lease.
        let live = "stopped_at IS NULL AND gone_at IS NULL AND heartbeat_at + lease_seconds >= vqueue_now()"
        let asked: [String]
        if let id {
            asked = try await values(String.self, """
                UPDATE workers SET stop_requested = GREATEST(stop_requested, \(level.rawValue))
                WHERE id = \(id) AND \(unescaped: live) RETURNING id
                """)
        } else {
            asked = try await values(String.self, """
                UPDATE workers SET stop_requested = GREATEST(stop_requested, \(level.rawValue)) WHERE \(unescaped: live) RETURNING id
                """)
        }
        return asked.sorted()
    }

    public func stopRequest(worker id: String) async throws -> ShutdownRequest.Level {
        let level = try await values(Int.self, "SELECT stop_requested FROM workers WHERE id = \(id)").first ?? 0
        return ShutdownRequest.Level(rawValue: level) ?? .immediate
    }

    private static func workerEvent(_ worker: String, _ what: String, detail: String?,
                                     _ connection: PostgresConnection) async throws {
        try await connection.query("""
            INSERT INTO events (kind, job_id, at, from_state, to_state, worker, detail)
            VALUES ('worker', NULL, vqueue_now(), NULL, \(what), \(worker), \(detail))
            """, logger: logger)
    }

    // MARK: Maintenance and overview

    public func prune(finishedBefore before: Double, states: [JobState]) async throws -> Int {
        let finished = states.filter(\.isFinished).map(\.rawValue)
        guard !finished.isEmpty else { return 0 }
        let count = try await session.transaction { connection in
            let doomed = "SELECT id FROM jobs WHERE state = ANY($1::text[]) AND finished_at < $2"
            var arguments = PostgresBindings()
            arguments.append(finished)
            arguments.append(before)
            try await connection.query(PostgresQuery(unsafeSQL: "DELETE FROM events WHERE job_id IN (\(doomed))",
                                                     binds: arguments), logger: Self.logger)
            let deleted = try await Self.values(Int64.self, PostgresQuery(
                unsafeSQL: "DELETE FROM jobs WHERE id IN (\(doomed)) RETURNING id", binds: arguments), connection).count
            // Worker rows and their events go too once the worker is long gone.
            try await connection.query("""
                DELETE FROM events WHERE kind = 'worker' AND at < \(before) AND worker IN
                    (SELECT id FROM workers WHERE COALESCE(stopped_at, gone_at) < \(before))
                """, logger: Self.logger)
            try await connection.query("DELETE FROM workers WHERE COALESCE(stopped_at, gone_at) < \(before)", logger: Self.logger)
            try await connection.query("""
                DELETE FROM batches WHERE id NOT IN (SELECT DISTINCT batch_id FROM jobs WHERE batch_id IS NOT NULL)
                """, logger: Self.logger)
            return deleted
        }
        // Make the deleted rows' space reusable now rather than at autovacuum's leisure.
        _ = try await session.run(deadline: .seconds(3600)) { connection in
            try await connection.query("VACUUM (ANALYZE) jobs, events, workers, batches", logger: Self.logger)
        }
        return count
    }

    public func now() async throws -> Double {
        try await values(Double.self, "SELECT vqueue_now()")[0]
    }

    public func unfinishedCount() async throws -> Int {
        try await values(Int.self, "SELECT count(*) FROM jobs WHERE state IN ('queued', 'running')")[0]
    }

    public func queueDepths() async throws -> [QueueDepth] {
        try await session.run { connection in
            var depths: [QueueDepth] = []
            let rows = try await connection.query("""
                SELECT queue, priority, count(*) FROM jobs WHERE state = 'queued'
                GROUP BY queue, priority ORDER BY queue, priority DESC
                """, logger: Self.logger)
            for try await (queue, priority, count) in rows.decode((String, Int, Int).self) {
                depths.append(QueueDepth(queue: queue, priority: priority, count: count))
            }
            return depths
        }
    }

    public func finishedCounts(since: Double) async throws -> (succeeded: Int, failed: Int) {
        let counts = try await session.run { connection in
            var counts = (succeeded: 0, failed: 0)
            let rows = try await connection.query("""
                SELECT count(*) FILTER (WHERE state = 'succeeded'), count(*) FILTER (WHERE state = 'failed')
                FROM jobs WHERE finished_at >= \(since) AND state IN ('succeeded', 'failed')
                """, logger: Self.logger)
            for try await (succeeded, failed) in rows.decode((Int, Int).self) { counts = (succeeded, failed) }
            return [counts.succeeded, counts.failed]
        }
        return (counts[0], counts[1])
    }

    public func changeToken(for change: StoreChange) async throws -> Int64 {
        notifier.count(of: change)
    }

    public func events(after: Int64, job: Int64?, limit: Int) async throws -> [JobEvent] {
        try await session.run { connection in
            let query: PostgresQuery = if let job {
                "SELECT * FROM events WHERE id > \(after) AND job_id = \(job) ORDER BY id LIMIT \(limit)"
            } else {
                "SELECT * FROM events WHERE id > \(after) ORDER BY id LIMIT \(limit)"
            }
            return try await connection.query(query, logger: Self.logger).collect().map { try JobEvent(row: $0.makeRandomAccess()) }
        }
    }
}

extension Job {
    init(row: PostgresRandomAccessRow) throws {
        self.init(id: try row["id"].decode(Int64.self), kind: try row["kind"].decode(String.self),
                  payload: try row["payload"].decode(String.self), queue: try row["queue"].decode(String.self),
                  priority: try row["priority"].decode(Int.self),
                  state: JobState(rawValue: try row["state"].decode(String.self)) ?? .failed,
                  attempts: try row["attempts"].decode(Int.self), maxAttempts: try row["max_attempts"].decode(Int.self),
                  runAt: try row["run_at"].decode(Double.self), leaseOwner: try row["lease_owner"].decode(String?.self),
                  leaseExpiresAt: try row["lease_expires_at"].decode(Double?.self),
                  progress: try row["progress"].decode(Double?.self), fps: try row["fps"].decode(Double?.self),
                  eta: try row["eta"].decode(Double?.self), result: try row["result"].decode(String?.self),
                  error: try row["error"].decode(String?.self), submittedAt: try row["submitted_at"].decode(Double.self),
                  startedAt: try row["started_at"].decode(Double?.self), finishedAt: try row["finished_at"].decode(Double?.self),
                  batchID: try row["batch_id"].decode(Int64?.self), weight: try row["weight"].decode(Double.self))
    }
}

extension WorkerRecord {
    init(row: PostgresRandomAccessRow) throws {
        self.init(id: try row["id"].decode(String.self), host: try row["host"].decode(String.self),
                  pid: try row["pid"].decode(Int.self), concurrency: try row["concurrency"].decode(Int.self),
                  queues: try row["queues"].decode(String.self).split(separator: ",").map(String.init),
                  leaseSeconds: try row["lease_seconds"].decode(Double.self))
        startedAt = try row["started_at"].decode(Double.self)
        heartbeatAt = try row["heartbeat_at"].decode(Double.self)
        stopRequested = ShutdownRequest.Level(rawValue: try row["stop_requested"].decode(Int.self)) ?? .none
        stoppingAt = try row["stopping_at"].decode(Double?.self)
        stoppedAt = try row["stopped_at"].decode(Double?.self)
        goneAt = try row["gone_at"].decode(Double?.self)
        jobsDone = try row["jobs_done"].decode(Int.self)
        jobsFailed = try row["jobs_failed"].decode(Int.self)
        runningJobs = row.contains("running_jobs") ? try row["running_jobs"].decode(Int.self) : 0
    }
}

extension JobEvent {
    init(row: PostgresRandomAccessRow) throws {
        self.init(id: try row["id"].decode(Int64.self), kind: try row["kind"].decode(String.self),
                  jobID: try row["job_id"].decode(Int64?.self), at: try row["at"].decode(Double.self),
                  from: try row["from_state"].decode(String?.self), to: try row["to_state"].decode(String.self),
                  worker: try row["worker"].decode(String?.self), detail: try row["detail"].decode(String?.self))
    }
}
