/// Submitting, cancelling, retrying, stopping workers, pruning.
extension SQLJobStore: JobAdministration {
    public func submit(_ jobs: [NewJob]) async throws -> [Submitted] {
        try await claimingTargets(jobs) {
            try await self.write { db in try Self.insert(jobs, batchID: nil, db) }
        }
    }

    public func submitBatch(_ jobs: [NewJob]) async throws -> (batchID: Int64, jobs: [Job]) {
        try await claimingTargets(jobs) {
            try await self.write { db in
                let batchID = try db.queryOne("INSERT INTO batches (created_at) VALUES (vqueue_now()) RETURNING id")!.int64("id")
                return (batchID, try Self.insert(jobs, batchID: batchID, db).map(\.job))
            }
        }
    }

    /// Inserts jobs in order (ids are handed out in the jobs' order): one
    /// statement per chunk of rows, or one per job when keys are involved
    /// (a key that exists returns its job instead of a new row).
    private static func insert(_ jobs: [NewJob], batchID: Int64?, _ db: any SQLConnection) throws -> [Submitted] {
        // A job whose key exists is returned as it stands: only the others' targets must be free
        // (a retried submit finds its job even while that job holds the target).
        var existing: [Int: SQLRow] = [:]
        for (index, job) in jobs.enumerated() {
            if let key = job.key, let row = try db.queryOne("SELECT * FROM jobs WHERE idempotency_key = ?", key) {
                existing[index] = row
            }
        }
        try checkTargets(jobs.indices.filter { existing[$0] == nil }.compactMap { jobs[$0].target }, db)
        let columns = "(kind, payload, queue, priority, state, max_attempts, run_at, submitted_at, updated_at, batch_id, weight, target, idempotency_key, meta, notify)"
        let row = "(?, ?, ?, ?, 'queued', ?, vqueue_now(), vqueue_now(), vqueue_now(), ?, ?, ?, ?, ?, ?)"
        func values(_ job: NewJob) -> [SQLValue] {
            [job.kind.sqlValue, job.payload.sqlValue, job.queue.sqlValue, job.priority.sqlValue, job.maxAttempts.sqlValue,
             batchID.sqlValue, job.weight.sqlValue, job.target.sqlValue, job.key.sqlValue, job.meta.json.sqlValue,
             job.notify.sqlValue]
        }
        if jobs.contains(where: { $0.key != nil }) {
            return try jobs.enumerated().map { index, job in
                if let found = existing[index] { return Submitted(job: Job(row: found), isNew: false) }
                let inserted = try db.query("INSERT INTO jobs \(columns) VALUES \(row) ON CONFLICT (idempotency_key) DO NOTHING RETURNING *",
                                            values(job))
                if let first = inserted.first { return Submitted(job: Job(row: first), isNew: true) }
                // Another submitter got in with the same key meanwhile.
                return Submitted(job: Job(row: try db.queryOne("SELECT * FROM jobs WHERE idempotency_key = ?", job.key!)!), isNew: false)
            }
        }
        var submitted: [Submitted] = []
        submitted.reserveCapacity(jobs.count)
        for start in stride(from: 0, to: jobs.count, by: chunk) {
            let part = jobs[start..<min(start + chunk, jobs.count)]
            let rows = try db.query("INSERT INTO jobs \(columns) VALUES "
                                    + Array(repeating: row, count: part.count).joined(separator: ", ") + " RETURNING *",
                                    part.flatMap(values))
            submitted += rows.map { Submitted(job: Job(row: $0), isNew: true) }.sorted { $0.job.id < $1.job.id }
        }
        return submitted
    }

    /// Refuses targets that an unfinished job writes, naming that job.
    private static func checkTargets(_ targets: [String], _ db: any SQLConnection) throws {
        for start in stride(from: 0, to: targets.count, by: chunk) {
            let part = Array(targets[start..<min(start + chunk, targets.count)])
            if let holder = try db.queryOne("""
                SELECT id, target FROM jobs WHERE target IN (\(db.marks(part.count))) AND state IN ('queued', 'running') LIMIT 1
                """, part.map(\.sqlValue)) {
                throw JobStoreError.targetBusy(target: holder.string("target"), jobID: holder.int64("id"))
            }
        }
    }

    /// Runs a write that may queue jobs with targets; two submitters racing
    /// for one target (possible on PostgreSQL, whose check and insert can
    /// interleave) end with the loser told which job won.
    private func claimingTargets<T>(_ targets: [NewJob], _ work: () async throws -> T) async throws -> T {
        do {
            return try await namingTargetHolder(targets, work)
        } catch JobStoreError.targetBusy where targets.contains(where: { $0.key != nil }) {
            // On PostgreSQL each statement sees the latest commits, so a submitter of the same
            // key (an upload handler's retry racing its first try) can commit between our key
            // lookup and our target check or insert: looking again finds its job by the key.
            return try await namingTargetHolder(targets, work)
        }
    }

