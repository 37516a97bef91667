/// The queue's tables, indexes and triggers, described once and rendered
/// for each database (`SQLDialect`). Numbered steps upgrade a database in
/// order; a database made by an earlier release has the earlier steps and
/// gets the rest (`SchemaMigrator`).
enum QueueSchema {
    /// One statement of a step.
    enum Statement {
        /// The same SQL on both databases, with `{id}`, `{time}`… types.
        case both(String)
        /// SQL for one database only.
        case only(SQLDialect, String)
        /// Drops the job triggers (by the names any release used) and
        /// creates the current ones.
        case jobTriggers
        /// Creates the trigger of wholes and parts (`familyTrigger`), which
        /// names step 5's column in its condition.
        case familyTriggers
    }

    static let steps: [[Statement]] = [
        // 1: the first release.
        [
            .only(.postgres, """
                CREATE FUNCTION vqueue_now() RETURNS double precision
                    LANGUAGE sql VOLATILE AS $$ SELECT extract(epoch FROM clock_timestamp())::double precision $$
                """),
            .both("""
                CREATE TABLE jobs (
                    id {id},
                    kind TEXT NOT NULL,
                    payload TEXT NOT NULL,
                    queue TEXT NOT NULL DEFAULT 'default',
                    priority {integer} NOT NULL DEFAULT 0,
                    state TEXT NOT NULL CHECK (state IN ('queued','running','succeeded','failed','cancelled')),
                    attempts {integer} NOT NULL DEFAULT 0,
                    max_attempts {integer} NOT NULL DEFAULT 3,
                    run_at {time} NOT NULL,
                    lease_owner TEXT,
                    lease_expires_at {time},
                    progress {real},
                    fps {real},
                    eta {real},
                    result TEXT,
                    error TEXT,
                    submitted_at {time} NOT NULL,
                    started_at {time},
                    finished_at {time},
                    updated_at {time} NOT NULL,
                    batch_id {bigint},
                    weight {real} NOT NULL DEFAULT 1
                )
                """),
            // The queue's shape changes fast (thousands queued, then none): keep
            // the planner's estimates fresh, or a claim sorts the whole queue
            // instead of reading the claim index in order.
            .only(.postgres, """
                ALTER TABLE jobs SET (autovacuum_analyze_scale_factor = 0.01, autovacuum_analyze_threshold = 200,
                                      autovacuum_vacuum_scale_factor = 0.02)
                """),
            .both("CREATE INDEX jobs_claim ON jobs (queue, priority DESC, id) WHERE state = 'queued'"),
            .both("CREATE INDEX jobs_claim_any ON jobs (priority DESC, id) WHERE state = 'queued'"),
            .both("CREATE INDEX jobs_leases ON jobs (lease_expires_at) WHERE state = 'running'"),
            .both("CREATE INDEX jobs_state ON jobs (state, id)"),
            .both("CREATE INDEX jobs_batch ON jobs (batch_id) WHERE batch_id IS NOT NULL"),
            .both("CREATE INDEX jobs_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL"),
            .both("""
                CREATE TABLE workers (
                    id TEXT PRIMARY KEY,
                    host TEXT NOT NULL,
                    pid {integer} NOT NULL,
                    concurrency {integer} NOT NULL,
                    queues TEXT NOT NULL,
                    started_at {time} NOT NULL,
                    heartbeat_at {time} NOT NULL,
                    lease_seconds {real} NOT NULL,
                    stop_requested {integer} NOT NULL DEFAULT 0,
                    stopping_at {time},
                    stopped_at {time},
                    gone_at {time},
                    jobs_done {integer} NOT NULL DEFAULT 0,
                    jobs_failed {integer} NOT NULL DEFAULT 0
                )
                """),
            .both("CREATE TABLE batches (id {id}, created_at {time} NOT NULL)"),
            .both("""
                CREATE TABLE events (
                    id {id},
                    kind TEXT NOT NULL DEFAULT 'job',
                    job_id {bigint},
                    at {time} NOT NULL,
                    from_state TEXT,
                    to_state TEXT NOT NULL,
                    worker TEXT,
                    detail TEXT
                )
                """),
            .both("CREATE INDEX events_job ON events (job_id, id)"),
            .only(.postgres, """
                CREATE FUNCTION vqueue_event_added() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    PERFORM pg_notify('vqueue_events', '');
                    RETURN NULL;
                END $$
                """),
            .only(.postgres, """
                CREATE TRIGGER events_added AFTER INSERT ON events
                    FOR EACH STATEMENT EXECUTE FUNCTION vqueue_event_added()
                """),
            // The job triggers come with step 2, which every database gets
            // (they name step 2's columns).
        ],
        // 2: trust (attempt numbers that never repeat, one unfinished job per
        // output, idempotent submits, recoverable publishing, error codes,
        // unhealthy workers).
        [
            // Attempts spent = attempts - attempt_base: `attempts` only ever
            // grows, so an attempt's number is never handed out twice; a retry
            // or a forced stop moves the base instead.
            .both("ALTER TABLE jobs ADD COLUMN attempt_base {integer} NOT NULL DEFAULT 0"),
            // What the job writes (a transcode's OUT): at most one unfinished job each.
            .both("ALTER TABLE jobs ADD COLUMN target TEXT"),
            .both("CREATE UNIQUE INDEX jobs_target ON jobs (target) WHERE state IN ('queued', 'running')"),
            // `submit --key`: the same key always means the same job.
            .both("ALTER TABLE jobs ADD COLUMN idempotency_key TEXT"),
            .both("CREATE UNIQUE INDEX jobs_key ON jobs (idempotency_key)"),
            // The attempt whose result is being put in place, recorded before
            // it is, so a worker that dies in between leaves a job another can finish.
            .both("ALTER TABLE jobs ADD COLUMN publishing TEXT"),
            .both("ALTER TABLE jobs ADD COLUMN error_code TEXT"),
            .both("ALTER TABLE events ADD COLUMN error_code TEXT"),
            .both("ALTER TABLE workers ADD COLUMN unhealthy_reason TEXT"),
            .both("ALTER TABLE workers ADD COLUMN unhealthy_at {time}"),
            // Leases of attempts whose worker died after a cancel: swept.
            .both("CREATE INDEX jobs_unsettled ON jobs (lease_expires_at) WHERE lease_expires_at IS NOT NULL"),
            // A job of the first release that is queued again kept its owner's
            // lease time; from now on a queued job holds no lease.
            .both("UPDATE jobs SET lease_expires_at = NULL WHERE state <> 'running'"),
            .jobTriggers,
        ],
        // 3: the submitter's opaque strings (`submit --meta`), a JSON object.
        [
            .both("ALTER TABLE jobs ADD COLUMN meta TEXT"),
        ],
        // 4: notifications when jobs and batches end (webhooks): an outbox
        // the job triggers fill in the transaction that ends the job.
        [
            // `submit --notify URL`.
            .both("ALTER TABLE jobs ADD COLUMN notify TEXT"),
            // When the batch last ended (every job finished), so that it is
            // announced once per ending; NULL again when one of its jobs is queued.
            .both("ALTER TABLE batches ADD COLUMN ended_at {time}"),
            // Farm-wide settings: `notify_url` (`worker --notify`).
            .both("CREATE TABLE settings (name TEXT PRIMARY KEY, value TEXT NOT NULL)"),
            .both("""
                CREATE TABLE notifications (
                    id {id},
                    job_id {bigint},
                    batch_id {bigint},
                    url TEXT NOT NULL,
                    event TEXT NOT NULL,
                    job_state TEXT,
                    error TEXT,
                    error_code TEXT,
                    result TEXT,
                    at {time} NOT NULL,
                    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending','delivered','failed')),
                    attempts {integer} NOT NULL DEFAULT 0,
                    next_at {time} NOT NULL,
                    lease_owner TEXT,
                    lease_expires_at {time},
                    last_status {integer},
                    last_error TEXT,
                    finished_at {time}
                )
                """),
            .both("CREATE INDEX notifications_due ON notifications (next_at, id) WHERE state = 'pending'"),
            .both("CREATE INDEX notifications_job ON notifications (job_id)"),
            .jobTriggers,
        ],
        // 5: wholes and parts: a job that runs once every job it is made of
        // (its parts, each an ordinary job) has succeeded, in the new state
        // `waiting` until then.
        [
            .only(.postgres, "ALTER TABLE jobs DROP CONSTRAINT IF EXISTS jobs_state_check"),
            .only(.postgres, "ALTER TABLE jobs ADD CONSTRAINT jobs_state_check CHECK (state IN \(allStates))"),
            // SQLite cannot alter a CHECK; a wider one needs no change on disk, only
            // the table's text (the procedure in SQLite's ALTER TABLE page). RESET
            // makes this connection read it again; the index after it, others.
            .only(.sqlite, "PRAGMA writable_schema = ON"),
            .only(.sqlite, """
                UPDATE sqlite_schema SET sql = replace(sql, '\(quoted(firstStates))', '\(quoted(allStates))')
                WHERE type = 'table' AND name = 'jobs'
                """),
            .only(.sqlite, "PRAGMA writable_schema = RESET"),
            .both("ALTER TABLE jobs ADD COLUMN parent_id {bigint}"),
            .both("CREATE INDEX jobs_parent ON jobs (parent_id) WHERE parent_id IS NOT NULL"),
            // A waiting whole holds its target as a queued or running job does.
            .both("DROP INDEX jobs_target"),
            .both("CREATE UNIQUE INDEX jobs_target ON jobs (target) WHERE state IN \(unfinished)"),
            .jobTriggers,
            .familyTriggers,
        ],
    ]

