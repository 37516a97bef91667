import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A queue of one test's own and the vqueue commands that use it, run as a script would run them:
/// a real SQLite file in the test's temporary folder, or a fresh database on the test PostgreSQL
/// server (`TestPostgres`).
struct TestQueue: Sendable {
    /// Where the queue lives. The queue and operations suites run each queue test on every store:
    /// `@Test(..., arguments: TestQueue.Store.allCases)`.
    enum Store: String, CaseIterable, Sendable, CustomTestStringConvertible {
        /// A file, `--db PATH`.
        case sqlite
        /// A database of its own on the server named by VQUEUE_TEST_POSTGRES, `--db postgres://...`.
        case postgres

        var testDescription: String { self == .sqlite ? "SQLite" : "PostgreSQL" }
    }

    /// How the commands are told which database to use.
    enum Selection: Sendable {
        /// `--db LOCATION` on every command line.
        case option
        /// `VQUEUE_DB=LOCATION` in every command's environment.
        case environment
    }

    let store: Store
    /// What `--db` or `VQUEUE_DB` says: the SQLite file's path, or the PostgreSQL database's URL.
    let location: String
    let selection: Selection
    private let sqliteFile: URL?

    /// The SQLite file, for tests about the file itself (SQLite queues only: a PostgreSQL queue
    /// has no file; use `location`).
    var database: URL {
        guard let sqliteFile else {
            preconditionFailure("TestQueue.database: a \(store) queue has no file; use location (\(location))")
        }
        return sqliteFile
    }

    /// An SQLite queue: `directory/name`, created by the first command that uses it.
    init(in directory: URL, named name: String = "queue.db", selection: Selection = .option) {
        let file = directory.appendingPathComponent(name)
        store = .sqlite
        location = file.path
        sqliteFile = file
        self.selection = selection
    }

    private init(postgresURL: String, selection: Selection) {
        store = .postgres
        location = postgresURL
        sqliteFile = nil
        self.selection = selection
    }

    /// A queue on `store`: for SQLite the file `directory/name` (as `init(in:)`), for PostgreSQL a
    /// new empty database on the test server (`name` is not used). Either way the queue's tables
    /// do not exist yet: the first vqueue command creates them.
    static func make(in directory: URL, store: Store, named name: String = "queue.db",
                     selection: Selection = .option,
                     sourceLocation: SourceLocation = #_sourceLocation) async throws -> TestQueue {
        switch store {
        case .sqlite:
            return TestQueue(in: directory, named: name, selection: selection)
        case .postgres:
            let url = try await TestPostgres.createDatabase(sourceLocation: sourceLocation)
            return TestQueue(postgresURL: url, selection: selection)
        }
    }

    /// `vqueue COMMAND [--db LOCATION] ARGUMENTS...`, or the same with `VQUEUE_DB` set.
    func commandLine(_ command: String, _ arguments: [String]) -> [String] {
        selection == .option ? [command, "--db", location] + arguments : [command] + arguments
    }

    var environment: [String: String] {
        selection == .environment ? ["VQUEUE_DB": location] : [:]
    }

    /// Runs a queue command (submit, status, list, cancel, retry) to its end. Deliberately not
    /// through a process slot: these commands take milliseconds, and tests that time a reaction
    /// must not wait behind other tests' encoders.
    func run(_ command: String, _ arguments: [String] = [], in directory: URL? = nil,
             timeout: Duration = .seconds(60)) async throws -> ProcessResult {
        let process = try startVqueue(commandLine(command, arguments), in: directory, environment: environment)
        return await process.wait(timeout: timeout)
    }

    /// Starts `vqueue worker ARGUMENTS...` on this queue.
    func startWorker(_ arguments: [String] = [], in directory: URL? = nil) throws -> RunningProcess {
        try startVqueue(commandLine("worker", arguments), in: directory, environment: environment)
    }

