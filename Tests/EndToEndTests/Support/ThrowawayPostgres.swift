import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

// A PostgreSQL server of one test's own, for tests that do to the server what must not be done to
// the one `make test` shares (restart it, cut its connections, put it behind a network that
// fails), and the vqueue commands that use it, run from where a box would run them.

/// Where a test runs a program: in the test's own network namespace, or in another one
/// (`ip netns exec NAME ...`, which execs the program in place: its pid is the one started).
struct NetworkPlace: Sendable, CustomStringConvertible {
    let namespace: String?

    static let here = NetworkPlace(namespace: nil)

    /// iproute2's `ip`.
    static let ip: URL = {
        let found = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].first { FileManager.default.isExecutableFile(atPath: $0) }
        return URL(fileURLWithPath: found ?? "/usr/sbin/ip")
    }()

    var description: String { namespace.map { "network namespace \($0)" } ?? "the test's network namespace" }

    /// The command line that runs `executable arguments...` here.
    func command(_ executable: URL, _ arguments: [String]) -> (URL, [String]) {
        guard let namespace else { return (executable, arguments) }
        return (Self.ip, ["netns", "exec", namespace, executable.path] + arguments)
    }

    /// Runs a short command to its end (not through a process slot: these take milliseconds).
    func run(_ executable: URL, _ arguments: [String], in directory: URL? = nil, environment: [String: String] = [:],
             timeout: Duration = .seconds(60)) async throws -> ProcessResult {
        let (program, line) = command(executable, arguments)
        let process = try RunningProcess(program, line, currentDirectory: directory, environment: environment)
        return await process.wait(timeout: timeout)
    }

    /// Runs a command that leaves a daemon behind (starts a database server) to its end; see
    /// `runLeavingDaemon`. `directory` is the command's current directory.
    func runLeavingDaemon(_ executable: URL, _ arguments: [String], in directory: URL? = nil,
                          timeout: Duration = .seconds(120)) async throws -> ProcessResult {
        var (program, line) = (executable, arguments)
        if let directory { (program, line) = (URL(fileURLWithPath: "/usr/bin/env"), ["-C", directory.path, program.path] + line) }
        (program, line) = command(program, line)
        return try await EndToEndTests.runLeavingDaemon(program, line, timeout: timeout)
    }

    /// Starts a long-running program whose stderr goes to `logFile`.
    func start(_ executable: URL, _ arguments: [String], logFile: URL,
               environment: [String: String] = [:]) throws -> LoggedProcess {
        let (program, line) = command(executable, arguments)
        return try LoggedProcess(program, line, logFile: logFile, environment: environment)
    }
}

/// A throw-away server made by Tests/Support/postgres-server.sh in a folder of its own, started in
/// `place`. `with` removes it whatever happens; a server left behind by a test process that died
/// is removed by the next one that starts a server.
final class ThrowawayPostgres: Sendable {
    static let script = Locations.packageRoot.appendingPathComponent("Tests/Support/postgres-server.sh")
    /// Folders are `/tmp/vqueue-pg-<test process pid>-<random>` (under /tmp: the server's user
    /// must reach them).
    private static let folderPrefix = "vqueue-pg-"

    let directory: URL
    /// `postgres://vqueue@HOST:PORT/`: append a database name.
    let baseURL: String
    let place: NetworkPlace

    private init(directory: URL, baseURL: String, place: NetworkPlace) {
        self.directory = directory
        self.baseURL = baseURL
        self.place = place
    }

    /// Starts a server listening on `listen` (a loopback port that is free when `port` is nil),
    /// runs `body`, then stops the server and removes its folder, whether `body` threw or not.
    static func with<T>(port: Int? = nil, listen: String = "127.0.0.1", place: NetworkPlace = .here,
                        sourceLocation: SourceLocation = #_sourceLocation,
                        _ body: (ThrowawayPostgres) async throws -> T) async throws -> T {
        let server = try await start(port: port, listen: listen, place: place, sourceLocation: sourceLocation)
        let value: T
        do {
            value = try await body(server)
        } catch {
            await server.destroy()
            throw error
        }
        await server.destroy()
        return value
    }

