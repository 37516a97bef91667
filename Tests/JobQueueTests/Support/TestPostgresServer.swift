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

    /// One connection to the server's `postgres` database for every test's CREATE and DROP
    /// DATABASE, on the executor's own thread (libpq blocks; the test's tasks do not), one
    /// statement at a time.
    private static let administration = Administration()

    private final class Administration: Sendable {
        private let executor = Mutex<PostgresExecutor?>(nil)

        func run(_ sql: String, base: String) async throws {
            let executor = self.executor.withLock { current in
                if let current { return current }
                let made = PostgresExecutor(location: PostgresConnectionString(TestPostgresServer.url(base, database: "postgres")),
                                            deadline: .seconds(60))
                current = made
                return made
            }
            try await executor.maintain { db in try db.execute(sql) }
        }
    }

    /// Creates `vqt_<16 hex digits>` and returns its name and URL.
    static func createDatabase(sourceLocation: SourceLocation = #_sourceLocation) async throws -> (name: String, url: String) {
        let base = try baseURL(sourceLocation: sourceLocation)
        let name = "vqt_" + UUID().uuidString.lowercased().filter(\.isHexDigit).prefix(16)
        do {
            try await administration.run("CREATE DATABASE \(name)", base: base)
        } catch {
            Issue.record("could not create database \(name) on \(variable)=\(base) (is the server still running?): \(error)",
                         sourceLocation: sourceLocation)
            throw error
        }
        return (name, url(base, database: name))
    }

    /// Drops a test's database, ending whatever connections are left on it.
    static func dropDatabase(_ name: String) async {
        guard let base = try? baseURL() else { return }
        try? await administration.run("DROP DATABASE IF EXISTS \(name) WITH (FORCE)", base: base)
    }
}
