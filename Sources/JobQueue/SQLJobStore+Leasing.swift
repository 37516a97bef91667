/// What workers do: claim, keep leases, record progress and outcomes, and
/// clean up after workers that died.
extension SQLJobStore: JobLeasing {
    public func claim(worker: String, queues: [String], limit: Int, leaseSeconds: Double,
                      excluding: [Int64]) async throws -> [Job] {
        guard limit > 0 else { return [] }
        return try await write { db in
            let queueFilter = (queues.isEmpty ? "" : "AND queue IN (\(db.marks(queues.count)))")
                + (excluding.isEmpty ? "" : " AND id NOT IN (\(db.marks(excluding.count)))")
            // A queued job still holding a lease is a cancelled attempt whose
            // worker has not confirmed it stopped: not claimed before it has.
            let rows = try db.query("""
                UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_owner = ?,
                                lease_expires_at = vqueue_now() + ?, started_at = vqueue_now(), updated_at = vqueue_now(),
                                progress = 0, fps = NULL, eta = NULL, publishing = NULL
                WHERE id IN (SELECT id FROM jobs
                             WHERE state = 'queued' AND run_at <= vqueue_now() AND lease_expires_at IS NULL \(queueFilter)
                             ORDER BY priority DESC, id LIMIT ? \(db.dialect.skipLocked))
                RETURNING *
                """, [worker.sqlValue, leaseSeconds.sqlValue] + queues.map(\.sqlValue) + excluding.map(\.sqlValue)
                    + [limit.sqlValue])
            return rows.map(Job.init(row:)).sorted { ($0.priority, -$0.id) > ($1.priority, -$1.id) }
        }
    }

    public func leasesLost(worker: String, jobs: [LeasedJob]) async throws -> Set<LeasedJob> {
        guard !jobs.isEmpty else { return [] }
        return try await read { db in
            let held = try db.query("""
                SELECT id, attempts FROM jobs WHERE id IN (\(db.marks(jobs.count))) AND state = 'running' AND lease_owner = ?
                """, jobs.map(\.id.sqlValue) + [worker.sqlValue])
            return Set(jobs).subtracting(held.map { LeasedJob(id: $0.int64("id"), attempt: $0.int("attempts")) })
        }
    }

    public func recordProgress(_ updates: [LeasedJob: JobProgress]) async throws {
        guard !updates.isEmpty else { return }
        let rows = updates.map { job, progress in
            [job.id.sqlValue, job.attempt.sqlValue, progress.fraction.sqlValue, progress.fps.sqlValue, progress.eta.sqlValue]
        }
        _ = try await write { db in
            let real = db.dialect.type(.real)
            return try Self.updateEach(rows, "(?, ?, CAST(? AS \(real)), CAST(? AS \(real)), CAST(? AS \(real)))",
                                       set: "progress = v.column3, fps = v.column4, eta = v.column5", where: "state = 'running'", [], db)
        }
    }

    /// One UPDATE for many rows, each with its own values: `rows` joined as
    /// `v` (`v.column1` is the job id, `v.column2` the attempt), so a batch
    /// of completions or progress reports is one round trip, not one each.
    /// Returns the attempts updated.
    private static func updateEach(_ rows: [[SQLValue]], _ row: String, set: String, where condition: String,
                                   _ arguments: [SQLValue] = [], _ db: any SQLConnection) throws -> Set<LeasedJob> {
        var updated = Set<LeasedJob>()
        for start in stride(from: 0, to: rows.count, by: chunk) {
            let part = rows[start..<min(start + chunk, rows.count)]
            let changed = try db.query("""
                UPDATE jobs SET \(set) FROM (VALUES \(Array(repeating: row, count: part.count).joined(separator: ", "))) AS v
                WHERE jobs.id = v.column1 AND jobs.attempts = v.column2 AND jobs.\(condition)
                RETURNING jobs.id, jobs.attempts
                """, part.flatMap { $0 } + arguments)
            updated.formUnion(changed.map { LeasedJob(id: $0.int64("id"), attempt: $0.int("attempts")) })
        }
        return updated
    }

    /// The attempt, still this worker's (the condition of every record a
    /// worker makes about its own attempt).
    private static let held = "id = ? AND attempts = ? AND lease_owner = ? AND state = 'running'"

    public func beginPublishing(_ publications: [PendingPublication], worker: String, leaseSeconds: Double) async throws -> Set<LeasedJob> {
        guard !publications.isEmpty else { return [] }
        return try await write { db in
            var held = Set<LeasedJob>()
            for publication in publications {
                let changed = try db.execute("""
                    UPDATE jobs SET publishing = ?, result = ?, lease_expires_at = vqueue_now() + ? WHERE \(Self.held)
                    """, publication.token, publication.result, leaseSeconds, publication.job.id, publication.job.attempt, worker)
                if changed > 0 { held.insert(publication.job) }
            }
            return held
        }
    }

    public func complete(_ completions: [JobCompletion], worker: String) async throws -> Set<LeasedJob> {
        guard !completions.isEmpty else { return [] }
        let rows = completions.map { [$0.job.id.sqlValue, $0.job.attempt.sqlValue, $0.result.sqlValue] }
        return try await write { db in
            try Self.updateEach(rows, "(?, ?, CAST(? AS TEXT))", set: """
                state = 'succeeded', result = v.column3, error = NULL, error_code = NULL, progress = 1, eta = 0,
                finished_at = vqueue_now(), updated_at = vqueue_now(), lease_expires_at = NULL, publishing = NULL
                """, where: "lease_owner = ? AND jobs.state = 'running'", [worker.sqlValue], db)
        }
    }

