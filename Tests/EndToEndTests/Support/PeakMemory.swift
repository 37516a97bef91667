import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A child run to completion with its own resource usage, which Foundation's `Process` does not expose.
struct MeasuredRun: Sendable {
    let termination: Termination
    let stdout: String
    let stderr: String
    /// Peak resident set size of the child, from `wait4`'s rusage (Linux reports KiB), measured by a
    /// small supervisor (see `measuringSupervisor`).
    let peakResidentBytes: Int
    /// User and system CPU time of the child: unlike `elapsed`, hardly longer on a loaded machine.
    let cpuTime: Duration
    let elapsed: Duration

    /// As `runProcess` would have reported it.
    func result(command: [String]) -> ProcessResult {
        ProcessResult(command: command, termination: termination, stdout: Data(stdout.utf8), stderr: Data(stderr.utf8),
                      elapsed: elapsed, timedOut: false)
    }
}

struct SpawnError: Error, CustomStringConvertible {
    let code: Int32
    var description: String { "posix_spawn failed: \(String(cString: strerror(code)))" }
}

/// The small supervisor that measures: it forks, execs the program in the child, waits for it with
/// `wait4` (killing it after the time limit) and writes "STATUS MAXRSS_KIB CPU_MICROSECONDS" to the
/// report file. Linux counts in a child's ru_maxrss the pages it shared with its parent until exec
/// (with posix_spawn's vfork, the parent's whole peak): measured from this test runner, hundreds of
/// MB, the child would look as big as the runner.
private let measuringSupervisor = """
    import os, signal, sys
    report, limit, program = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    pid = os.fork()
    if pid == 0:
        try:
            os.execv(program[0], program)
        finally:
            os._exit(127)
    signal.signal(signal.SIGALRM, lambda *_: os.kill(pid, signal.SIGKILL))
    signal.alarm(limit)
    _, status, usage = os.wait4(pid, 0)
    with open(report, "w") as f:
        f.write(f"{status} {usage.ru_maxrss} {round((usage.ru_utime + usage.ru_stime) * 1e6)}")
    """

/// Runs `executable` (no shell) under a small measuring supervisor, stdout and stderr to files in
/// `scratch`, so that the peak memory reported is this child's alone, whatever else the tests run.
func runMeasuringPeakMemory(_ executable: URL, _ arguments: [String], scratch: URL,
                            timeLimit: Duration = .seconds(180)) async throws -> MeasuredRun {
    try await withProcessSlot {
        let stdoutPath = scratch.appendingPathComponent("measured.stdout").path
        let stderrPath = scratch.appendingPathComponent("measured.stderr").path
        let reportPath = scratch.appendingPathComponent("measured.report").path

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdoutPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)

        let python = "/usr/bin/python3"
        let argv: [UnsafeMutablePointer<CChar>?] = ([python, "-c", measuringSupervisor, reportPath,
                                                      String(max(1, timeLimit.components.seconds)), executable.path]
                                                     + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let envp: [UnsafeMutablePointer<CChar>?] = ProcessInfo.processInfo.environment
            .map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { envp.forEach { free($0) } }

        let started = ContinuousClock.now
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, python, &actions, nil, argv, envp)
        guard spawned == 0 else { throw SpawnError(code: spawned) }

        let supervisorPid = pid
        let supervisorStatus = await withCheckedContinuation { (continuation: CheckedContinuation<Int32, Never>) in
            Thread {
                var status: Int32 = 0
                while waitpid(supervisorPid, &status, 0) < 0 && errno == EINTR {}
                continuation.resume(returning: status)
            }.start()
        }
        let elapsed = ContinuousClock.now - started
        let stderr = (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? ""
        let report = ((try? String(contentsOfFile: reportPath, encoding: .utf8)) ?? "").split(separator: " ").compactMap { Int64($0) }
        guard supervisorStatus == 0, report.count == 3 else {
            throw MeasuringFailed(description: "the measuring supervisor failed (status \(supervisorStatus)): \(stderr)")
        }
        let status = Int32(truncatingIfNeeded: report[0])
        let termination: Termination = (status & 0x7f) == 0
            ? .exited((status >> 8) & 0xff) : .signaled(status & 0x7f)
        return MeasuredRun(termination: termination,
                           stdout: (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "",
                           stderr: stderr,
                           peakResidentBytes: Int(report[1]) * 1024,
                           cpuTime: .microseconds(report[2]),
                           elapsed: elapsed)
    }
}

struct MeasuringFailed: Error, CustomStringConvertible {
    let description: String
}
