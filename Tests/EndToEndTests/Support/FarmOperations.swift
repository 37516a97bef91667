import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

// What the operating-the-farm tests (Operations*.swift) share: the JSON that `status --batch`,
// `events` and `workers` print, decoded as a script would decode it, and ways to get a job caught
// running, to run a batch submit, and to drive `vqueue top` in a real terminal (tmux).

/// A batch as `submit --json` and `status --batch --json` show it (the fields the README documents).
struct FarmBatch: Decodable, Sendable {
    struct Failure: Decodable, Sendable {
        let id: Int64
        let input: String?
        let output: String?
        let error: String?
    }

    let id: Int64
    let jobs: Int
    let jobIds: [Int64]
    let counts: [String: Int]
    let progress: Double
    let eta: Double?
    let finished: Bool
    let failed: [Failure]

    func count(_ state: String) -> Int { counts[state] ?? 0 }
}

/// One line of `events --json`.
struct FarmEvent: Decodable, Sendable, Equatable {
    let id: Int64
    let kind: String
    let at: String
    let job: Int64?
    let from: String?
    let to: String
    let worker: String?
    let detail: String?
    /// For a failure or a retry: the stable code of its error.
    let errorCode: String?

    /// Every line of `events --json` output, decoded; a line that is not an event fails the test.
    static func decodeLines(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> [FarmEvent] {
        try text.split(separator: "\n").map { line in
            do {
                return try JSONDecoder.snakeCase.decode(FarmEvent.self, from: Data(line.utf8))
            } catch {
                Issue.record("not an event: \(line) (\(error))", sourceLocation: sourceLocation)
                throw error
            }
        }
    }
}

/// One element of `workers --json`.
struct FarmWorker: Decodable, Sendable {
    let id: String
    let state: String
    /// Why an `unhealthy` worker takes no jobs (null in every other state).
    let reason: String?
    let host: String
    let pid: Int
    let concurrency: Int
    let queues: [String]
    let running: Int
    let startedAt: String
    let heartbeatAt: String
    let heartbeatAge: Double
    let jobsDone: Int
    let jobsFailed: Int
}

extension TestQueue {
    /// `vqueue submit --out-dir DIR --format F [OPTIONS] INPUTS...`, run to its end.
    func submitBatch(_ inputs: [URL], into outDir: URL, format: String = "mp4",
                     _ options: [String] = []) async throws -> ProcessResult {
        try await run("submit", ["--out-dir", outDir.path, "--format", format] + options + ["--"] + inputs.map(\.path))
    }

    /// A batch submit expected to succeed: exit 0, nothing on stderr, the batch id then one job id
    /// per line on stdout.
    func submitBatchExpectingIDs(_ inputs: [URL], into outDir: URL, format: String = "mp4",
                                 sourceLocation: SourceLocation = #_sourceLocation) async throws -> (batch: Int64, jobs: [Int64]) {
        let result = try await submitBatch(inputs, into: outDir, format: format)
        try #require(result.exitCode == 0, "batch submit failed: \(result)", sourceLocation: sourceLocation)
        #expect(result.stderr.isEmpty, "batch submit wrote to stderr: \(result)", sourceLocation: sourceLocation)
        let ids = result.stdoutLines.map { Int64($0) }
        try #require(ids.count == inputs.count + 1 && ids.allSatisfy { $0 != nil },
                     "expected the batch id, then one job id per line: \(result)", sourceLocation: sourceLocation)
        return (ids[0]!, ids.dropFirst().map { $0! })
    }

    /// `vqueue worker stop [--db PATH] ARGUMENTS...`: the options go after `stop`, since before it
    /// they would be taken for the default subcommand's (`worker run`).
    func stopWorkers(_ arguments: [String]) async throws -> ProcessResult {
        let process = try startVqueue(["worker"] + commandLine("stop", arguments), environment: environment)
        return await process.wait(timeout: .seconds(60))
    }

    /// `vqueue status --batch ID --json` with its exit code; nil object when stdout is not a batch.
    func batchStatus(_ id: Int64, _ extra: [String] = []) async throws -> (FarmBatch?, ProcessResult) {
        let result = try await run("status", ["--batch", String(id), "--json"] + extra)
        return (try? JSONDecoder.snakeCase.decode(FarmBatch.self, from: result.stdout), result)
    }

    /// `vqueue events --json [ARGUMENTS...]`, decoded.
    func events(_ arguments: [String] = [], sourceLocation: SourceLocation = #_sourceLocation) async throws -> [FarmEvent] {
        let result = try await run("events", ["--json"] + arguments)
        try #require(result.exitCode == 0, "events failed: \(result)", sourceLocation: sourceLocation)
        return try FarmEvent.decodeLines(result.stdoutText, sourceLocation: sourceLocation)
    }

    /// `vqueue workers --json`, decoded.
    func workers(sourceLocation: SourceLocation = #_sourceLocation) async throws -> [FarmWorker] {
        let result = try await run("workers", ["--json"])
        try #require(result.exitCode == 0, "workers failed: \(result)", sourceLocation: sourceLocation)
        return try JSONDecoder.snakeCase.decode([FarmWorker].self, from: result.stdout)
    }

    /// The worker of this pid as `workers --json` shows it, once it shows up.
    func worker(pid: pid_t, timeout: Duration = .seconds(20),
                sourceLocation: SourceLocation = #_sourceLocation) async throws -> FarmWorker {
        var found: FarmWorker?
        _ = try await eventually(within: timeout) {
            found = try await workers().first { $0.pid == Int(pid) }
            return found != nil
        }
        return try #require(found, "worker pid \(pid) never appeared in `vqueue workers`", sourceLocation: sourceLocation)
    }

