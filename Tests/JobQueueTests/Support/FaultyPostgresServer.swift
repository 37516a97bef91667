import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import JobQueue

/// A PostgreSQL server of one test's own (Tests/Support/postgres-server.sh start, on a free
/// loopback port), for doing to it what must never be done to the server the other suites share:
/// end its sessions, restart it, stop it, freeze it. `with` removes it whatever happens; a server
/// whose test process died is removed by the next one that starts a server.
final class FaultyPostgresServer: Sendable {
    static let script = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()  // Tests
        .appendingPathComponent("Support/postgres-server.sh").path
    /// `/tmp/vqueue-pgfault-<test process pid>-<random>`: under /tmp, which the postgres user can reach.
    private static let folderPrefix = "vqueue-pgfault-"

    let directory: String
    let port: Int
    /// `postgres://vqueue@127.0.0.1:PORT/`.
    let baseURL: String
    /// A connection to the `postgres` database for looking at and ending sessions.
    private let administration: PostgresExecutor

    private init(directory: String, port: Int, baseURL: String) {
        self.directory = directory
        self.port = port
        self.baseURL = baseURL
        administration = PostgresExecutor(location: PostgresConnectionString(baseURL + "postgres"), deadline: .seconds(10))
    }

    /// Starts a server, runs `body`, then stops the server and removes its folder.
    static func with<T>(_ body: (FaultyPostgresServer) async throws -> T) async throws -> T {
        let server = try await start()
        do {
            let value = try await body(server)
            await server.destroy()
            return value
        } catch {
            await server.destroy()
            throw error
        }
    }

    private static func start() async throws -> FaultyPostgresServer {
        await removeAbandoned()
        var failures: [String] = []
        // A free port can be taken between our look and the server's bind: try another.
        for _ in 0..<3 {
            let port = try #require(SilentServer.freeLoopbackPort(), "no free loopback port")
            let directory = "/tmp/\(folderPrefix)\(getpid())-\(UUID().uuidString.prefix(8).lowercased())"
            let outcome = try await DaemonCommand(["/bin/bash", script, "start", directory, String(port)]).run(timeout: .seconds(120))
            let url = outcome.output.split(whereSeparator: \.isNewline).last.map(String.init) ?? ""
            if outcome.status == 0, url.hasPrefix("postgres://") {
                return FaultyPostgresServer(directory: directory, port: port, baseURL: url)
            }
            failures.append(outcome.description)
            _ = try? await DaemonCommand(["/bin/bash", script, "stop", directory]).run()
        }
        throw DaemonCommand.CommandError("could not start a PostgreSQL server of the test's own (Debian package postgresql): "
                                         + failures.joined(separator: "\n"))
    }

    /// Stops the server (thawed first, if frozen) and removes its folder.
    func destroy() async {
        await administration.close()
        thaw()
        let outcome = try? await DaemonCommand(["/bin/bash", Self.script, "stop", directory]).run()
        if outcome?.status != 0 {
            Issue.record("could not stop the test's server in \(directory): \(outcome.map(\.description) ?? "not run")")
        }
    }