    /// `vqueue submit IN OUT OPTIONS...`, expecting success: exit 0 and the job id alone on stdout.
    func submit(_ input: String, _ output: String, _ options: [String] = [], in directory: URL? = nil,
                sourceLocation: SourceLocation = #_sourceLocation) async throws -> Int64 {
        let result = try await run("submit", options + ["--", input, output], in: directory)
        try #require(result.exitCode == 0, "submit failed: \(result)", sourceLocation: sourceLocation)
        #expect(result.stderr.isEmpty, "submit wrote to stderr: \(result)", sourceLocation: sourceLocation)
        return try #require(Self.jobID(result), "submit must print the job id alone: \(result)",
                            sourceLocation: sourceLocation)
    }

    func submit(_ input: URL, _ output: URL, _ options: [String] = [],
                sourceLocation: SourceLocation = #_sourceLocation) async throws -> Int64 {
        try await submit(input.path, output.path, options, sourceLocation: sourceLocation)
    }

    /// The id on a successful submit's stdout: one line, digits only.
    static func jobID(_ result: ProcessResult) -> Int64? {
        guard result.stdoutText.hasSuffix("\n"), result.stdoutLines.count == 1 else { return nil }
        let line = result.stdoutLines[0]
        guard line.allSatisfy(\.isNumber) else { return nil }
        return Int64(line)
    }

    /// `vqueue status ID --json`, decoded, with the run itself (for its exit code).
    func status(_ id: Int64, sourceLocation: SourceLocation = #_sourceLocation) async throws -> (JobStatus, ProcessResult) {
        let result = try await run("status", [String(id), "--json"])
        try #require([0, 1, 2, 3].contains(result.exitCode), "status failed: \(result)", sourceLocation: sourceLocation)
        let status = try JobStatus.decode(result.stdout)
        return (status, result)
    }

    func job(_ id: Int64, sourceLocation: SourceLocation = #_sourceLocation) async throws -> JobStatus {
        try await status(id, sourceLocation: sourceLocation).0
    }

    /// `vqueue list [--state S] --json`, decoded.
    func list(state: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) async throws -> [JobStatus] {
        let result = try await run("list", (state.map { ["--state", $0] } ?? []) + ["--limit", "100000", "--json"])
        try #require(result.exitCode == 0, "list failed: \(result)", sourceLocation: sourceLocation)
        return try JSONDecoder.snakeCase.decode([JobStatus].self, from: result.stdout)
    }


    /// Answers of a read-only query, one row a line (columns separated by `|`, NULL as nothing),
    /// from the `sqlite3` program or from `psql`: the database as another tool sees it, not as
    /// vqueue reports it. Write SQL both accept (`CAST(x AS TEXT)`, not `x::text`).
    func query(_ sql: String, sourceLocation: SourceLocation = #_sourceLocation) async throws -> [String] {
        switch store {
        case .sqlite:
            let process = try RunningProcess(URL(fileURLWithPath: "/usr/bin/sqlite3"),
                                             ["-readonly", "-batch", database.path, sql])
            let result = await process.wait(timeout: .seconds(60))
            try #require(result.exitCode == 0, "sqlite3 failed (Debian package sqlite3): \(result)",
                         sourceLocation: sourceLocation)
            return result.stdoutLines
        case .postgres:
            // -A -t -F '|': unaligned rows, no header or footer, the same lines sqlite3 -batch prints.
            let result = try await TestPostgres.psql(location, ["-A", "-t", "-F", "|", "-c", sql], readOnly: true)
            try #require(result.exitCode == 0, "psql failed: \(result)", sourceLocation: sourceLocation)
            return result.stdoutLines
        }
    }

    /// The states a job went through, from the events table: ["queued", "running", ...].
    func stateHistory(_ id: Int64) async throws -> [String] {
        try await query("SELECT to_state FROM events WHERE job_id = \(id) ORDER BY id")
    }
}