    /// Waits until job `id` is running with some progress made (so it is really transcoding, not
    /// just claimed), and returns it.
    func jobCaughtRunning(_ id: Int64, timeout: Duration = .seconds(60),
                          sourceLocation: SourceLocation = #_sourceLocation) async throws -> JobStatus {
        let job = try await waitForJob(id, timeout: timeout) {
            ($0.state == "running" && $0.progress > 0) || ["succeeded", "failed", "cancelled"].contains($0.state)
        }
        try #require(job.state == "running", "job \(id) was never caught running: \(job)", sourceLocation: sourceLocation)
        return job
    }
}

/// A job long enough to be caught running for many seconds on one core: a 640x360 clip transcoded
/// with a slow x264 preset on one thread. `seconds` 12 takes about 7 s on an idle core here.
enum LongJob {
    static let options = ["--x264-preset", "slower", "--threads", "1"]

    static func sample(in directory: URL, seconds: Int = 20, named name: String = "long.mp4") async throws -> URL {
        try await makeLongSample(in: directory, named: name, seconds: seconds)
    }
}

/// `vqueue top` in a real terminal: a tmux server of the test's own (its own socket, no user
/// configuration), one session whose pane runs the command, kept after it ends so its exit status
/// and terminal state can be read. Everything the program writes to the terminal is also copied
/// to `rawOutput`, to see the escape sequences themselves.
struct TmuxSession: Sendable {
    static let program: URL? = ["/usr/bin/tmux", "/usr/local/bin/tmux", "/bin/tmux"]
        .map(URL.init(fileURLWithPath:))
        .first { FileManager.default.isExecutableFile(atPath: $0.path) }
    static var isAvailable: Bool { program != nil }
    static let unavailable: Comment = "tmux is not installed: `apt-get install tmux` (make deps installs it)"

    let socket: String
    let rawOutput: URL
    let target = "top"

    /// Starts `command` (exec'd directly, no shell) in a detached width x height pane.
    static func start(_ command: [String], in directory: URL, width: Int = 100, height: Int = 30,
                      sourceLocation: SourceLocation = #_sourceLocation) async throws -> TmuxSession {
        let session = TmuxSession(socket: "vqueue-e2e-\(UUID().uuidString.prefix(8))",
                                  rawOutput: directory.appendingPathComponent("terminal.raw"))
        // pipe-pane runs its argument through /bin/sh; the path is ours (a UUID folder), quoted anyway.
        let status = session.runWithoutPipes(["-f", "/dev/null", "new-session", "-d", "-s", session.target,
                                              "-x", String(width), "-y", String(height), "--"] + command
                                             + [";", "set-option", "-t", session.target, "remain-on-exit", "on",
                                                ";", "pipe-pane", "-t", session.target, "-o",
                                                "cat >> '\(session.rawOutput.path)'"])
        try #require(status == 0, "tmux could not start a session running \(command) (exit \(String(describing: status)))",
                     sourceLocation: sourceLocation)
        return session
    }

    /// Runs tmux with stdin, stdout and stderr on /dev/null and every other descriptor closed, and
    /// waits for it. The command that starts the server must run this way: the server it forks
    /// keeps what it inherited for as long as it lives, and Foundation's `Process` notices a child's
    /// end only when the descriptors it gave that child are all closed, so it would wait for ever.
    @discardableResult
    func runWithoutPipes(_ arguments: [String]) -> Int32? {
        guard let program = Self.program else { return nil }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for descriptor in [STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO] {
            posix_spawn_file_actions_addopen(&actions, descriptor, "/dev/null", descriptor == STDIN_FILENO ? O_RDONLY : O_WRONLY, 0)
        }
        // glibc 2.34+ has it; Swift's Glibc module does not import it, so it is looked up by name.
        typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np")
        else { return nil }
        _ = unsafeBitCast(symbol, to: CloseFrom.self)(&actions, 3)
        let argv = ([program.path, "-L", socket] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let environment = ProcessInfo.processInfo.environment.merging(["TERM": "xterm-256color"]) { $1 }
            .map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { environment.forEach { free($0) } }
        // A clean signal state: the test runner's threads block most signals, and a tmux server
        // that inherited that mask would never see its panes end.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        sigemptyset(&none)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var pid: pid_t = 0
        guard posix_spawn(&pid, program.path, &actions, &attributes, argv, environment) == 0 else { return nil }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        // WIFEXITED / WEXITSTATUS, which Swift cannot import (they are macros).
        return status & 0x7f == 0 ? (status >> 8) & 0xff : nil
    }

    @discardableResult
    func tmux(_ arguments: [String]) async throws -> ProcessResult {
        let process = try RunningProcess(Self.program!, ["-L", socket] + arguments,
                                         environment: ["TERM": "xterm-256color"])
        return await process.wait(timeout: .seconds(20))
    }

    /// What the pane shows now, as text.
    func screen() async throws -> String {
        try await tmux(["capture-pane", "-p", "-t", target]).stdoutText
    }

    /// A tmux format (`#{alternate_on}`, `#{pane_dead_status}` ...) for the pane.
    func format(_ format: String) async throws -> String {
        try await tmux(["display-message", "-p", "-t", target, format]).stdoutText
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func sendKeys(_ keys: String...) async throws {
        try await tmux(["send-keys", "-t", target] + keys)
    }

    /// What the program wrote to the terminal, raw.
    var raw: Data { (try? Data(contentsOf: rawOutput)) ?? Data() }

    /// Ends the tmux server and whatever still runs in it; synchronous, so it can run in a `defer`.
    func kill() {
        runWithoutPipes(["kill-server"])
    }
}

extension Data {
    /// Whether these bytes contain `text`'s UTF-8 bytes.
    func containsText(_ text: String) -> Bool {
        range(of: Data(text.utf8)) != nil
    }
}