    /// The states the first release allowed, as its CHECK spelled them.
    static let firstStates = "('queued','running','succeeded','failed','cancelled')"
    static let allStates = "('queued','running','succeeded','failed','cancelled','waiting')"
    /// `text` as the inside of an SQL string literal.
    static func quoted(_ text: String) -> String { text.replacingOccurrences(of: "'", with: "''") }
    /// A job that is not over: it holds its target, its batch has not ended.
    static let unfinished = "('queued', 'running', 'waiting')"

    /// The job triggers: every state change recorded by the database itself,
    /// so no code path can change a job and forget its event; the worker's
    /// counters kept; idle PostgreSQL workers woken when a job is queued.
    static let jobTriggers: [Trigger] = [
        Trigger(name: "jobs_inserted", event: "AFTER INSERT ON jobs", condition: nil, body: [
            """
            INSERT INTO events (job_id, at, from_state, to_state, worker, detail)
            VALUES (NEW.id, NEW.updated_at, NULL, NEW.state, NULL, NULL)
            """,
        ], postgresExtra: "PERFORM pg_notify('vqueue_queued', '')"),
        Trigger(name: "jobs_state_changed", event: "AFTER UPDATE OF state ON jobs",
                condition: "OLD.state IS DISTINCT FROM NEW.state", body: [
            """
            INSERT INTO events (job_id, at, from_state, to_state, worker, detail, error_code)
            VALUES (NEW.id, NEW.updated_at, OLD.state, NEW.state, COALESCE(NEW.lease_owner, OLD.lease_owner),
                    CASE WHEN NEW.state IN ('failed', 'queued', 'cancelled') THEN NEW.error END,
                    CASE WHEN NEW.state IN ('failed', 'queued') THEN NEW.error_code END)
            """,
            """
            UPDATE workers SET jobs_done = jobs_done + CASE WHEN NEW.state = 'succeeded' THEN 1 ELSE 0 END,
                               jobs_failed = jobs_failed + CASE WHEN NEW.state = 'failed' THEN 1 ELSE 0 END
            WHERE id = NEW.lease_owner AND NEW.state IN ('succeeded', 'failed')
            """,
        ] + notificationStatements, postgresExtra: "IF NEW.state = 'queued' THEN PERFORM pg_notify('vqueue_queued', ''); END IF"),
    ]