    private static func start(port: Int?, listen: String, place: NetworkPlace,
                              sourceLocation: SourceLocation) async throws -> ThrowawayPostgres {
        await removeAbandoned()
        var failures: [ProcessResult] = []
        // A free port can be taken between our look and the server's bind: try another.
        for _ in 0..<(port == nil ? 3 : 1) {
            let chosen = try #require(port ?? freeLoopbackPort(), "no free loopback port", sourceLocation: sourceLocation)
            let directory = URL(fileURLWithPath: "/tmp", isDirectory: true).appendingPathComponent(
                "\(folderPrefix)\(getpid())-\(UUID().uuidString.prefix(8).lowercased())", isDirectory: true)
            let result = try await place.runLeavingDaemon(URL(fileURLWithPath: "/bin/bash"),
                                                          [script.path, "start", directory.path, String(chosen), listen])
            if result.exitCode == 0, let url = result.stdoutLines.last, url.hasPrefix("postgres://") {
                return ThrowawayPostgres(directory: directory, baseURL: url, place: place)
            }
            failures.append(result)
            _ = try? await NetworkPlace.here.run(URL(fileURLWithPath: "/bin/bash"), [script.path, "stop", directory.path])
        }
        throw SetupFailure(description: """
            could not start a throw-away PostgreSQL server in \(place) (Debian package postgresql; \
            make deps installs it): \(failures.map(\.description).joined(separator: "\n"))
            """)
    }

    struct SetupFailure: Error, CustomStringConvertible {
        let description: String
    }

    /// Stops the server (fast, then immediate; thawed first, if frozen) and removes its folder.
    func destroy() async {
        thaw()
        let result = try? await NetworkPlace.here.run(URL(fileURLWithPath: "/bin/bash"),
                                                      [Self.script.path, "stop", directory.path], timeout: .seconds(90))
        if result?.exitCode != 0 {
            Issue.record("could not stop the throw-away server in \(directory.path): \(result.map(\.description) ?? "not run")")
        }
    }

    /// Servers whose test process is gone (killed by a time limit, a crash): stopped and removed.
    private static func removeAbandoned() async {
        let tmp = "/tmp"
        for name in (try? FileManager.default.contentsOfDirectory(atPath: tmp)) ?? [] where name.hasPrefix(folderPrefix) {
            let owner = name.dropFirst(folderPrefix.count).split(separator: "-").first.flatMap { pid_t($0) }
            guard let owner, owner != getpid(), kill(owner, 0) != 0, errno == ESRCH else { continue }
            // Its test may have died with the server frozen: a frozen server does not stop.
            thaw(URL(fileURLWithPath: "\(tmp)/\(name)", isDirectory: true))
            _ = try? await NetworkPlace.here.run(URL(fileURLWithPath: "/bin/bash"), [script.path, "stop", "\(tmp)/\(name)"])
        }
    }

