import Foundation

/// Rows as the first release's code wrote them (its SQLiteJobStore and PostgresJobStore at
/// d51fc62): the same statements for both databases, each job inserted queued and then moved
/// through its states by the UPDATEs that release ran, so that its triggers recorded the events.
/// Times are seconds since 1970, around `now`.
enum FirstReleaseRows {
    /// The worker whose jobs these were.
    static let worker = "old-box:101:beef"
    static let stoppedWorker = "old-box:99:dead"

    /// The jobs, in id order (1, 2, …), as the tests expect to read them back.
    enum Job: Int64, CaseIterable {
        /// Waiting for its first attempt.
        case queued = 1
        /// Running under the old worker, whose lease has run out (it died).
        case running
        case succeeded
        /// Crashed on each of its three attempts: failed as poison.
        case failed
        case cancelled
        /// Back in the queue after a crash, due now; the release kept the lease owner.
        case retrying
        /// Two jobs of a batch.
        case batchFirst
        case batchSecond
    }

    static func statements(now t: Double) -> [String] {
        func time(_ offset: Double) -> String { String(t + offset) }
        let insert = """
            INSERT INTO jobs (kind, payload, queue, priority, state, max_attempts, run_at, submitted_at, updated_at, batch_id, weight)
            VALUES
            """
        func queued(_ name: String, at offset: Double, batch: String = "NULL", weight: Double = 1) -> String {
            "\(insert) ('transcode', '{\"input\":\"/in/\(name).avi\",\"output\":\"/out/\(name).flv\"}', 'default', 0, 'queued', 3, "
                + "\(time(offset)), \(time(offset)), \(time(offset)), \(batch), \(weight))"
        }
        // The release's claim, for job `id` and attempt number `attempt`.
        func claimed(_ id: Job, attempt: Int, at offset: Double, leaseEnds: Double) -> String {
            """
            UPDATE jobs SET state = 'running', attempts = \(attempt), lease_owner = '\(worker)', lease_expires_at = \(time(leaseEnds)),
                            started_at = \(time(offset)), updated_at = \(time(offset)), progress = 0, fps = NULL, eta = NULL
            WHERE id = \(id.rawValue)
            """
        }
        // The release's fail with a retry: back to the queue, the lease owner kept.
        func retried(_ id: Job, attempt: Int, _ error: String, at offset: Double, due: Double? = nil) -> String {
            """
            UPDATE jobs SET state = 'queued', run_at = \(time(due ?? offset)), error = '\(error)', updated_at = \(time(offset)),
                            lease_expires_at = NULL, progress = NULL, fps = NULL, eta = NULL
            WHERE id = \(id.rawValue) AND attempts = \(attempt) AND lease_owner = '\(worker)' AND state = 'running'
            """
        }
        return [
            """
            INSERT INTO workers (id, host, pid, concurrency, queues, started_at, heartbeat_at, lease_seconds)
            VALUES ('\(worker)', 'old-box', 101, 2, '', \(time(-600)), \(time(-60)), 30)
            """,
            """
            INSERT INTO events (kind, job_id, at, from_state, to_state, worker, detail)
            VALUES ('worker', NULL, \(time(-600)), NULL, 'online', '\(worker)', 'pid 101 on old-box, concurrency 2')
            """,
            """
            INSERT INTO workers (id, host, pid, concurrency, queues, started_at, heartbeat_at, lease_seconds, stopping_at, stopped_at,
                                 jobs_done, jobs_failed)
            VALUES ('\(stoppedWorker)', 'old-box', 99, 1, 'fast,slow', \(time(-900)), \(time(-700)), 30, \(time(-701)), \(time(-700)), 7, 1)
            """,
            queued("queued", at: -300),

            queued("running", at: -290),
            claimed(.running, attempt: 1, at: -200, leaseEnds: -170),
            "UPDATE jobs SET progress = 0.4, fps = 25, eta = 60 WHERE id = 2 AND attempts = 1 AND state = 'running'",

            queued("succeeded", at: -280),
            claimed(.succeeded, attempt: 1, at: -250, leaseEnds: -220),
            """
            UPDATE jobs SET state = 'succeeded', result = '{"duration":12.5}', error = NULL, progress = 1, eta = 0,
                            finished_at = \(time(-240)), updated_at = \(time(-240)), lease_expires_at = NULL
            WHERE id = 3
            """,

            queued("failed", at: -270),
            claimed(.failed, attempt: 1, at: -269, leaseEnds: -239),
            retried(.failed, attempt: 1, "the transcoder crashed (SIGSEGV)", at: -260),
            claimed(.failed, attempt: 2, at: -259, leaseEnds: -229),
            retried(.failed, attempt: 2, "the transcoder crashed (SIGSEGV)", at: -250),
            claimed(.failed, attempt: 3, at: -249, leaseEnds: -219),
            """
            UPDATE jobs SET state = 'failed', error = 'poison: the transcoder crashed (SIGSEGV) on attempt 3 of 3',
                            finished_at = \(time(-225)), updated_at = \(time(-225)), lease_expires_at = NULL, eta = NULL
            WHERE id = 4 AND attempts = 3 AND lease_owner = '\(worker)' AND state = 'running'
            """,

            queued("cancelled", at: -260),
            """
            UPDATE jobs SET state = 'cancelled', finished_at = \(time(-255)), updated_at = \(time(-255)), lease_expires_at = NULL,
                            eta = NULL
            WHERE id = 5 AND state IN ('queued', 'running')
            """,

            queued("retrying", at: -250),
            claimed(.retrying, attempt: 1, at: -240, leaseEnds: -210),
            retried(.retrying, attempt: 1, "the transcoder crashed (SIGSEGV)", at: -235, due: -1),

            "INSERT INTO batches (created_at) VALUES (\(time(-100)))",
            queued("batch-first", at: -100, batch: "1", weight: 2.5),
            queued("batch-second", at: -100, batch: "1", weight: 1),
        ]
    }

    /// The states each job went through, as the release's triggers recorded them.
    static let histories: [Job: [String]] = [
        .queued: ["queued"],
        .running: ["queued", "running"],
        .succeeded: ["queued", "running", "succeeded"],
        .failed: ["queued", "running", "queued", "running", "queued", "running", "failed"],
        .cancelled: ["queued", "cancelled"],
        .retrying: ["queued", "running", "queued"],
        .batchFirst: ["queued"],
        .batchSecond: ["queued"],
    ]
}