    /// A whole and its parts (`NewJob.parts`), kept in step by the database
    /// whichever way a part changes (a worker, a cancel, a rescue): the
    /// whole waits until every part has succeeded, then is queued to run
    /// itself; a part that fails for good or is cancelled ends the whole the
    /// same way; a whole that ends so cancels its unfinished parts (their
    /// workers stop running ones, as after any cancel). Each change of the
    /// whole or a part is itself a state change, with its event (SQLite runs
    /// these triggers recursively: `recursive_triggers`).
    ///
    /// The first statement locks the whole's row (PostgreSQL) when a part
    /// ends, so that of two last parts succeeding at once, the second to take
    /// the lock sees the first one's end and queues the whole. (Claims and
    /// retries of parts take no lock on the whole: workers claiming parts of
    /// one whole never wait on each other.)
    static let wholeAndPartStatements = [
        """
        UPDATE jobs SET updated_at = updated_at
        WHERE id = NEW.parent_id AND NEW.state IN ('succeeded', 'failed', 'cancelled')
        """,
        """
        UPDATE jobs SET state = 'queued', run_at = NEW.updated_at, updated_at = NEW.updated_at
        WHERE id = NEW.parent_id AND state = 'waiting' AND NEW.state = 'succeeded'
          AND NOT EXISTS (SELECT 1 FROM jobs AS part WHERE part.parent_id = NEW.parent_id AND part.state <> 'succeeded')
        """,
        """
        UPDATE jobs SET state = NEW.state, error_code = NEW.error_code, finished_at = NEW.updated_at,
                        updated_at = NEW.updated_at, eta = NULL,
                        error = 'its part, job ' || NEW.id || ', ' || CASE WHEN NEW.state = 'failed' THEN 'failed'
                                ELSE 'was cancelled' END || COALESCE(': ' || NEW.error, '')
        WHERE id = NEW.parent_id AND state = 'waiting' AND NEW.state IN ('failed', 'cancelled')
        """,
        """
        UPDATE jobs SET state = 'cancelled', finished_at = NEW.updated_at, updated_at = NEW.updated_at, eta = NULL,
                        error = 'the job it is part of, job ' || NEW.id || ', ' || CASE WHEN NEW.state = 'failed'
                                THEN 'failed' ELSE 'was cancelled' END
        WHERE parent_id = NEW.id AND NEW.state IN ('failed', 'cancelled') AND state IN \(unfinished) AND publishing IS NULL
        """,
        // A whole that ended while waiting for its parts was run by no worker: it
        // is left for any worker's rescue to find as abandoned, so that the
        // handler removes what its parts left (`JobHandler.discard`).
        """
        UPDATE jobs SET lease_expires_at = NEW.updated_at
        WHERE id = NEW.id AND OLD.state = 'waiting' AND NEW.state IN ('failed', 'cancelled')
        """,
    ]

