/// The queue's schema as the first release created it (git show d51fc62:Sources/JobQueue/SQLiteSchema.swift
/// and PostgresSchema.swift), word for word: what a database made by that release holds, for the
/// migration tests. Never edit these to follow a schema change; they are history.
enum FirstReleaseSchema {
    /// SQLite: the release's only step, then the version it recorded (`PRAGMA user_version = 1`).
    /// The release opened the file through GRDB's DatabasePool, which put it in WAL mode.
    static let sqlite = """
        PRAGMA journal_mode = WAL;
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
        PRAGMA user_version = 1;
        """

    /// PostgreSQL: the release's statements, one each, then its version table as it recorded it.
    static let postgres: [String] = [
        """
        CREATE FUNCTION vqueue_now() RETURNS double precision
            LANGUAGE sql VOLATILE AS $$ SELECT extract(epoch FROM clock_timestamp())::double precision $$
        """,
        """
        CREATE TABLE jobs (
            id bigserial PRIMARY KEY,
            kind text NOT NULL,
            payload text NOT NULL,
            queue text NOT NULL DEFAULT 'default',
            priority integer NOT NULL DEFAULT 0,
            state text NOT NULL CHECK (state IN ('queued','running','succeeded','failed','cancelled')),
            attempts integer NOT NULL DEFAULT 0,
            max_attempts integer NOT NULL DEFAULT 3,
            run_at double precision NOT NULL,
            lease_owner text,
            lease_expires_at double precision,
            progress double precision,
            fps double precision,
            eta double precision,
            result text,
            error text,
            submitted_at double precision NOT NULL,
            started_at double precision,
            finished_at double precision,
            updated_at double precision NOT NULL,
            batch_id bigint,
            weight double precision NOT NULL DEFAULT 1
        )
        """,
        """
        CREATE INDEX jobs_claim ON jobs (queue, priority DESC, id) WHERE state = 'queued'
        """,
        """
        -- The queue's shape changes fast (thousands queued, then none): keep the
        -- planner's estimates fresh, or a claim sorts the whole queue instead of
        -- reading the claim index in order.
        ALTER TABLE jobs SET (autovacuum_analyze_scale_factor = 0.01, autovacuum_analyze_threshold = 200,
                              autovacuum_vacuum_scale_factor = 0.02)
        """,
        """
        CREATE INDEX jobs_claim_any ON jobs (priority DESC, id) WHERE state = 'queued'
        """,
        """
        CREATE INDEX jobs_leases ON jobs (lease_expires_at) WHERE state = 'running'
        """,
        """
        CREATE INDEX jobs_state ON jobs (state, id)
        """,
        """
        CREATE INDEX jobs_batch ON jobs (batch_id) WHERE batch_id IS NOT NULL
        """,
        """
        CREATE INDEX jobs_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL
        """,
        """
        CREATE TABLE workers (
            id text PRIMARY KEY,
            host text NOT NULL,
            pid integer NOT NULL,
            concurrency integer NOT NULL,
            queues text NOT NULL,
            started_at double precision NOT NULL,
            heartbeat_at double precision NOT NULL,
            lease_seconds double precision NOT NULL,
            stop_requested integer NOT NULL DEFAULT 0,
            stopping_at double precision,
            stopped_at double precision,
            gone_at double precision,
            jobs_done integer NOT NULL DEFAULT 0,
            jobs_failed integer NOT NULL DEFAULT 0
        )
        """,
        """
        CREATE TABLE batches (
            id bigserial PRIMARY KEY,
            created_at double precision NOT NULL
        )
        """,
        """
        CREATE TABLE events (
            id bigserial PRIMARY KEY,
            kind text NOT NULL DEFAULT 'job',
            job_id bigint,
            at double precision NOT NULL,
            from_state text,
            to_state text NOT NULL,
            worker text,
            detail text
        )
        """,
        """
        CREATE INDEX events_job ON events (job_id, id)
        """,
        """
        CREATE FUNCTION vqueue_job_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                INSERT INTO events (job_id, at, from_state, to_state, worker, detail)
                VALUES (new.id, new.updated_at, NULL, new.state, NULL, NULL);
            ELSIF old.state IS DISTINCT FROM new.state THEN
                INSERT INTO events (job_id, at, from_state, to_state, worker, detail)
                VALUES (new.id, new.updated_at, old.state, new.state, COALESCE(new.lease_owner, old.lease_owner),
                        CASE WHEN new.state IN ('failed', 'queued') THEN new.error END);
                IF new.state IN ('succeeded', 'failed') THEN
                    UPDATE workers SET jobs_done = jobs_done + (new.state = 'succeeded')::integer,
                                       jobs_failed = jobs_failed + (new.state = 'failed')::integer
                    WHERE id = new.lease_owner;
                END IF;
            END IF;
            IF new.state = 'queued' THEN
                PERFORM pg_notify('vqueue_queued', '');
            END IF;
            RETURN NULL;
        END $$
        """,
        """
        CREATE TRIGGER jobs_inserted AFTER INSERT ON jobs
            FOR EACH ROW EXECUTE FUNCTION vqueue_job_changed()
        """,
        """
        CREATE TRIGGER jobs_state_changed AFTER UPDATE OF state ON jobs
            FOR EACH ROW WHEN (old.state IS DISTINCT FROM new.state) EXECUTE FUNCTION vqueue_job_changed()
        """,
        """
        CREATE FUNCTION vqueue_event_added() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('vqueue_events', '');
            RETURN NULL;
        END $$
        """,
        """
        CREATE TRIGGER events_added AFTER INSERT ON events
            FOR EACH STATEMENT EXECUTE FUNCTION vqueue_event_added()
        """,
        "CREATE TABLE vqueue_schema (version integer NOT NULL)",
        "INSERT INTO vqueue_schema (version) VALUES (1)",
    ]
}