    /// Runs the write; a target refused by the unique index (the check passed, a racing
    /// submitter inserted first) is reported as the rule's refusal, naming the winner.
    private func namingTargetHolder<T>(_ targets: [NewJob], _ work: () async throws -> T) async throws -> T {
        do {
            return try await work()
        } catch let error as SQLError where error.uniqueIndex?.contains("target") == true {
            let wanted = targets.compactMap(\.target)
            let holder = try await read { db in
                try db.queryOne("SELECT id, target FROM jobs WHERE target IN (\(db.marks(wanted.count))) AND state IN ('queued', 'running') LIMIT 1",
                                wanted.map(\.sqlValue))
            }
            guard let holder else { throw error }
            throw JobStoreError.targetBusy(target: holder.string("target"), jobID: holder.int64("id"))
        }
    }

    /// A running job whose result is being put in place is past cancelling.
    private static let cancellable = "state IN ('queued', 'running') AND publishing IS NULL"

    /// Cancelled jobs keep their lease time: the running attempt's worker
    /// clears it once its child has stopped (`settleStopped`), and until
    /// then a retried job is not claimed again.
    private static let cancelling = "UPDATE jobs SET state = 'cancelled', finished_at = vqueue_now(), updated_at = vqueue_now(), eta = NULL"

    public func cancel(id: Int64) async throws -> Job? {
        try await write { db in
            try db.execute("\(Self.cancelling) WHERE id = ? AND \(Self.cancellable)", id)
            return try db.queryOne("SELECT * FROM jobs WHERE id = ?", id).map(Job.init(row:))
        }
    }

    public func cancelBatch(id: Int64) async throws -> [Job]? {
        try await write { db in
            try db.execute("\(Self.cancelling) WHERE batch_id = ? AND \(Self.cancellable)", id)
            return try Self.batchJobs(id, db)
        }
    }

    /// Queues finished jobs again, their attempts counted afresh: the base
    /// moves to the last attempt's number, which itself is never reused.
    private static let requeueing = """
        UPDATE jobs SET state = 'queued', attempt_base = attempts, run_at = vqueue_now(), error = NULL, error_code = NULL,
                        result = NULL, progress = NULL, fps = NULL, eta = NULL, started_at = NULL, finished_at = NULL,
                        publishing = NULL, updated_at = vqueue_now()
        """

    public func retry(id: Int64, payload: String?) async throws -> Job? {
        let target = try await job(id: id)?.target
        return try await claimingTargets([NewJob(kind: "", payload: "", target: target)]) {
            try await self.write { db in
                if let job = try db.queryOne("SELECT * FROM jobs WHERE id = ?", id).map(Job.init(row:)),
                   job.state == .failed || job.state == .cancelled {
                    try Self.checkTargets(job.target.map { [$0] } ?? [], db)
                }
                if try db.execute("\(Self.requeueing) WHERE id = ? AND state IN ('failed', 'cancelled')", id) > 0, let payload {
                    try db.execute("UPDATE jobs SET payload = ? WHERE id = ?", payload, id)
                }
                return try db.queryOne("SELECT * FROM jobs WHERE id = ?", id).map(Job.init(row:))
            }
        }
    }

    public func retryBatch(id: Int64, payloads: [Int64: String]) async throws -> [Job]? {
        let targets = try await batch(id: id)?.filter { $0.state == .failed }.compactMap(\.target) ?? []
        return try await claimingTargets(targets.map { NewJob(kind: "", payload: "", target: $0) }) {
            try await self.write { db in
                let failed = try db.query("SELECT target FROM jobs WHERE batch_id = ? AND state = 'failed' AND target IS NOT NULL", id)
                try Self.checkTargets(failed.map { $0.string("target") }, db)
                let requeued = try db.query("\(Self.requeueing) WHERE batch_id = ? AND state = 'failed' RETURNING id", id)
                for row in requeued {
                    if let payload = payloads[row.int64("id")] {
                        try db.execute("UPDATE jobs SET payload = ? WHERE id = ?", payload, row.int64("id"))
                    }
                }
                return try Self.batchJobs(id, db)
            }
        }
    }

    static func batchJobs(_ id: Int64, _ db: any SQLConnection) throws -> [Job]? {
        guard try db.queryOne("SELECT id FROM batches WHERE id = ?", id) != nil else { return nil }
        return try db.query("SELECT * FROM jobs WHERE batch_id = ? ORDER BY id", id).map(Job.init(row:))
    }

    public func requestStop(worker id: String?, level: ShutdownRequest.Level) async throws -> [String] {
        try await write { db in
            // Live as `WorkerRecord.state` has it: not stopped, and heard from within its lease.
            let live = "stopped_at IS NULL AND gone_at IS NULL AND heartbeat_at + lease_seconds >= vqueue_now()"
            let raise = "UPDATE workers SET stop_requested = \(db.dialect.greatest("stop_requested", "?"))"
            let rows = if let id {
                try db.query("\(raise) WHERE id = ? AND \(live) RETURNING id", level.rawValue, id)
            } else {
                try db.query("\(raise) WHERE \(live) RETURNING id", level.rawValue)
            }
            return rows.map { $0.string("id") }.sorted()
        }
    }

