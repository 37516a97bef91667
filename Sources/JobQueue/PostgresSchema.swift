import PostgresNIO

/// The queue's tables on PostgreSQL: the same tables, columns and meanings
/// as `SQLiteSchema`, created and upgraded by numbered steps recorded in
/// `vqueue_schema`. Each step runs under a transaction-wide advisory lock,
/// so boxes starting at once against a new database apply it exactly once.
///
/// Times are seconds since 1970 on the server's clock (`vqueue_now()`),
/// never a box's own.
enum PostgresSchema {
    static let steps: [[String]] = [
        [
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
        ],
    ]

    /// A fixed key for the migration lock ("vqueue" in ASCII).
    static let lockKey: Int64 = 0x7671_7565_7565

    static func migrate(_ session: PostgresSession) async throws {
        let current = try await version(session)
        guard current < steps.count else { return }
        try await session.transaction { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(lockKey))", logger: PostgresSession.logger)
            try await connection.query("""
                CREATE TABLE IF NOT EXISTS vqueue_schema (version integer NOT NULL)
                """, logger: PostgresSession.logger)
            let rows = try await connection.query("SELECT max(version) FROM vqueue_schema", logger: PostgresSession.logger)
            var applied = 0
            for try await (version) in rows.decode(Int?.self) { applied = version ?? 0 }
            for (index, step) in steps.enumerated() where index >= applied {
                for statement in step {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: PostgresSession.logger)
                }
                try await connection.query("INSERT INTO vqueue_schema (version) VALUES (\(index + 1))",
                                           logger: PostgresSession.logger)
            }
        }
    }

    private static func version(_ session: PostgresSession) async throws -> Int {
        try await session.run { connection in
            var exists = false
            for try await (found) in try await connection.query("SELECT to_regclass('vqueue_schema') IS NOT NULL",
                                                                  logger: PostgresSession.logger).decode(Bool.self) {
                exists = found
            }
            guard exists else { return 0 }
            var version = 0
            for try await (value) in try await connection.query("SELECT COALESCE(max(version), 0) FROM vqueue_schema",
                                                                 logger: PostgresSession.logger).decode(Int.self) {
                version = value
            }
            return version
        }
    }
}