    /// A TCP port on 127.0.0.1 that nothing listens on right now (bound to find it, then closed).
    static func freeLoopbackPort() -> Int? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic in
                bind(fd, generic, length) == 0 && getsockname(fd, generic, &length) == 0
            }
        }
        return bound ? Int(UInt16(bigEndian: address.sin_port)) : nil
    }

    func url(database: String) -> String { baseURL + database }

    /// Creates an empty database and returns its URL.
    func createDatabase(_ name: String, sourceLocation: SourceLocation = #_sourceLocation) async throws -> String {
        let result = try await psql("postgres", ["-q", "-c", "CREATE DATABASE \(name)"])
        try #require(result.exitCode == 0, "could not create database \(name): \(result)", sourceLocation: sourceLocation)
        return url(database: name)
    }

    /// `psql -X -v ON_ERROR_STOP=1 --dbname=URL ARGUMENTS...` in the server's place.
    func psql(_ database: String, _ arguments: [String]) async throws -> ProcessResult {
        try await place.run(TestPostgres.program,
                            ["-X", "-v", "ON_ERROR_STOP=1", "--dbname=\(url(database: database))"] + arguments,
                            environment: ["PGCONNECT_TIMEOUT": "10"])
    }

    /// Rows of a query, one a line, columns separated by `|`, NULL as nothing.
    func query(_ database: String, _ sql: String, sourceLocation: SourceLocation = #_sourceLocation) async throws -> [String] {
        let result = try await psql(database, ["-A", "-t", "-F", "|", "-c", sql])
        try #require(result.exitCode == 0, "psql failed: \(result)", sourceLocation: sourceLocation)
        return result.stdoutLines
    }

    // MARK: Doing things to the server

    /// `pg_ctl restart -m fast`: every connection breaks, and the server is back once it returns.
    func restart(sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let result = try await pgCtl(["restart", "--mode=fast", "--wait", "--timeout=60", "--log=\(directory.path)/log"])
        try #require(result.exitCode == 0, "pg_ctl restart failed: \(result); log: \(serverLog)", sourceLocation: sourceLocation)
    }

    /// `pg_ctl stop -m fast`: the server is down until `startAgain`.
    func stop(sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let result = try await pgCtl(["stop", "--mode=fast", "--wait", "--timeout=60"])
        try #require(result.exitCode == 0, "pg_ctl stop failed: \(result); log: \(serverLog)", sourceLocation: sourceLocation)
    }

    func startAgain(sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let result = try await pgCtl(["start", "--wait", "--timeout=60", "--log=\(directory.path)/log"])
        try #require(result.exitCode == 0, "pg_ctl start failed: \(result); log: \(serverLog)", sourceLocation: sourceLocation)
    }

    /// SIGSTOP to the postmaster and every process of the server: the kernel still accepts TCP
    /// connections to it, and nothing answers, until `thaw`.
    func freeze() {
        guard let postmaster = Self.postmasterPID(in: directory) else { return }
        kill(postmaster, SIGSTOP)
        // Stopped, the postmaster starts no new process: one look finds them all.
        for child in Self.serverProcesses(of: postmaster) { kill(child, SIGSTOP) }
    }

    /// SIGCONT to every process of the server.
    func thaw() {
        Self.thaw(directory)
    }

    private static func thaw(_ directory: URL) {
        guard let postmaster = postmasterPID(in: directory) else { return }
        for child in serverProcesses(of: postmaster) { kill(child, SIGCONT) }
        kill(postmaster, SIGCONT)
    }

    /// The first line of postmaster.pid (nil while the server is down).
    private static func postmasterPID(in directory: URL) -> pid_t? {
        guard let text = try? String(contentsOfFile: directory.appendingPathComponent("data/postmaster.pid").path, encoding: .utf8),
              let first = text.split(whereSeparator: \.isNewline).first, let pid = pid_t(first), kill(pid, 0) == 0 else { return nil }
        return pid
    }

    /// The postmaster's children, from /proc ("pid (comm) state ppid ...").
    private static func serverProcesses(of postmaster: pid_t) -> [pid_t] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { name -> pid_t? in
            guard let pid = pid_t(name), let stat = try? String(contentsOfFile: "/proc/\(name)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return nil }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 1 && pid_t(fields[1]) == postmaster ? pid : nil
        }
    }

    /// Ends every session on `database` but the caller's, as an administrator would; returns how many.
    func terminateConnections(to database: String, sourceLocation: SourceLocation = #_sourceLocation) async throws -> Int {
        let rows = try await query("postgres", """
            SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
            WHERE datname = '\(database)' AND pid <> pg_backend_pid()
            """, sourceLocation: sourceLocation)
        return try #require(rows.first.flatMap { Int($0) }, "pg_terminate_backend: \(rows)", sourceLocation: sourceLocation)
    }

    /// The last lines of the server's log, for failure messages.
    var serverLog: String {
        let text = (try? String(contentsOfFile: directory.appendingPathComponent("log").path, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").suffix(20).joined(separator: "\n")
    }

    /// pg_ctl of the newest server version (or PG_BINDIR's), as the cluster's owner (postgres when
    /// root), in the server's place (a server started in a namespace must be started there again),
    /// from its folder (the server programs complain about a current directory they cannot enter).
    private func pgCtl(_ arguments: [String]) async throws -> ProcessResult {
        let pgCtl = Self.serverBinaries.appendingPathComponent("pg_ctl")
        let line = ["--pgdata=\(directory.path)/data"]
        if getuid() == 0 {
            return try await place.runLeavingDaemon(URL(fileURLWithPath: "/usr/sbin/runuser"),
                                                    ["-u", "postgres", "--", pgCtl.path] + arguments + line,
                                                    in: directory, timeout: .seconds(90))
        }
        return try await place.runLeavingDaemon(pgCtl, arguments + line, in: directory, timeout: .seconds(90))
    }

    /// Where initdb and pg_ctl are, found as postgres-server.sh finds them.
    static let serverBinaries: URL = {
        if let override = ProcessInfo.processInfo.environment["PG_BINDIR"], !override.isEmpty {
            return URL(fileURLWithPath: override, isDirectory: true)
        }
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? [])
            .sorted { $0.compare($1, options: .numeric) == .orderedDescending }
        return URL(fileURLWithPath: "/usr/lib/postgresql/\(versions.first ?? "15")/bin", isDirectory: true)
    }()
}

