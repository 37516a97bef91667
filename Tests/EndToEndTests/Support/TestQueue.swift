import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A queue database of one test's own (a real SQLite file in its temporary folder) and the vqueue
/// commands that use it, run as a script would run them.
struct TestQueue: Sendable {
    /// How the commands are told which database to use.
    enum Selection: Sendable {
        /// `--db PATH` on every command line.
        case option
        /// `VQUEUE_DB=PATH` in every command's environment.
        case environment
    }

    let database: URL
    let selection: Selection

    init(in directory: URL, named name: String = "queue.db", selection: Selection = .option) {
        database = directory.appendingPathComponent(name)
        self.selection = selection
    }

    /// `vqueue COMMAND [--db PATH] ARGUMENTS...`, or the same with `VQUEUE_DB` set.
    func commandLine(_ command: String, _ arguments: [String]) -> [String] {
        selection == .option ? [command, "--db", database.path] + arguments : [command] + arguments
    }

    var environment: [String: String] {
        selection == .environment ? ["VQUEUE_DB": database.path] : [:]
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

    /// Polls the job until `condition` holds; returns its last status, whether or not it came true.
    @discardableResult
    func waitForJob(_ id: Int64, timeout: Duration, until condition: (JobStatus) -> Bool) async throws -> JobStatus {
        let deadline = ContinuousClock.now + timeout
        while true {
            let job = try await job(id)
            if condition(job) || ContinuousClock.now >= deadline { return job }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Answers of a read-only query, one row a line (columns separated by `|`), from the `sqlite3`
    /// program: the database as another tool sees it, not as vqueue reports it.
    func query(_ sql: String, sourceLocation: SourceLocation = #_sourceLocation) async throws -> [String] {
        let process = try RunningProcess(URL(fileURLWithPath: "/usr/bin/sqlite3"),
                                         ["-readonly", "-batch", database.path, sql])
        let result = await process.wait(timeout: .seconds(60))
        try #require(result.exitCode == 0, "sqlite3 failed (Debian package sqlite3): \(result)",
                     sourceLocation: sourceLocation)
        return result.stdoutLines
    }

    /// The states a job went through, from the events table: ["queued", "running", ...].
    func stateHistory(_ id: Int64) async throws -> [String] {
        try await query("SELECT to_state FROM events WHERE job_id = \(id) ORDER BY id")
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

/// Where a worker's child writes attempt ATTEMPT of job JOB before the rename into OUT:
/// `.OUTNAME.jobJOB-ATTEMPT.part` beside OUT.
func temporaryOutput(for output: URL, job: Int64, attempt: Int) -> URL {
    output.deletingLastPathComponent().appendingPathComponent(".\(output.lastPathComponent).job\(job)-\(attempt).part")
}

/// Names in `directory` that look like a temporary output (`.NAME.TAG.part`).
func temporaryFiles(in directory: URL) -> [String] {
    directoryListing(directory).filter { $0.hasPrefix(".") && $0.hasSuffix(".part") }
}

/// Polls `condition` every 20 ms until it holds or `timeout` passes; returns its last value.
func eventually(within timeout: Duration, _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while true {
        if try await condition() { return true }
        if ContinuousClock.now >= deadline { return false }
        try? await Task.sleep(for: .milliseconds(20))
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