    /// Runs `wholeAndPartStatements` only where they can do something: a
    /// part's change, or the end of a whole that was waiting for its parts
    /// (a whole that runs has no unfinished part). Every other job's change
    /// pays nothing for them.
    static let familyTrigger = Trigger(
        name: "jobs_family_changed", event: "AFTER UPDATE OF state ON jobs",
        condition: "OLD.state IS DISTINCT FROM NEW.state AND (NEW.parent_id IS NOT NULL OR OLD.state = 'waiting')",
        body: wholeAndPartStatements, postgresExtra: nil)

    /// The outbox, filled where a job ends (so no crash between the end and
    /// its notification loses one): one notification per URL (the job's
    /// `--notify`, the farm's `notify_url`) when a job ends, and one more
    /// when it was the last unfinished job of its batch.
    ///
    /// The first statement locks the batch's row (PostgreSQL), so that of two
    /// jobs of a batch ending at once, the second to take the lock sees the
    /// first one's end and announces the batch; it also marks a batch that
    /// runs again (a job queued) as not ended. `ended_at` makes the batch's
    /// end announced once even when one statement ends many of its jobs
    /// (a cancelled batch), each row's trigger seeing them all ended.
    static let notificationStatements = [
        """
        UPDATE batches SET ended_at = CASE WHEN NEW.state IN \(unfinished) THEN NULL ELSE ended_at END
        WHERE id = NEW.batch_id
        """,
        """
        INSERT INTO notifications (job_id, url, event, job_state, error, error_code, result, at, next_at)
        SELECT NEW.id, u.url, 'job.' || NEW.state, NEW.state, NEW.error, NEW.error_code, NEW.result,
               NEW.updated_at, NEW.updated_at
        FROM (SELECT NEW.notify AS url UNION SELECT value AS url FROM settings WHERE name = 'notify_url') AS u
        WHERE NEW.state IN ('succeeded', 'failed', 'cancelled') AND u.url IS NOT NULL AND NEW.parent_id IS NULL
        """,
        """
        INSERT INTO notifications (job_id, batch_id, url, event, at, next_at)
        SELECT NEW.id, NEW.batch_id, u.url, 'batch.ended', NEW.updated_at, NEW.updated_at
        FROM (SELECT notify AS url FROM jobs WHERE batch_id = NEW.batch_id
              UNION SELECT value AS url FROM settings WHERE name = 'notify_url') AS u
        WHERE NEW.state IN ('succeeded', 'failed', 'cancelled') AND u.url IS NOT NULL
          AND EXISTS (SELECT 1 FROM batches WHERE id = NEW.batch_id AND ended_at IS NULL)
          AND NOT EXISTS (SELECT 1 FROM jobs WHERE batch_id = NEW.batch_id AND state IN \(unfinished))
        """,
        """
        UPDATE batches SET ended_at = NEW.updated_at
        WHERE id = NEW.batch_id AND ended_at IS NULL AND NEW.state IN ('succeeded', 'failed', 'cancelled')
          AND NOT EXISTS (SELECT 1 FROM jobs WHERE batch_id = NEW.batch_id AND state IN \(unfinished))
        """,
    ]