/// The vqueue commands a script runs against a PostgreSQL queue (`--db URL`), from `place`.
struct PostgresQueueClient: Sendable, JobStatusSource {
    let server: ThrowawayPostgres
    let database: String
    /// Where the commands run (the box of the web site that submits, say).
    let place: NetworkPlace

    var url: String { server.url(database: database) }

    /// `vqueue COMMAND --db URL ARGUMENTS...`, run to its end.
    func run(_ command: String, _ arguments: [String] = [], timeout: Duration = .seconds(60)) async throws -> ProcessResult {
        try await place.run(Locations.vqueue, [command, "--db", url] + arguments, timeout: timeout)
    }

    /// Submits a job of several seconds (one thread, x264's medium preset) for a running worker
    /// and waits up to a minute for its child to be encoding (its progress above 0): the job's id,
    /// and the child's pid (nil if it was never caught so).
    func submitCaughtEncoding(_ input: URL, _ output: URL) async throws -> (id: Int64, child: pid_t?) {
        let id = try await submit(input, output, ["--threads", "1", "--x264-preset", "medium"])
        var child: pid_t?
        let caught = try await eventually(within: .seconds(60)) {
            child = ProcessTable.jobChild(for: output, job: id, attempt: 1)
            guard child != nil else { return false }
            return try await job(id).progress > 0
        }
        return (id, caught ? child : nil)
    }

    /// Starts `vqueue worker --db URL ARGUMENTS...` in `box` (default: this client's place), its
    /// stderr in `logFile`.
    func startWorker(_ arguments: [String], in box: NetworkPlace? = nil, logFile: URL,
                     environment: [String: String] = [:]) throws -> LoggedProcess {
        try #require(FileManager.default.isExecutableFile(atPath: Locations.vqueue.path),
                     "vqueue binary not found at \(Locations.vqueue.path); build it or set VQUEUE_BIN")
        return try (box ?? place).start(Locations.vqueue, ["worker", "--db", url] + arguments, logFile: logFile,
                                        environment: environment)
    }

    /// `vqueue submit IN OUT OPTIONS...`, expecting the job id alone on stdout.
    func submit(_ input: URL, _ output: URL, _ options: [String] = [],
                sourceLocation: SourceLocation = #_sourceLocation) async throws -> Int64 {
        let result = try await run("submit", options + ["--", input.path, output.path])
        try #require(result.exitCode == 0, "submit failed: \(result)", sourceLocation: sourceLocation)
        return try #require(TestQueue.jobID(result), "submit must print the job id alone: \(result)",
                            sourceLocation: sourceLocation)
    }

    func job(_ id: Int64, sourceLocation: SourceLocation = #_sourceLocation) async throws -> JobStatus {
        let result = try await run("status", [String(id), "--json"])
        try #require([0, 1, 2, 3].contains(result.exitCode), "status failed: \(result)", sourceLocation: sourceLocation)
        return try JobStatus.decode(result.stdout)
    }


    /// Polls job `id` until it has finished (succeeded, failed or cancelled).
    func finished(_ id: Int64, timeout: Duration = .seconds(90)) async throws -> JobStatus {
        try await waitForJob(id, timeout: timeout) { ["succeeded", "failed", "cancelled"].contains($0.state) }
    }

    /// `vqueue workers --json`, decoded.
    func workers(sourceLocation: SourceLocation = #_sourceLocation) async throws -> [FarmWorker] {
        let result = try await run("workers", ["--json"])
        try #require(result.exitCode == 0, "workers failed: \(result)", sourceLocation: sourceLocation)
        return try JSONDecoder.snakeCase.decode([FarmWorker].self, from: result.stdout)
    }

    /// Rows of a query on the queue's database, as psql sees it.
    func query(_ sql: String, sourceLocation: SourceLocation = #_sourceLocation) async throws -> [String] {
        try await server.query(database, sql, sourceLocation: sourceLocation)
    }

    /// The states a job went through, from the events table: ["queued", "running", ...].
    func stateHistory(_ id: Int64) async throws -> [String] {
        try await query("SELECT to_state FROM events WHERE kind = 'job' AND job_id = \(id) ORDER BY id")
    }

    /// How many times the events table says the job succeeded (exactly once, for a job that did).
    func successCount(_ id: Int64) async throws -> Int {
        Int(try await query("SELECT count(*) FROM events WHERE job_id = \(id) AND to_state = 'succeeded'").first ?? "") ?? -1
    }
}

