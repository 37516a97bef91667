import Foundation
import Synchronization
import Testing
@testable import JobQueue

/// The PostgreSQL server the in-process store tests use: `make test` starts a throw-away one
/// (Tests/Support/postgres-server.sh run) and names it in VQUEUE_TEST_POSTGRES as a base URL,
/// `postgres://vqueue@127.0.0.1:PORT/`, whose user may create databases. Each test gets a new
/// database there, created and dropped through the store's own libpq connection.
enum TestPostgresServer {
    static let variable = "VQUEUE_TEST_POSTGRES"

    /// The base URL, ending in `/`. Without one the test fails: a PostgreSQL case is never
    /// skipped quietly.
    static func baseURL(sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let value = ProcessInfo.processInfo.environment[variable] ?? ""
        try #require(!value.isEmpty, """
            \(variable) is not set, so there is no PostgreSQL server to test the store against: run the tests \
            with `make test`, which starts a throw-away server and sets it (or start one with \
            `bash Tests/Support/postgres-server.sh start /tmp/pg-test 54341` and set \(variable) to the URL it prints)
            """, sourceLocation: sourceLocation)
        let components = URLComponents(string: value)
        try #require(components?.host?.isEmpty == false
                     && ["postgres", "postgresql"].contains(components?.scheme?.lowercased() ?? ""),
                     "\(variable) must be a URL like postgres://vqueue@127.0.0.1:5432/, not '\(value)'",
                     sourceLocation: sourceLocation)
        return value
    }

    /// The base URL with `database` as its path (any query, such as sslmode, kept).
    static func url(_ base: String, database: String) -> String {
        var components = URLComponents(string: base)!
        components.path = "/" + database
        return components.string!
    }

    /// Connections to the server's `postgres` database for the tests' CREATE DATABASE (a few, used
    /// in turn: each statement takes a fifth of a second) and DROP DATABASE (one, in the
    /// background: each waits for a checkpoint, a second or more, and no test needs to wait for
    /// it). libpq blocks, but on the executors' own threads, not the tests' tasks.
    private static let creators = Administration(connections: 3)
    private static let droppers = Administration(connections: 1)

    private final class Administration: Sendable {
        private let count: Int
        private let executors = Mutex<[PostgresExecutor]>([])
        private let next = Atomic<Int>(0)

        init(connections: Int) {
            count = connections
        }

        func run(_ sql: String, base: String) async throws {
            let executor = executors.withLock { executors in
                if executors.isEmpty {
                    executors = (0..<count).map { _ in
                        PostgresExecutor(location: PostgresConnectionString(TestPostgresServer.url(base, database: "postgres")),
                                         deadline: .seconds(60))
                    }
                }
                return executors[next.wrappingAdd(1, ordering: .relaxed).oldValue % count]
            }
            try await executor.maintain { db in try db.execute(sql) }
        }
    }

    /// Creates a database of a test's own and returns its name and URL.
    static func createDatabase(sourceLocation: SourceLocation = #_sourceLocation) async throws -> (name: String, url: String) {
        let base = try baseURL(sourceLocation: sourceLocation)
        dropLeftovers(base: base)
        let name = makeName()
        do {
            try await creators.run("CREATE DATABASE \(name)", base: base)
        } catch {
            Issue.record("could not create database \(name) on \(variable)=\(base) (is the server still running?): \(error)",
                         sourceLocation: sourceLocation)
            throw error
        }
        return (name, url(base, database: name))
    }

    /// Ends every client connection to `database` (as a DBA's pg_terminate_backend, or a
    /// server restart, would); returns how many.
    static func terminateConnections(to database: String) async throws -> Int {
        let executor = PostgresExecutor(location: PostgresConnectionString(url(try baseURL(), database: "postgres")),
                                        deadline: .seconds(30))
        let rows = try await executor.read { db in
            try db.query("""
                SELECT pg_terminate_backend(pid) AS ended FROM pg_stat_activity
                WHERE datname = ? AND backend_type = 'client backend' AND pid <> pg_backend_pid()
                """, [.text(database)])
        }
        await executor.close()
        return rows.count
    }

    /// Drops a test's database in the background, ending whatever connections are left on it.
    /// Each drop waits for a checkpoint (a second or more while tests write), so no test waits
    /// for one; a database whose drop the test process does not live to see is dropped by a later
    /// run (`dropLeftovers`), and the throw-away server of `make test` goes with its folder anyway.
    static func dropDatabase(_ name: String) {
        guard let base = try? baseURL() else { return }
        Task.detached { await drop(name, base: base) }
    }

    private static func drop(_ name: String, base: String) async {
        _ = try? await droppers.run("DROP DATABASE IF EXISTS \(name) WITH (FORCE)", base: base)
    }

    /// Test databases are named `vqt_<seconds since 1970>_<random>`: one made more than an hour
    /// ago belongs to no running test (a test's time limit is minutes).
    private static func makeName() -> String {
        "vqt_\(Int(Date().timeIntervalSince1970))_" + UUID().uuidString.lowercased().filter(\.isHexDigit).prefix(12)
    }

    private static let janitorStarted = Atomic<Bool>(false)

    /// Once per test process, in the background: drops the test databases earlier runs left.
    private static func dropLeftovers(base: String) {
        guard janitorStarted.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged else { return }
        Task.detached {
            let executor = PostgresExecutor(location: PostgresConnectionString(url(base, database: "postgres")), deadline: .seconds(60))
            let names = (try? await executor.read { db in
                try db.query("SELECT datname FROM pg_database WHERE datname LIKE 'vqt\\_%'").map { $0.string("datname") }
            }) ?? []
            await executor.close()
            let cutoff = Int(Date().timeIntervalSince1970) - 3600
            for name in names {
                let parts = name.split(separator: "_")
                guard parts.count == 3, let made = Int(parts[1]), made < cutoff else { continue }
                await drop(name, base: base)
            }
        }
    }
}