    public func fail(_ job: LeasedJob, worker: String, decision: AttemptDecision) async throws -> Bool {
        try await write { db in
            try Self.record(decision, job, condition: "lease_owner = ?", [worker.sqlValue], db)
        }
    }

    /// Records an attempt's end as decided: queued again after the backoff,
    /// or failed for good. Used for the worker's own failures and for
    /// rescues alike; `condition` says who may record it.
    private static func record(_ decision: AttemptDecision, _ job: LeasedJob, condition: String, _ arguments: [SQLValue],
                               _ db: any SQLConnection) throws -> Bool {
        let changed = if let retryAfter = decision.retryAfter {
            try db.execute("""
                UPDATE jobs SET state = 'queued', run_at = vqueue_now() + ?, error = ?, error_code = ?, updated_at = vqueue_now(),
                                lease_expires_at = NULL, publishing = NULL, progress = NULL, fps = NULL, eta = NULL
                WHERE id = ? AND attempts = ? AND state = 'running' AND \(condition)
                """, [retryAfter.sqlValue, decision.message.sqlValue, decision.code.sqlValue, job.id.sqlValue,
                      job.attempt.sqlValue] + arguments)
        } else {
            try db.execute("""
                UPDATE jobs SET state = 'failed', error = ?, error_code = ?, finished_at = vqueue_now(), updated_at = vqueue_now(),
                                lease_expires_at = NULL, publishing = NULL, eta = NULL
                WHERE id = ? AND attempts = ? AND state = 'running' AND \(condition)
                """, [decision.message.sqlValue, decision.code.sqlValue, job.id.sqlValue, job.attempt.sqlValue] + arguments)
        }
        return changed > 0
    }

    public func release(_ jobs: [LeasedJob], worker: String, reason: String, code: String, delay: Double) async throws {
        guard !jobs.isEmpty else { return }
        try await write { db in
            for job in jobs {
                // The base moves past this attempt: it is not counted.
                try db.execute("""
                    UPDATE jobs SET state = 'queued', attempt_base = attempt_base + 1, run_at = vqueue_now() + ?, error = ?,
                                    error_code = ?, updated_at = vqueue_now(), lease_expires_at = NULL, publishing = NULL,
                                    progress = NULL, fps = NULL, eta = NULL
                    WHERE \(Self.held)
                    """, delay, reason, code, job.id, job.attempt, worker)
            }
        }
    }

    public func settleStopped(_ jobs: [LeasedJob], worker: String) async throws {
        guard !jobs.isEmpty else { return }
        try await write { db in
            for job in jobs {
                try db.execute("""
                    UPDATE jobs SET lease_expires_at = NULL WHERE id = ? AND attempts = ? AND lease_owner = ? AND state <> 'running'
                    """, job.id, job.attempt, worker)
            }
        }
    }

    /// Every worker calls this every third of its lease. Nearly always no
    /// lease has run out: a read (no write lock on SQLite, one round trip
    /// on PostgreSQL) says so. The expired leases are found through their
    /// index, whatever the size of the table: the time is read once per
    /// statement (`now`) (PostgreSQL's volatile `vqueue_now()` compared row by row
    /// can use no index), and they are taken oldest first (`ORDER BY id`
    /// made SQLite walk every job in id order instead: measured, a quarter
    /// of a second under the write lock with 100,000 finished jobs, every
    /// round of every worker, which starved a busy worker's lease renewal).
    public func rescue(retry: RetryPolicy, by caller: String?, holding: Set<LeasedJob>, expiredBefore before: Double?) async throws
        -> RescueReport {
        // The earlier of `before` and now: a lease is never taken before it ran out.
        let cutoff = before == nil ? Self.now : executor.dialect.least("?", Self.now)
        let arguments = before.map { [$0.sqlValue] } ?? []
        let anyExpired = try await read { db in
            try db.queryOne("SELECT 1 AS expired FROM jobs WHERE lease_expires_at < \(cutoff) LIMIT 1",
                            arguments) != nil
        }
        guard anyExpired else { return RescueReport() }
        return try await write { db in
            var report = RescueReport()
            let expired = try db.query("""
                SELECT * FROM jobs WHERE lease_expires_at < \(cutoff)
                ORDER BY lease_expires_at, id LIMIT 1000 \(db.dialect.skipLocked)
                """, arguments).map(Job.init(row:))
            for job in expired where !(job.leaseOwner == caller && holding.contains(job.lease)) {
                if job.state != .running {
                    report.abandoned.append(job)
                } else if job.publishing != nil {
                    report.publications.append(job)
                } else {
                    let decision = AttemptDecision.afterLostLease(of: job, policy: retry)
                    if try Self.record(decision, job.lease, condition: "lease_expires_at < vqueue_now()", [], db) {
                        var rescued = job
                        rescued.state = decision.isFinal ? .failed : .queued
                        rescued.error = decision.message
                        rescued.errorCode = decision.code
                        report.rescued.append(rescued)
                    }
                }
            }
            return report
        }
    }

    public func takeOverPublication(_ job: Job, worker: String, leaseSeconds: Double) async throws -> Bool {
        try await write { db in
            try db.execute("""
                UPDATE jobs SET lease_owner = ?, lease_expires_at = vqueue_now() + ?
                WHERE id = ? AND attempts = ? AND state = 'running' AND publishing = ? AND lease_expires_at < vqueue_now()
                """, worker, leaseSeconds, job.id, job.attempts, job.publishing) > 0
        }
    }

    public func clearAbandoned(_ job: LeasedJob) async throws {
        _ = try await write { db in
            try db.execute("""
                UPDATE jobs SET lease_expires_at = NULL
                WHERE id = ? AND attempts = ? AND state <> 'running' AND lease_expires_at < vqueue_now()
                """, job.id, job.attempt)
        }
    }
}
