import GRDB

/// The queue's tables, created and upgraded by numbered steps recorded in
/// `PRAGMA user_version`. Each step runs in the same immediate transaction
/// that checks the version, so several processes opening a new database at
/// once cannot both apply it.
enum SQLiteSchema {
    static let steps: [String] = [
        """
        CREATE TABLE jobs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            kind TEXT NOT NULL,
            payload TEXT NOT NULL,
            queue TEXT NOT NULL DEFAULT 'default',
            priority INTEGER NOT NULL DEFAULT 0,
            state TEXT NOT NULL CHECK (state IN ('queued','running','succeeded','failed','cancelled')),
            attempts INTEGER NOT NULL DEFAULT 0,
            max_attempts INTEGER NOT NULL DEFAULT 3,
            run_at REAL NOT NULL,
            lease_owner TEXT,
            lease_expires_at REAL,
            progress REAL,
            fps REAL,
            eta REAL,
            result TEXT,
            error TEXT,
            submitted_at REAL NOT NULL,
            started_at REAL,
            finished_at REAL,
            updated_at REAL NOT NULL,
            batch_id INTEGER,
            -- How much this job counts in its batch's progress (e.g. seconds of media).
            weight REAL NOT NULL DEFAULT 1
        );
        CREATE INDEX jobs_claim ON jobs (queue, priority DESC, id) WHERE state = 'queued';
        CREATE INDEX jobs_claim_any ON jobs (priority DESC, id) WHERE state = 'queued';
        CREATE INDEX jobs_leases ON jobs (lease_expires_at) WHERE state = 'running';
        CREATE INDEX jobs_state ON jobs (state, id);
        CREATE INDEX jobs_batch ON jobs (batch_id) WHERE batch_id IS NOT NULL;
        CREATE INDEX jobs_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;

        CREATE TABLE workers (
            id TEXT PRIMARY KEY,
            host TEXT NOT NULL,
            pid INTEGER NOT NULL,
            concurrency INTEGER NOT NULL,
            queues TEXT NOT NULL,
            started_at REAL NOT NULL,
            heartbeat_at REAL NOT NULL,
            lease_seconds REAL NOT NULL,
            -- 0 none, 1 finish running jobs then stop, 2 stop now (`vqueue worker stop`).
            stop_requested INTEGER NOT NULL DEFAULT 0,
            stopping_at REAL,
            stopped_at REAL,
            -- Set by another worker once this one missed its heartbeats.
            gone_at REAL,
            jobs_done INTEGER NOT NULL DEFAULT 0,
            jobs_failed INTEGER NOT NULL DEFAULT 0
        );

        CREATE TABLE batches (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            created_at REAL NOT NULL
        );

        -- Job transitions (kind 'job') and workers coming online, stopping,
        -- stopped or gone offline (kind 'worker', job_id NULL).
        CREATE TABLE events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            kind TEXT NOT NULL DEFAULT 'job',
            job_id INTEGER,
            at REAL NOT NULL,
            from_state TEXT,
            to_state TEXT NOT NULL,
            worker TEXT,
            detail TEXT
        );
        CREATE INDEX events_job ON events (job_id, id);

        -- Every state change is recorded by the database itself, so no code
        -- path can change a job and forget the event.
        CREATE TRIGGER jobs_inserted AFTER INSERT ON jobs BEGIN
            INSERT INTO events (job_id, at, from_state, to_state, worker, detail)
            VALUES (new.id, new.updated_at, NULL, new.state, NULL, NULL);
        END;
        CREATE TRIGGER jobs_state_changed AFTER UPDATE OF state ON jobs
        WHEN old.state IS NOT new.state BEGIN
            INSERT INTO events (job_id, at, from_state, to_state, worker, detail)
            VALUES (new.id, new.updated_at, old.state, new.state,
                    COALESCE(new.lease_owner, old.lease_owner),
                    CASE WHEN new.state IN ('failed', 'queued') THEN new.error END);
            UPDATE workers SET jobs_done = jobs_done + (new.state = 'succeeded'),
                               jobs_failed = jobs_failed + (new.state = 'failed')
            WHERE id = new.lease_owner AND new.state IN ('succeeded', 'failed');
        END;
        """,
    ]

    static func migrate(_ writer: DatabasePool) throws {
        let version = try writer.read { try Int.fetchOne($0, sql: "PRAGMA user_version") ?? 0 }
        guard version < steps.count else { return }
        try writer.write { db in
            let current = try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0
            for (index, step) in steps.enumerated() where index >= current {
                try db.execute(sql: step)
            }
            try db.execute(sql: "PRAGMA user_version = \(steps.count)")
        }
    }
}
