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
        try checkTargets(jobs.indices.filter { existing[$0] == nil }.flatMap { jobs[$0].allTargets }, db)
        let columns = "(kind, payload, queue, priority, state, max_attempts, run_at, submitted_at, updated_at, batch_id, weight, target, idempotency_key, meta, notify, parent_id)"
        let row = "(?, ?, ?, ?, ?, ?, vqueue_now(), vqueue_now(), vqueue_now(), ?, ?, ?, ?, ?, ?, ?)"
        func values(_ job: NewJob, parent: Int64? = nil) -> [SQLValue] {
            [job.kind.sqlValue, job.payload.sqlValue, job.queue.sqlValue, job.priority.sqlValue,
             (job.parts.isEmpty || parent != nil ? JobState.queued : .waiting).rawValue.sqlValue, job.maxAttempts.sqlValue,
             (parent == nil ? batchID : nil).sqlValue, job.weight.sqlValue, job.target.sqlValue,
             (parent == nil ? job.key : nil).sqlValue, job.meta.json.sqlValue, (parent == nil ? job.notify : nil).sqlValue,
             parent.sqlValue]
        }
        if jobs.contains(where: { $0.key != nil || !$0.parts.isEmpty }) {
            return try jobs.enumerated().map { index, job in
                if let found = existing[index] { return Submitted(job: Job(row: found), isNew: false) }
                let inserted = try db.query("INSERT INTO jobs \(columns) VALUES \(row) ON CONFLICT (idempotency_key) DO NOTHING RETURNING *",
                                            values(job))
                guard let first = inserted.first else {
                    // Another submitter got in with the same key meanwhile.
                    return Submitted(job: Job(row: try db.queryOne("SELECT * FROM jobs WHERE idempotency_key = ?", job.key!)!), isNew: false)
                }
                let whole = Job(row: first)
                for part in job.parts {
                    _ = try db.execute("INSERT INTO jobs \(columns) VALUES \(row)", values(part, parent: whole.id))
                }
                return Submitted(job: whole, isNew: true)
            }
        }
        var submitted: [Submitted] = []
        submitted.reserveCapacity(jobs.count)
        for start in stride(from: 0, to: jobs.count, by: chunk) {
            let part = jobs[start..<min(start + chunk, jobs.count)]
            let rows = try db.query("INSERT INTO jobs \(columns) VALUES "
                                    + Array(repeating: row, count: part.count).joined(separator: ", ") + " RETURNING *",
                                    part.flatMap { values($0) })
            submitted += rows.map { Submitted(job: Job(row: $0), isNew: true) }.sorted { $0.job.id < $1.job.id }
        }
        return submitted
    }

    /// Refuses targets that an unfinished job writes, naming that job.
    private static func checkTargets(_ targets: [String], _ db: any SQLConnection) throws {
        for start in stride(from: 0, to: targets.count, by: chunk) {
            let part = Array(targets[start..<min(start + chunk, targets.count)])
            if let holder = try db.queryOne("""
                SELECT id, target FROM jobs WHERE target IN (\(db.marks(part.count))) AND state IN \(QueueSchema.unfinished) LIMIT 1
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
            let wanted = targets.flatMap(\.allTargets)
            let holder = try await read { db in
                try db.queryOne("SELECT id, target FROM jobs WHERE target IN (\(db.marks(wanted.count))) AND state IN \(QueueSchema.unfinished) LIMIT 1",
                                wanted.map(\.sqlValue))
            }
            guard let holder else { throw error }
            throw JobStoreError.targetBusy(target: holder.string("target"), jobID: holder.int64("id"))
        }
    }

    /// A running job whose result is being put in place is past cancelling.
    private static let cancellable = "state IN \(QueueSchema.unfinished) AND publishing IS NULL"

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
    private static func requeueing(to state: JobState = .queued) -> String {
        """
        UPDATE jobs SET state = '\(state.rawValue)', attempt_base = attempts, run_at = vqueue_now(), error = NULL, error_code = NULL,
                        result = NULL, progress = NULL, fps = NULL, eta = NULL, started_at = NULL, finished_at = NULL,
                        publishing = NULL, updated_at = vqueue_now()
        """
    }

    /// A part is retried by retrying its whole: the parts that did not
    /// succeed run again (those that did are kept), then the whole. A whole
    /// that was cancelled gave up what its parts had made (`JobHandler.discard`
    /// removes it): every part runs again.
    public func retry(id: Int64, payload: String?) async throws -> Job? {
        guard let asked = try await job(id: id) else { return nil }
        let whole = asked.parentID ?? id
        let targets = try await read { db in try Self.retryTargets(wholes: [whole], db) }
        return try await claimingTargets(targets.map { NewJob(kind: "", payload: "", target: $0) }) {
            try await self.write { db in
                try Self.checkTargets(try Self.retryTargets(wholes: [whole], db), db)
                if try Self.requeue(wholes: [whole], db) == [whole], let payload, asked.parentID == nil {
                    try db.execute("UPDATE jobs SET payload = ? WHERE id = ?", payload, id)
                }
                return try db.queryOne("SELECT * FROM jobs WHERE id = ?", id).map(Job.init(row:))
            }
        }
    }

    public func retryBatch(id: Int64, payloads: [Int64: String]) async throws -> [Job]? {
        let failed = try await batch(id: id)?.filter { $0.state == .failed }.map(\.id) ?? []
        let targets = try await read { db in try Self.retryTargets(wholes: failed, db) }
        return try await claimingTargets(targets.map { NewJob(kind: "", payload: "", target: $0) }) {
            try await self.write { db in
                let failed = try db.query("SELECT id FROM jobs WHERE batch_id = ? AND state = 'failed'", id).map { $0.int64("id") }
                try Self.checkTargets(try Self.retryTargets(wholes: failed, db), db)
                for requeued in try Self.requeue(wholes: failed, db) {
                    if let payload = payloads[requeued] {
                        try db.execute("UPDATE jobs SET payload = ? WHERE id = ?", payload, requeued)
                    }
                }
                return try Self.batchJobs(id, db)
            }
        }
    }

    /// What the retry of these failed or cancelled jobs would write: their
    /// targets, and those of the parts it runs again.
    private static func retryTargets(wholes: [Int64], _ db: any SQLConnection) throws -> [String] {
        var targets: [String] = []
        for start in stride(from: 0, to: wholes.count, by: chunk) {
            let part = wholes[start..<min(start + chunk, wholes.count)].map(\.sqlValue)
            let marks = db.marks(part.count)
            targets += try db.query("""
                SELECT target FROM jobs WHERE target IS NOT NULL
                    AND (id IN (\(marks)) AND state IN ('failed', 'cancelled')
                         OR parent_id IN (\(marks)) AND (state IN ('failed', 'cancelled') OR \(Self.wholeCancelled)))
                """, part + part).map { $0.string("target") }
        }
        return targets
    }

    /// Of a part (a row of `jobs`): its whole was cancelled.
    private static let wholeCancelled =
        "EXISTS (SELECT 1 FROM jobs AS whole WHERE whole.id = jobs.parent_id AND whole.state = 'cancelled')"

    /// Queues failed or cancelled jobs again; a job made of parts first
    /// queues those of its parts that did not succeed (all of them, after a
    /// cancel), and waits for them.
    /// Returns the ids of the jobs queued or waiting again.
    private static func requeue(wholes: [Int64], _ db: any SQLConnection) throws -> [Int64] {
        var requeued: [Int64] = []
        for id in wholes {
            guard try db.queryOne("SELECT 1 AS ended FROM jobs WHERE id = ? AND state IN ('failed', 'cancelled')", id) != nil
            else { continue }
            try db.execute("\(requeueing()) WHERE parent_id = ? AND (state IN ('failed', 'cancelled') OR \(wholeCancelled))", id)
            let waiting = try db.queryOne("SELECT 1 AS any_part FROM jobs WHERE parent_id = ? AND state <> 'succeeded' LIMIT 1", id) != nil
            requeued += try db.query("\(requeueing(to: waiting ? .waiting : .queued)) WHERE id = ? AND state IN ('failed', 'cancelled') RETURNING id",
                                     id).map { $0.int64("id") }
        }
        return requeued
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
        try await prune(finishedBefore: before, states: states, wholesDeleted: nil)
    }

    public func prune(finishedBefore before: Double, states: [JobState],
                      wholesDeleted: (@Sendable ([Job]) async -> Void)?) async throws -> Int {
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
            let count: (Int, Int, [Job]) = try await write { db in
                // A job whose end is still to be announced stays until it is. A farm without
                // webhooks (an empty outbox) pays nothing for them: the lock is held no longer.
                let outbox = try db.queryOne("""
                    SELECT (SELECT 1 FROM notifications LIMIT 1) AS any_row,
                           (SELECT 1 FROM notifications WHERE state = 'pending' LIMIT 1) AS pending
                    """)
                let waiting = outbox?.optionalInt("pending") != nil
                    ? "AND NOT EXISTS (SELECT 1 FROM notifications WHERE job_id = jobs.id AND state = 'pending')" : ""
                // A part goes with its whole, never before it.
                let ids = try db.query("""
                    SELECT id FROM jobs WHERE state IN (\(db.marks(finished.count))) AND finished_at < ? AND parent_id IS NULL
                        \(waiting)
                    ORDER BY id LIMIT ?
                    """, finished.map(\.sqlValue) + [before.sqlValue, size.sqlValue]).map { $0.int64("id") }
                guard !ids.isEmpty else { return (0, 0, []) }
                let marks = db.marks(ids.count)
                let wholes = wholesDeleted == nil ? [] : try db.query("""
                    SELECT * FROM jobs WHERE id IN (\(marks)) AND EXISTS (SELECT 1 FROM jobs AS part WHERE part.parent_id = jobs.id)
                    ORDER BY id
                    """, ids.map(\.sqlValue)).map(Job.init(row:))
                let parts = "SELECT id FROM jobs WHERE parent_id IN (\(marks))"
                try db.execute("DELETE FROM events WHERE job_id IN (\(parts))", ids.map(\.sqlValue))
                let partCount = try db.execute("DELETE FROM jobs WHERE parent_id IN (\(marks))", ids.map(\.sqlValue))
                if outbox?.optionalInt("any_row") != nil {
                    try db.execute("DELETE FROM notifications WHERE job_id IN (\(marks))", ids.map(\.sqlValue))
                }
                try db.execute("DELETE FROM events WHERE job_id IN (\(marks))", ids.map(\.sqlValue))
                return (try db.execute("DELETE FROM jobs WHERE id IN (\(marks))", ids.map(\.sqlValue)), partCount, wholes)
            }
            deleted += count.0 + count.1
            if let wholesDeleted, !count.2.isEmpty { await wholesDeleted(count.2) }
            if count.0 < size { break }
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
