import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A long-running child (a worker) whose stderr goes to a file, so a test can read what it has
/// logged so far while it runs: wait for "cannot reach the queue database", then act. (A
/// `RunningProcess` hands its stderr over only once the child has ended.) stdin is /dev/null and
/// stdout a file of its own; arguments go straight to exec, never through a shell.
final class LoggedProcess: @unchecked Sendable {
    let command: [String]
    let logFile: URL
    let stdoutFile: URL
    private let process = Process()
    private let lock = NSLock()
    private var exited = false

    var pid: pid_t { process.processIdentifier }

    /// Starts `executable arguments...`; stderr goes to `logFile`, stdout to `logFile` + ".stdout".
    /// `environment` is added to (and overrides) the test's own.
    init(_ executable: URL, _ arguments: [String], logFile: URL, environment: [String: String] = [:]) throws {
        command = [executable.path] + arguments
        self.logFile = logFile
        stdoutFile = logFile.appendingPathExtension("stdout")
        for file in [logFile, stdoutFile] {
            guard FileManager.default.createFile(atPath: file.path, contents: nil) else {
                throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: file.path])
            }
        }
        process.executableURL = executable
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: stdoutFile)
        process.standardError = try FileHandle(forWritingTo: logFile)
        process.terminationHandler = { [weak self] _ in self?.markExited() }
        try process.run()
    }

    var isRunning: Bool { lock.withLock { !exited } }

    /// What the child has written to stderr so far.
    var log: String { (try? String(contentsOf: logFile, encoding: .utf8)) ?? "" }
    var logLines: [String] { log.split(whereSeparator: \.isNewline).map(String.init) }
    var stdout: String { (try? String(contentsOf: stdoutFile, encoding: .utf8)) ?? "" }

    /// The first line of the log that `matches`, once there is one (nil after `timeout`).
    func line(within timeout: Duration, where matches: (String) -> Bool) async -> String? {
        var found: String?
        _ = await eventually(within: timeout) {
            found = logLines.first(where: matches)
            return found != nil
        }
        return found
    }

    func send(signal: Int32) {
        lock.withLock {
            if !exited { _ = kill(process.processIdentifier, signal) }
        }
    }

    /// Waits for the child to end (SIGKILL after `timeout`) and says how it ended.
    @discardableResult
    func wait(timeout: Duration = .seconds(60)) async -> Termination {
        if !(await eventually(within: timeout) { !isRunning }) {
            send(signal: SIGKILL)
            _ = await eventually(within: .seconds(10)) { !isRunning }
        }
        guard !isRunning else { return .signaled(SIGKILL) }
        return process.terminationReason == .exit
            ? .exited(process.terminationStatus) : .signaled(process.terminationStatus)
    }

    /// SIGTERM, then waits: a worker finishes its running jobs and exits 0.
    func stop(timeout: Duration = .seconds(60)) async -> Termination {
        send(signal: SIGTERM)
        return await wait(timeout: timeout)
    }

    /// Ends the child at once with SIGKILL, if it still runs (clean-up after a test, whatever happened).
    func end() async {
        send(signal: SIGKILL)
        _ = await eventually(within: .seconds(10)) { !isRunning }
    }

    private func markExited() {
        lock.withLock { exited = true }
    }
}

/// The time at the start of a log line (`2026-01-02T03:04:05.678Z job 7 running ...`), as the
/// writing process's clock had it.
func logLineTime(_ line: String) -> Date? {
    QueueTime.parse(line.split(separator: " ", maxSplits: 1).first.map(String.init))
}
