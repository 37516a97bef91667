import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A child run to completion with its own resource usage, which Foundation's `Process` does not expose.
struct MeasuredRun: Sendable {
    let termination: Termination
    let stdout: String
    let stderr: String
    /// Peak resident set size of the child, from `wait4`'s rusage (Linux reports KiB).
    let peakResidentBytes: Int
    let elapsed: Duration
}

struct SpawnError: Error, CustomStringConvertible {
    let code: Int32
    var description: String { "posix_spawn failed: \(String(cString: strerror(code)))" }
}

/// Spawns `executable` directly (no shell), stdout and stderr to files in `scratch`, and waits for it
/// with `wait4`, so the peak memory reported is this child's alone, whatever else the tests run.
func runMeasuringPeakMemory(_ executable: URL, _ arguments: [String], scratch: URL) async throws -> MeasuredRun {
    try await withProcessSlot {
        let stdoutPath = scratch.appendingPathComponent("measured.stdout").path
        let stderrPath = scratch.appendingPathComponent("measured.stderr").path

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdoutPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)

        let argv: [UnsafeMutablePointer<CChar>?] = ([executable.path] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let envp: [UnsafeMutablePointer<CChar>?] = ProcessInfo.processInfo.environment
            .map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { envp.forEach { free($0) } }

        let started = ContinuousClock.now
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, executable.path, &actions, nil, argv, envp)
        guard spawned == 0 else { throw SpawnError(code: spawned) }

        let childPid = pid
        let (status, usage) = await withCheckedContinuation { (continuation: CheckedContinuation<(Int32, rusage), Never>) in
            Thread {
                var status: Int32 = 0
                var usage = rusage()
                while wait4(childPid, &status, 0, &usage) < 0 && errno == EINTR {}
                continuation.resume(returning: (status, usage))
            }.start()
        }
        let elapsed = ContinuousClock.now - started
        let termination: Termination = (status & 0x7f) == 0
            ? .exited((status >> 8) & 0xff) : .signaled(status & 0x7f)
        return MeasuredRun(termination: termination,
                           stdout: (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "",
                           stderr: (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "",
                           peakResidentBytes: Int(usage.ru_maxrss) * 1024,
                           elapsed: elapsed)
    }
}