    /// Every trigger name and PostgreSQL trigger function any release used
    /// on `jobs`, dropped before the current ones are made.
    static let retiredTriggerFunctions = ["vqueue_job_changed"]

    struct Trigger {
        let name: String
        /// `AFTER INSERT ON jobs`, `AFTER UPDATE OF state ON jobs`.
        let event: String
        let condition: String?
        /// Statements in both dialects, with NEW and OLD.
        let body: [String]
        /// PL/pgSQL run after the body on PostgreSQL only (notifications).
        let postgresExtra: String?

        func render(_ dialect: SQLDialect) -> [String] {
            let table = event.components(separatedBy: " ON ").last ?? "jobs"
            switch dialect {
            case .sqlite:
                let when = condition.map { " WHEN \($0)" } ?? ""
                return ["DROP TRIGGER IF EXISTS \(name)",
                        "CREATE TRIGGER \(name) \(event) FOR EACH ROW\(when) BEGIN\n"
                        + body.map { $0 + ";\n" }.joined() + "END"]
            case .postgres:
                let function = "vqueue_\(name)"
                let statements = (body + (postgresExtra.map { [$0] } ?? [])).map { $0 + ";\n" }.joined()
                let when = condition.map { " WHEN (\($0))" } ?? ""
                return ["DROP TRIGGER IF EXISTS \(name) ON \(table)",
                        "CREATE OR REPLACE FUNCTION \(function)() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n"
                        + statements + "RETURN NULL;\nEND $$",
                        "CREATE TRIGGER \(name) \(event) FOR EACH ROW\(when) EXECUTE FUNCTION \(function)()"]
            }
        }
    }

    /// A step's statements for one database.
    static func render(step: [Statement], for dialect: SQLDialect) -> [String] {
        step.flatMap { statement -> [String] in
            switch statement {
            case .both(let sql): return [dialect.render(sql)]
            case .only(let only, let sql): return only == dialect ? [dialect.render(sql)] : []
            case .jobTriggers:
                let retired = dialect == .postgres
                    ? retiredTriggerFunctions.map { "DROP FUNCTION IF EXISTS \($0)() CASCADE" } : []
                return retired + jobTriggers.flatMap { $0.render(dialect) }
            case .familyTriggers:
                return familyTrigger.render(dialect)
            }
        }
    }
}