/// Runs a command that leaves a daemon behind (a database server) to its end, with stdout and
/// stderr together in the result's stdout. Not through Foundation's `Process`: on Linux its
/// children inherit one end of a socket whose closing tells `Process` that the child has ended, so
/// a daemon started through it keeps that end open and `Process` waits for as long as the daemon
/// lives. Here the child gets stdin (/dev/null), stdout and stderr (a file), and nothing else.
func runLeavingDaemon(_ executable: URL, _ arguments: [String], timeout: Duration = .seconds(120)) async throws -> ProcessResult {
    let started = ContinuousClock.now
    let outputFile = FileManager.default.temporaryDirectory.appendingPathComponent("vqueue-daemon-\(UUID().uuidString).out")
    defer { try? FileManager.default.removeItem(at: outputFile) }

    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, outputFile.path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    posix_spawn_file_actions_adddup2(&actions, 1, 2)
    try closeInheritedDescriptors(&actions)

    let line = [executable.path] + arguments
    let environment = ProcessInfo.processInfo.environment.map { "\($0)=\($1)" }
    let argv = line.map { strdup($0) } + [nil]
    let envp = environment.map { strdup($0) } + [nil]
    defer {
        argv.forEach { free($0) }
        envp.forEach { free($0) }
    }
    var pid: pid_t = 0
    let spawned = posix_spawn(&pid, executable.path, &actions, nil, argv, envp)
    guard spawned == 0 else {
        throw CocoaError(.executableLoad, userInfo: [NSFilePathErrorKey: executable.path,
                                                     NSLocalizedDescriptionKey: String(cString: strerror(spawned))])
    }

    var status: Int32 = 0
    var timedOut = false
    while true {
        let waited = waitpid(pid, &status, WNOHANG)
        if waited == pid || (waited == -1 && errno != EINTR) { break }
        if !timedOut && ContinuousClock.now - started > timeout {
            timedOut = true
            kill(pid, SIGKILL)
        }
        try? await Task.sleep(for: .milliseconds(20))
    }
    // The status macros are C macros Swift does not import: exit code in bits 8-15, signal in 0-6.
    let signal = status & 0x7f
    let termination: Termination = signal == 0 ? .exited((status >> 8) & 0xff) : .signaled(signal)
    let output = (try? Data(contentsOf: outputFile)) ?? Data()
    return ProcessResult(command: line, termination: termination, stdout: output, stderr: Data(),
                         elapsed: ContinuousClock.now - started, timedOut: timedOut)
}

/// Makes the child close every descriptor from 3 up: glibc's posix_spawn_file_actions_addclosefrom_np
/// (2.34 and later; Swift does not import it, hence dlsym).
private func closeInheritedDescriptors(_ actions: inout posix_spawn_file_actions_t) throws {
    typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, Int32) -> Int32
    guard let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") else {
        throw CocoaError(.featureUnsupported, userInfo: [NSLocalizedDescriptionKey:
            "posix_spawn_file_actions_addclosefrom_np is missing (glibc 2.34 or later needed)"])
    }
    let addCloseFrom = unsafeBitCast(symbol, to: AddCloseFrom.self)
    let result = addCloseFrom(&actions, 3)
    guard result == 0 else {
        throw CocoaError(.featureUnsupported, userInfo: [NSLocalizedDescriptionKey: String(cString: strerror(result))])
    }
}