    /// Servers whose test process is gone: stopped and removed.
    private static func removeAbandoned() async {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: "/tmp")) ?? [] where name.hasPrefix(folderPrefix) {
            let owner = name.dropFirst(folderPrefix.count).split(separator: "-").first.flatMap { pid_t($0) }
            guard let owner, owner != getpid(), kill(owner, 0) != 0, errno == ESRCH else { continue }
            // Its test may have died with the server frozen: a frozen server does not stop.
            thaw(in: "/tmp/\(name)")
            _ = try? await DaemonCommand(["/bin/bash", script, "stop", "/tmp/\(name)"]).run()
        }
    }

    func url(database: String) -> String { baseURL + database }

    /// Creates an empty database; returns its URL.
    func createDatabase(_ name: String) async throws -> String {
        try await administer { db in try db.execute("CREATE DATABASE \(name)") }
        return url(database: name)
    }

    /// Runs `body` on the administration connection, again while the server is on its way back
    /// (for up to half a minute).
    @discardableResult
    func administer<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) throws -> T) async throws -> T {
        let ends = ContinuousClock.now + .seconds(30)
        while true {
            do {
                return try await administration.read(body)
            } catch let error as StoreUnavailable {
                if ContinuousClock.now > ends { throw error }
                try await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    /// Sessions on `database` but the administration's own: their server process ids.
    func sessions(on database: String, where condition: String = "TRUE") async throws -> [Int] {
        try await administer { db in
            try db.query("""
                SELECT pid FROM pg_stat_activity
                WHERE datname = ? AND backend_type = 'client backend' AND pid <> pg_backend_pid() AND (\(condition))
                """, [.text(database)]).map { $0.int("pid") }
        }
    }

    /// `pg_terminate_backend` of each session given; returns how many were ended.
    @discardableResult
    func terminate(_ sessions: [Int]) async throws -> Int {
        guard !sessions.isEmpty else { return 0 }
        return try await administer { db in
            try db.query("SELECT pg_terminate_backend(pid) AS ended FROM unnest(CAST(? AS int[])) AS pid",
                         [.text("{\(sessions.map(String.init).joined(separator: ","))}")])
                .filter { $0.int("ended") == 1 }.count
        }
    }

    // MARK: Doing things to the server

    /// `pg_ctl restart -m fast`: every session ends, and the server is back once it returns.
    func restart() async throws {
        try await pgCtl(["restart", "--mode=fast", "--wait", "--timeout=60", "--log=\(directory)/log"])
    }

    /// `pg_ctl stop -m immediate`: the server processes are killed, as in a crash or a power cut;
    /// it is down until `startAgain` (which replays its WAL).
    func stopImmediately() async throws {
        try await pgCtl(["stop", "--mode=immediate", "--wait", "--timeout=60"])
    }

    func startAgain() async throws {
        try await pgCtl(["start", "--wait", "--timeout=60", "--log=\(directory)/log"])
    }

    /// SIGSTOP to the postmaster and every process of the server: it still accepts TCP
    /// connections (the kernel completes them), and answers nothing, until `thaw`.
    func freeze() {
        guard let postmaster = Self.postmasterPID(in: directory) else { return }
        kill(postmaster, SIGSTOP)
        // Stopped, the postmaster starts no new process: one look finds them all.
        for child in Self.children(of: postmaster) { kill(child, SIGSTOP) }
    }

    /// SIGCONT to every process of the server.
    func thaw() {
        Self.thaw(in: directory)
    }

    private static func thaw(in directory: String) {
        guard let postmaster = postmasterPID(in: directory) else { return }
        for child in children(of: postmaster) { kill(child, SIGCONT) }
        kill(postmaster, SIGCONT)
    }

    /// The postmaster's pid: the first line of postmaster.pid (nil while the server is down).
    private static func postmasterPID(in directory: String) -> pid_t? {
        guard let text = try? String(contentsOfFile: "\(directory)/data/postmaster.pid", encoding: .utf8),
              let first = text.split(whereSeparator: \.isNewline).first, let pid = pid_t(first), kill(pid, 0) == 0 else { return nil }
        return pid
    }

    /// Processes whose parent is `parent`, from /proc.
    private static func children(of parent: pid_t) -> [pid_t] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { name -> pid_t? in
            guard let pid = pid_t(name), let stat = try? String(contentsOfFile: "/proc/\(name)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return nil }
            // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 1 && pid_t(fields[1]) == parent ? pid : nil
        }
    }

    /// pg_ctl of the newest server version, as the cluster's owner (postgres when root), from
    /// the server's folder.
    private func pgCtl(_ arguments: [String]) async throws {
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? [])
            .sorted { $0.compare($1, options: .numeric) == .orderedDescending }
        let pgCtl = ProcessInfo.processInfo.environment["PG_BINDIR"].flatMap { $0.isEmpty ? nil : $0 + "/pg_ctl" }
            ?? "/usr/lib/postgresql/\(versions.first ?? "15")/bin/pg_ctl"
        let line = (getuid() == 0 ? ["/usr/sbin/runuser", "-u", "postgres", "--"] : []) + [pgCtl] + arguments
            + ["--pgdata=\(directory)/data"]
        let outcome = try await DaemonCommand(line, in: directory).run()
        guard outcome.status == 0 else {
            let log = (try? String(contentsOfFile: "\(directory)/log", encoding: .utf8)) ?? ""
            throw DaemonCommand.CommandError("pg_ctl \(arguments[0]) failed: \(outcome); server log: "
                                             + log.split(separator: "\n").suffix(15).joined(separator: "\n"))
        }
    }
}