/// The PostgreSQL server the tests use: `make test` starts a throw-away one
/// (Tests/Support/postgres-server.sh) and names it in VQUEUE_TEST_POSTGRES as a base URL,
/// `postgres://vqueue@127.0.0.1:PORT/`, whose user may create databases. Each PostgreSQL
/// `TestQueue` gets a database of its own there; they go when the server's folder does.
enum TestPostgres {
    static let variable = "VQUEUE_TEST_POSTGRES"

    /// The base URL; without one the test fails (a PostgreSQL case is never skipped quietly).
    static func baseURL(sourceLocation: SourceLocation = #_sourceLocation) throws -> URLComponents {
        let value = ProcessInfo.processInfo.environment[variable] ?? ""
        try #require(!value.isEmpty, """
            \(variable) is not set, so there is no PostgreSQL server to test against: run the tests with \
            `make test`, which starts a throw-away server and sets it (or start one with \
            `Tests/Support/postgres-server.sh start DIR PORT` and set \(variable) to the URL it prints)
            """, sourceLocation: sourceLocation)
        let components = URLComponents(string: value)
        try #require(components?.host?.isEmpty == false
                     && ["postgres", "postgresql"].contains(components?.scheme?.lowercased() ?? ""),
                     "\(variable) must be a URL like postgres://vqueue@127.0.0.1:5432/, not '\(value)'",
                     sourceLocation: sourceLocation)
        return components!
    }

    /// The base URL with `database` as its path (any query, such as sslmode, kept).
    static func url(_ base: URLComponents, database: String) -> String {
        var components = base
        components.path = "/" + database
        return components.string!
    }

    /// Creates `vq_<16 hex digits>` and returns its URL.
    static func createDatabase(sourceLocation: SourceLocation = #_sourceLocation) async throws -> String {
        let base = try baseURL(sourceLocation: sourceLocation)
        let name = "vq_" + UUID().uuidString.lowercased().filter(\.isHexDigit).prefix(16)
        let result = try await psql(url(base, database: "postgres"), ["-q", "-c", "CREATE DATABASE \(name)"])
        try #require(result.exitCode == 0, """
            could not create database \(name) on \(variable)=\(base.string ?? "?") \
            (is the server `make test` started still running?): \(result)
            """, sourceLocation: sourceLocation)
        return url(base, database: name)
    }

    /// psql: the newest installed version's own program, else Debian's /usr/bin/psql (a Perl
    /// wrapper that picks one, and costs a Perl start-up on every query).
    static let program: URL = {
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? [])
            .sorted { $0.compare($1, options: .numeric) == .orderedDescending }
        let candidates = versions.map { "/usr/lib/postgresql/\($0)/bin/psql" } + ["/usr/bin/psql"]
        let found = candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? "/usr/bin/psql"
        return URL(fileURLWithPath: found)
    }()

    /// `psql -X -v ON_ERROR_STOP=1 --dbname=URL ARGUMENTS...`, run to its end; `readOnly` makes the
    /// session's transactions read-only (as sqlite3 -readonly).
    static func psql(_ url: String, _ arguments: [String], readOnly: Bool = false) async throws -> ProcessResult {
        var environment = ["PGCONNECT_TIMEOUT": "10"]
        if readOnly { environment["PGOPTIONS"] = "-c default_transaction_read_only=on" }
        let process = try RunningProcess(program, ["-X", "-v", "ON_ERROR_STOP=1", "--dbname=\(url)"] + arguments,
                                         environment: environment)
        return await process.wait(timeout: .seconds(60))
    }
}

/// A job as `status --json` and `list --json` show it (the fields the README documents).
struct JobStatus: Decodable, Sendable {
    let id: Int64
    let state: String
    let progress: Double
    let input: String?
    let output: String?
    let attempts: Int
    let maxAttempts: Int
    let error: String?
    let errorCode: String?
    let key: String?
    let submittedAt: String
    let startedAt: String?
    let finishedAt: String?
    let worker: String?
    let retrying: Bool
    let retryAt: String?

    static func decode(_ json: Data) throws -> JobStatus {
        try JSONDecoder.snakeCase.decode(JobStatus.self, from: json)
    }

    /// The pid in the worker id (`host:pid:suffix`).
    var workerPID: pid_t? {
        worker.flatMap { id in
            let parts = id.split(separator: ":")
            return parts.count >= 3 ? pid_t(parts[parts.count - 2]) : nil
        }
    }
}

extension JSONDecoder {
    static var snakeCase: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }
}

/// Times in vqueue's JSON: ISO 8601, UTC, with milliseconds (`2026-01-02T03:04:05.678Z`).
enum QueueTime {
    static func isWellFormed(_ text: String) -> Bool {
        text.wholeMatch(of: /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z/) != nil
    }

    static func parse(_ text: String?) -> Date? {
        guard let text, isWellFormed(text) else { return nil }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: text)
    }
}

/// The file attempt ATTEMPT (its number, which never repeats) of job JOB writes before the rename
/// into OUT, if it exists now: `.OUTNAME.jobJOB-ATTEMPT.<16 random hex>.part` beside OUT.
func temporaryOutput(for output: URL, job: Int64, attempt: Int) -> URL? {
    temporaryOutputs(for: output, job: job, attempt: attempt).first
}

/// Every temporary name of attempt `attempt` of job `job` for `output`: its temporary file (or
/// folder), and the temporary folder of its companions (poster, storyboard) when it has some.
func temporaryOutputs(for output: URL, job: Int64, attempt: Int) -> [URL] {
    let prefix = ".\(output.lastPathComponent).job\(job)-\(attempt)."
    let folder = output.deletingLastPathComponent()
    return directoryListing(folder).filter { $0.hasPrefix(prefix) && $0.hasSuffix(".part") }
        .map { folder.appendingPathComponent($0) }
}

/// Names in `directory` that look like a temporary output (`.NAME.TAG.part`).
func temporaryFiles(in directory: URL) -> [String] {
    directoryListing(directory).filter { $0.hasPrefix(".") && $0.hasSuffix(".part") }
}

/// Polls `condition` (paced by `PollPacing`) until it holds or `timeout` passes; returns its last value.
func eventually(within timeout: Duration, _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    let pacing = PollPacing()
    while true {
        if try await condition() { return true }
        if ContinuousClock.now >= deadline { return false }
        try? await pacing.pause()
    }
}

/// Sends SIGTERM to a worker and waits for it to end.
func stopWorker(_ worker: RunningProcess, timeout: Duration = .seconds(60)) async -> ProcessResult {
    worker.send(signal: SIGTERM)
    return await worker.wait(timeout: timeout)
}

/// How a queue command refuses a job id: exit `exitCode`, nothing on stdout, one
/// `vqueue: error: job N: ...` line.
func expectJobRefusal(_ result: ProcessResult, job id: Int64, exitCode: Int32,
                      sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(result.exitCode == exitCode, "\(result)", sourceLocation: sourceLocation)
    #expect(result.stdout.isEmpty, "stdout must stay empty on failure: \(result)", sourceLocation: sourceLocation)
    #expect(result.stderrLines.count == 1 && result.stderrLines.first?.hasPrefix("vqueue: error: job \(id)") == true,
            "one line naming job \(id): \(result)", sourceLocation: sourceLocation)
}

/// Whatever reads a job's status (`vqueue status ID --json` on some queue).
protocol JobStatusSource {
    func job(_ id: Int64, sourceLocation: SourceLocation) async throws -> JobStatus
}

extension JobStatusSource {
    /// Polls the job until `condition` holds; returns its last status, whether or not it came true.
    @discardableResult
    func waitForJob(_ id: Int64, timeout: Duration, until condition: (JobStatus) -> Bool) async throws -> JobStatus {
        let deadline = ContinuousClock.now + timeout
        let pacing = PollPacing(first: .milliseconds(50))
        while true {
            let job = try await job(id, sourceLocation: #_sourceLocation)
            if condition(job) || ContinuousClock.now >= deadline { return job }
            try await pacing.pause()
        }
    }
}

extension TestQueue: JobStatusSource {}
