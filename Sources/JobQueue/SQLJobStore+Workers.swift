/// Workers' own records: registration, heartbeats, health, stopping.
extension SQLJobStore {
    public func registerWorker(_ worker: WorkerRecord) async throws {
        try await write { db in
            // Worker ids are unique (host, pid, random): a record already there is this worker's,
            // written by an earlier call whose answer was lost (the connection died mid-COMMIT).
            // Registering again must not fail, or the worker would retry the INSERT forever.
            let inserted = try db.execute("""
                INSERT INTO workers (id, host, pid, concurrency, queues, started_at, heartbeat_at, lease_seconds)
                VALUES (?, ?, ?, ?, ?, vqueue_now(), vqueue_now(), ?) ON CONFLICT (id) DO NOTHING
                """, worker.id, worker.host, worker.pid, worker.concurrency, worker.queues.joined(separator: ","),
                worker.leaseSeconds)
            if inserted > 0 {
                try Self.workerEvent(worker.id, "online", detail: "pid \(worker.pid) on \(worker.host), concurrency \(worker.concurrency)", db)
            }
        }
    }

    @discardableResult
    public func heartbeat(worker: String, jobs: [LeasedJob], leaseSeconds: Double) async throws -> Double {
        try await write { db in
            if !jobs.isEmpty {
                try db.execute("""
                    UPDATE jobs SET lease_expires_at = vqueue_now() + ?
                    WHERE lease_owner = ? AND state = 'running' AND id IN (\(db.marks(jobs.count)))
                    """, [leaseSeconds.sqlValue, worker.sqlValue] + jobs.map(\.id.sqlValue))
            }
            // A worker marked gone (its heartbeats missed) that is heard from again is back online.
            if let gone = try db.queryOne("SELECT vqueue_now() - gone_at AS silence FROM workers WHERE id = ? AND gone_at IS NOT NULL",
                                          worker) {
                try db.execute("UPDATE workers SET gone_at = NULL WHERE id = ?", worker)
                try Self.workerEvent(worker, "online",
                                     detail: "heard from again \(Int(gone.double("silence").rounded())) s after it was marked gone", db)
            }
            return try db.queryOne("UPDATE workers SET heartbeat_at = vqueue_now() WHERE id = ? RETURNING heartbeat_at", worker)?
                .double("heartbeat_at") ?? db.queryOne("SELECT vqueue_now() AS now")!.double("now")
        }
    }

    public func setHealth(worker: String, problem: String?) async throws {
        try await write { db in
            if let problem {
                let changed = try db.execute("""
                    UPDATE workers SET unhealthy_reason = ?, unhealthy_at = vqueue_now()
                    WHERE id = ? AND (unhealthy_reason IS NULL OR unhealthy_reason <> ?)
                    """, problem, worker, problem)
                if changed > 0 { try Self.workerEvent(worker, "unhealthy", detail: problem, db) }
            } else {
                let changed = try db.execute("""
                    UPDATE workers SET unhealthy_reason = NULL, unhealthy_at = NULL WHERE id = ? AND unhealthy_reason IS NOT NULL
                    """, worker)
                if changed > 0 { try Self.workerEvent(worker, "healthy", detail: "taking jobs again", db) }
            }
        }
    }

    public func workerStopping(id: String, reason: String) async throws {
        try await write { db in
            if try db.execute("UPDATE workers SET stopping_at = vqueue_now() WHERE id = ? AND stopping_at IS NULL", id) > 0 {
                try Self.workerEvent(id, "stopping", detail: reason, db)
            }
        }
    }

    public func workerStopped(id: String) async throws {
        try await write { db in
            try db.execute("UPDATE workers SET stopped_at = vqueue_now() WHERE id = ?", id)
            try Self.workerEvent(id, "stopped", detail: nil, db)
        }
    }

    /// Called with every rescue: a read first, so that the usual answer
    /// (nobody fell silent) takes no write lock on SQLite.
    public func markSilentWorkers(except caller: String?, before: Double?) async throws -> [WorkerRecord] {
        let silence = """
            stopped_at IS NULL AND gone_at IS NULL AND heartbeat_at + lease_seconds < \(before == nil ? "vqueue_now()" : "?")
            \(caller == nil ? "" : "AND id <> ?")
            """
        let arguments = (before.map { [$0.sqlValue] } ?? []) + (caller.map { [$0.sqlValue] } ?? [])
        let anySilent = try await read { db in
            try db.queryOne("SELECT 1 AS silent FROM workers WHERE \(silence) LIMIT 1", arguments) != nil
        }
        guard anySilent else { return [] }
        return try await write { db in
            let silent = try db.query("""
                UPDATE workers SET gone_at = vqueue_now() WHERE \(silence)
                RETURNING *, vqueue_now() - heartbeat_at AS silence
                """, arguments)
            for worker in silent {
                try Self.workerEvent(worker.string("id"), "offline", detail: "no heartbeat for \(Int(worker.double("silence").rounded())) s", db)
            }
            return silent.map(WorkerRecord.init(row:))
        }
    }

    public func stopRequest(worker id: String) async throws -> ShutdownRequest.Level {
        try await read { db in
            let level = try db.queryOne("SELECT stop_requested FROM workers WHERE id = ?", id)?.int("stop_requested") ?? 0
            return ShutdownRequest.Level(rawValue: level) ?? .immediate
        }
    }

    static func workerEvent(_ worker: String, _ what: String, detail: String?, _ db: any SQLConnection) throws {
        try db.execute("""
            INSERT INTO events (kind, job_id, at, from_state, to_state, worker, detail) VALUES ('worker', NULL, vqueue_now(), NULL, ?, ?, ?)
            """, what, worker, detail)
    }
}