    public func prune(finishedBefore before: Double, states: [JobState]) async throws -> Int {
        let finished = states.filter(\.isFinished).map(\.rawValue)
        guard !finished.isEmpty else { return 0 }
        var deleted = 0
        // A chunk per transaction, each short, with a pause after each on
        // SQLite (`LockShare`): workers' lease renewals get in between, so no
        // healthy job is rescued because prune held the lock.
        var share = LockShare(dialect: executor.dialect, largest: Self.chunk, smallest: 20)
        while true {
            let started = ContinuousClock.now
            let size = share.size
            let count = try await write { db in
                // A job whose end is still to be announced stays until it is. A farm without
                // webhooks (an empty outbox) pays nothing for them: the lock is held no longer.
                let outbox = try db.queryOne("""
                    SELECT (SELECT 1 FROM notifications LIMIT 1) AS any_row,
                           (SELECT 1 FROM notifications WHERE state = 'pending' LIMIT 1) AS pending
                    """)
                let waiting = outbox?.optionalInt("pending") != nil
                    ? "AND NOT EXISTS (SELECT 1 FROM notifications WHERE job_id = jobs.id AND state = 'pending')" : ""
                let ids = try db.query("""
                    SELECT id FROM jobs WHERE state IN (\(db.marks(finished.count))) AND finished_at < ? \(waiting)
                    ORDER BY id LIMIT ?
                    """, finished.map(\.sqlValue) + [before.sqlValue, size.sqlValue]).map { $0.int64("id") }
                guard !ids.isEmpty else { return 0 }
                let marks = db.marks(ids.count)
                if outbox?.optionalInt("any_row") != nil {
                    try db.execute("DELETE FROM notifications WHERE job_id IN (\(marks))", ids.map(\.sqlValue))
                }
                try db.execute("DELETE FROM events WHERE job_id IN (\(marks))", ids.map(\.sqlValue))
                return try db.execute("DELETE FROM jobs WHERE id IN (\(marks))", ids.map(\.sqlValue))
            }
            deleted += count
            if count < size { break }
            try await share.wrote(took: ContinuousClock.now - started, lateRenewal: lateRenewal)
        }
        try await write { db in
            // Worker rows and their events go too once the worker is long gone.
            try db.execute("""
                DELETE FROM events WHERE kind = 'worker' AND at < ? AND worker IN
                    (SELECT id FROM workers WHERE COALESCE(stopped_at, gone_at) < ?)
                """, before, before)
            try db.execute("DELETE FROM workers WHERE COALESCE(stopped_at, gone_at) < ?", before)
            try db.execute("DELETE FROM batches WHERE NOT EXISTS (SELECT 1 FROM jobs WHERE jobs.batch_id = batches.id)")
        }
        try await compact(full: false)
        return deleted
    }

    /// Whether a live worker has missed its last lease renewal (renewals come
    /// every third of its lease; none for half of it) and its lease is not
    /// over yet; for 5 s at most, so that a worker killed with a long lease
    /// does not hold maintenance up. Maintenance leaves SQLite's write lock
    /// alone meanwhile (`LockShare`). A read: it needs no lock.
    @Sendable func lateRenewal() async throws -> Bool {
        try await read { db in
            try db.queryOne("""
                SELECT 1 AS late FROM workers
                WHERE stopped_at IS NULL AND gone_at IS NULL
                      AND heartbeat_at + lease_seconds / 2 < vqueue_now() AND vqueue_now() < heartbeat_at + lease_seconds
                      AND vqueue_now() < heartbeat_at + lease_seconds / 2 + 5
                LIMIT 1
                """) != nil
        }
    }

    public func compact(full: Bool) async throws {
        switch executor.dialect {
        case .postgres:
            // VACUUM does not block readers or writers; autovacuum would get
            // there too, this only makes it happen now.
            try await executor.maintain { db in
                try db.execute("VACUUM (ANALYZE) jobs")
                try db.execute("VACUUM (ANALYZE) events")
            }
        case .sqlite:
            if full {
                // Also switches a database made by the first release to
                // incremental compaction, so later prunes never need this.
                try await executor.maintain { db in
                    try db.execute("PRAGMA auto_vacuum = INCREMENTAL")
                    try db.execute("VACUUM")
                }
                return
            }
            // A few hundred pages per write at most: each one short.
            var share = LockShare(dialect: .sqlite, largest: 256, smallest: 16)
            while true {
                let started = ContinuousClock.now
                let pages = share.size
                let left = try await write { db -> Int in
                    guard try db.queryOne("PRAGMA auto_vacuum")?.values.first == .integer(2) else { return 0 }
                    try db.execute("PRAGMA incremental_vacuum(\(pages))")
                    return try db.queryOne("PRAGMA freelist_count")?.values.first.flatMap {
                        if case .integer(let pages) = $0 { return Int(pages) } else { return nil }
                    } ?? 0
                }
                if left == 0 { break }
                try await share.wrote(took: ContinuousClock.now - started, lateRenewal: lateRenewal)
            }
            try await executor.maintain { db in try db.execute("PRAGMA wal_checkpoint(PASSIVE)") }
        }
    }
}
