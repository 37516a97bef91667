/// Reading the queue: jobs, batches, workers, depths, events.
extension SQLJobStore: JobMonitoring {
    public func job(id: Int64) async throws -> Job? {
        try await read { db in try db.queryOne("SELECT * FROM jobs WHERE id = ?", id).map(Job.init(row:)) }
    }

    public func job(key: String) async throws -> Job? {
        try await read { db in try db.queryOne("SELECT * FROM jobs WHERE idempotency_key = ?", key).map(Job.init(row:)) }
    }

    public func jobs(state: JobState?, limit: Int) async throws -> [Job] {
        try await jobs(state: state, queue: nil, before: nil, limit: limit)
    }

    public func jobs(state: JobState?, queue: String?, before: Int64?, limit: Int) async throws -> [Job] {
        var conditions: [String] = []
        var arguments: [SQLValue] = []
        if let state {
            conditions.append("state = ?")
            arguments.append(state.rawValue.sqlValue)
        }
        if let queue {
            conditions.append("queue = ?")
            arguments.append(queue.sqlValue)
        }
        if let before {
            conditions.append("id < ?")
            arguments.append(before.sqlValue)
        }
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let values = arguments + [limit.sqlValue]
        return try await read { db in
            try db.query("SELECT * FROM jobs \(filter) ORDER BY id DESC LIMIT ?", values).map(Job.init(row:))
        }
    }

    public func batch(id: Int64) async throws -> [Job]? {
        try await read { db in try Self.batchJobs(id, db) }
    }

    public func batchSummary(id: Int64) async throws -> BatchSummary? {
        try await read { db in
            guard try db.queryOne("SELECT id FROM batches WHERE id = ?", id) != nil else { return nil }
            return try Self.summary(id: id, of: "batch_id", db)
        }
    }

    public func parts(of id: Int64) async throws -> [Job] {
        try await read { db in try db.query("SELECT * FROM jobs WHERE parent_id = ? ORDER BY id", id).map(Job.init(row:)) }
    }

    public func partsSummary(of id: Int64) async throws -> BatchSummary {
        try await read { db in try Self.summary(id: id, of: "parent_id", db) }
    }

    /// The counts and progress of the jobs whose `column` (a batch, a whole) is `id`.
    private static func summary(id: Int64, of column: String, _ db: any SQLConnection) throws -> BatchSummary {
        let rows = try db.query("""
            SELECT state, COUNT(*) AS jobs,
                   SUM(CASE WHEN state = 'queued' AND attempts > attempt_base THEN 1 ELSE 0 END) AS retrying,
                   SUM(weight) AS weight,
                   SUM(weight * CASE WHEN state IN ('succeeded', 'failed', 'cancelled') THEN 1
                                     WHEN state = 'running' THEN COALESCE(progress, 0) ELSE 0 END) AS done,
                   MIN(started_at) AS first_start,
                   SUM(CASE WHEN state = 'running' THEN COALESCE(fps, 0) ELSE 0 END) AS fps
            FROM jobs WHERE \(column) = ? GROUP BY state
            """, id)
        var summary = BatchSummary(id: id, counts: [:], retrying: 0, totalWeight: 0, doneWeight: 0, firstStart: nil)
        for row in rows {
            guard let state = JobState(rawValue: row.string("state")) else { continue }
            summary.counts[state] = row.int("jobs")
            summary.retrying += row.int("retrying")
            summary.totalWeight += row.double("weight")
            summary.doneWeight += row.double("done")
            summary.fps += row.double("fps")
            if let start = row.optionalDouble("first_start") {
                summary.firstStart = min(summary.firstStart ?? start, start)
            }
        }
        return summary
    }

    public func workers() async throws -> [WorkerRecord] {
        try await read { db in
            try db.query("""
                SELECT workers.*, (SELECT COUNT(*) FROM jobs WHERE jobs.state = 'running' AND jobs.lease_owner = workers.id)
                       AS running_jobs
                FROM workers ORDER BY started_at DESC
                """).map(WorkerRecord.init(row:))
        }
    }

    public func unfinishedCount() async throws -> Int {
        try await unfinishedCount(queues: [])
    }

    public func unfinishedCount(queues: [String]) async throws -> Int {
        try await read { db in
            let inQueues = queues.isEmpty ? "" : " AND queue IN (\(db.marks(queues.count)))"
            return try db.queryOne("SELECT COUNT(*) AS count FROM jobs WHERE state IN \(QueueSchema.unfinished)" + inQueues,
                                   queues.map(\.sqlValue))?.int("count") ?? 0
        }
    }

    public func queueDepths() async throws -> [QueueDepth] {
        try await read { db in
            try db.query("""
                SELECT queue, priority, COUNT(*) AS count FROM jobs WHERE state = 'queued'
                GROUP BY queue, priority ORDER BY queue, priority DESC
                """).map { QueueDepth(queue: $0.string("queue"), priority: $0.int("priority"), count: $0.int("count")) }
        }
    }

    public func finishedCounts(since: Double) async throws -> (succeeded: Int, failed: Int) {
        try await read { db in
            let row = try db.queryOne("""
                SELECT COALESCE(SUM(CASE WHEN state = 'succeeded' THEN 1 ELSE 0 END), 0) AS succeeded,
                       COALESCE(SUM(CASE WHEN state = 'failed' THEN 1 ELSE 0 END), 0) AS failed
                FROM jobs WHERE finished_at >= ? AND state IN ('succeeded', 'failed')
                """, since)
            return (row?.int("succeeded") ?? 0, row?.int("failed") ?? 0)
        }
    }

    public func changeToken(for change: StoreChange) async throws -> Int64 {
        try await executor.changeCount(change)
    }

    public func watchChanges(_ wake: @escaping @Sendable () -> Void) -> (@Sendable () -> Void)? {
        executor.watchChanges(wake)
    }

    public func events(after: Int64, job: Int64?, limit: Int) async throws -> [JobEvent] {
        try await read { db in
            // Each job event with its job's meta, read as it stands now.
            let select = "SELECT events.*, jobs.meta AS job_meta, jobs.parent_id AS job_parent FROM events LEFT JOIN jobs ON jobs.id = events.job_id"
            let rows = if let job {
                try db.query("\(select) WHERE events.id > ? AND events.job_id = ? ORDER BY events.id LIMIT ?", after, job, limit)
            } else {
                try db.query("\(select) WHERE events.id > ? ORDER BY events.id LIMIT ?", after, limit)
            }
            return rows.map(JobEvent.init(row:))
        }
    }

    public func now() async throws -> Double {
        try await read { db in try db.queryOne("SELECT vqueue_now() AS now")?.double("now") ?? 0 }
    }
}
