/// The outbox of notifications (`JobNotification`): leased to the workers that
/// deliver them, as jobs are, so that one killed mid-delivery leaves its
/// notification to another once the lease ends.
extension SQLJobStore: NotificationOutbox {
    public func claimNotifications(worker: String, limit: Int, leaseSeconds: Double) async throws -> [JobNotification] {
        guard limit > 0 else { return [] }
        return try await write { db in
            try db.query("""
                UPDATE notifications SET attempts = attempts + 1, lease_owner = ?, lease_expires_at = vqueue_now() + ?
                WHERE id IN (SELECT id FROM notifications
                             WHERE state = 'pending' AND next_at <= vqueue_now()
                               AND (lease_expires_at IS NULL OR lease_expires_at < vqueue_now())
                             ORDER BY next_at, id LIMIT ? \(db.dialect.skipLocked))
                RETURNING *, vqueue_now() - at AS age
                """, worker, leaseSeconds, limit).map(JobNotification.init(row:)).sorted { $0.id < $1.id }
        }
    }

    public func recordNotification(_ notification: JobNotification, worker: String, outcome: NotificationOutcome) async throws {
        try await write { db in
            let (state, status, error, delay): (JobNotification.State, Int?, String?, Double) = switch outcome {
            case .delivered(let status): (.delivered, status, nil, 0)
            case .failed(let status, let reason): (.failed, status, reason, 0)
            case .retry(let status, let reason, let after): (.pending, status, reason, after)
            }
            let changed = try db.execute("""
                UPDATE notifications SET state = ?, last_status = ?, last_error = ?, next_at = vqueue_now() + ?,
                                         lease_owner = NULL, lease_expires_at = NULL,
                                         finished_at = CASE WHEN ? = 'pending' THEN NULL ELSE vqueue_now() END
                WHERE id = ? AND lease_owner = ? AND state = 'pending'
                """, state.rawValue, status, error, delay, state.rawValue, notification.id, worker)
            // The end of a delivery, for `events` and the API.
            guard changed > 0, state != .pending else { return }
            let detail = "\(notification.event) to \(notification.url): "
                + (state == .delivered ? "HTTP \(status ?? 0)" : (error ?? "failed"))
                + " (attempt \(notification.attempts))"
            try db.execute("""
                INSERT INTO events (kind, job_id, at, from_state, to_state, worker, detail)
                VALUES ('notification', ?, vqueue_now(), NULL, ?, ?, ?)
                """, notification.jobID, state.rawValue, worker, detail)
        }
    }

    public func notifications(job id: Int64) async throws -> [JobNotification] {
        try await read { db in
            try db.query("SELECT *, 0 AS age FROM notifications WHERE job_id = ? ORDER BY id", id).map(JobNotification.init(row:))
        }
    }

    public func farmNotifyURL() async throws -> String? {
        try await read { db in try db.queryOne("SELECT value FROM settings WHERE name = 'notify_url'")?.string("value") }
    }

    public func setFarmNotifyURL(_ url: String?) async throws {
        try await write { db in
            if let url {
                try db.execute("""
                    INSERT INTO settings (name, value) VALUES ('notify_url', ?)
                    ON CONFLICT (name) DO UPDATE SET value = excluded.value
                    """, url)
            } else {
                try db.execute("DELETE FROM settings WHERE name = 'notify_url'")
            }
        }
    }
}

extension JobNotification {
    init(row: SQLRow) {
        self.init(id: row.int64("id"), url: row.string("url"), event: row.string("event"), at: row.double("at"),
                  state: State(rawValue: row.string("state")) ?? .pending, attempts: row.int("attempts"))
        jobID = row.optionalInt64("job_id")
        batchID = row.optionalInt64("batch_id")
        jobState = row.optionalString("job_state")
        error = row.optionalString("error")
        errorCode = row.optionalString("error_code")
        result = row.optionalString("result")
        lastStatus = row.optionalInt("last_status")
        lastError = row.optionalString("last_error")
        age = row.optionalDouble("age") ?? 0
    }
}
