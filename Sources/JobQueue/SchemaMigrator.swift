/// Brings a queue database up to `QueueSchema`'s last step. The steps run in
/// the same write transaction that reads the version, under a lock, so
/// several processes opening a new database at once apply each step once.
enum SchemaMigrator {
    /// A fixed key for PostgreSQL's migration lock ("vqueue" in ASCII).
    static let lockKey: Int64 = 0x7671_7565_7565

    static func migrate(_ executor: any SQLExecutor) async throws {
        let latest = QueueSchema.steps.count
        guard try await executor.read({ try version($0) }) < latest else { return }
        try await executor.write { connection in
            if connection.dialect == .postgres {
                try connection.execute("SELECT pg_advisory_xact_lock(\(lockKey))")
                try connection.execute("CREATE TABLE IF NOT EXISTS vqueue_schema (version integer NOT NULL)")
            }
            let current = try version(connection)
            for (index, step) in QueueSchema.steps.enumerated() where index >= current {
                for statement in QueueSchema.render(step: step, for: connection.dialect) {
                    try connection.execute(statement)
                }
            }
            guard current < latest else { return }
            switch connection.dialect {
            case .sqlite: try connection.execute("PRAGMA user_version = \(latest)")
            case .postgres: try connection.execute("INSERT INTO vqueue_schema (version) VALUES (?)", latest)
            }
        }
    }

    /// The last step applied: SQLite's `user_version`, PostgreSQL's
    /// `vqueue_schema` table (0 when neither exists yet).
    static func version(_ connection: any SQLConnection) throws -> Int {
        switch connection.dialect {
        case .sqlite:
            return try connection.queryOne("PRAGMA user_version")?.values.first.map { value in
                if case .integer(let number) = value { return Int(number) }
                return 0
            } ?? 0
        case .postgres:
            guard try connection.queryOne("SELECT to_regclass('vqueue_schema') IS NOT NULL AS present")?.int("present") == 1
            else { return 0 }
            return try connection.queryOne("SELECT COALESCE(max(version), 0) AS version FROM vqueue_schema")?.int("version") ?? 0
        }
    }
}
