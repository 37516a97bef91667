import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A command run to its end that may leave a daemon behind (`pg_ctl start`), with its stdout and
/// stderr together. Not through Foundation's `Process`: on Linux its children inherit one end of
/// a socket whose closing tells `Process` the child has ended, so a daemon started through it
/// would keep `Process` waiting for as long as the daemon lives. Here the child gets /dev/null,
/// an output file, and no other descriptor.
struct DaemonCommand: Sendable {
    let arguments: [String]
    var directory: String?

    struct Outcome: Sendable, CustomStringConvertible {
        /// The exit code, or 128 + the signal that ended it.
        let status: Int32
        let output: String
        let timedOut: Bool

        var description: String { "exit \(status)\(timedOut ? " (timed out)" : ""): \(output)" }
    }

    init(_ arguments: [String], in directory: String? = nil) {
        self.arguments = arguments
        self.directory = directory
    }

    /// Runs the command; killed (SIGKILL) after `timeout`.
    func run(timeout: Duration = .seconds(90)) async throws -> Outcome {
        let started = ContinuousClock.now
        let outputFile = FileManager.default.temporaryDirectory.appendingPathComponent("vqueue-cmd-\(UUID().uuidString).out").path
        defer { unlink(outputFile) }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputFile, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        // glibc's posix_spawn_file_actions_addclosefrom_np (2.34+), which Swift does not import.
        typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, Int32) -> Int32
        guard let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") else {
            throw CommandError("posix_spawn_file_actions_addclosefrom_np is missing (glibc 2.34 or later needed)")
        }
        _ = unsafeBitCast(symbol, to: AddCloseFrom.self)(&actions, 3)

        // The server programs complain about a current directory they cannot enter: env -C.
        let line = (directory.map { ["/usr/bin/env", "-C", $0] } ?? []) + arguments
        let argv = line.map { strdup($0) } + [nil]
        let envp = ProcessInfo.processInfo.environment.map { strdup("\($0)=\($1)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, line[0], &actions, nil, argv, envp)
        guard spawned == 0 else { throw CommandError("cannot run \(line[0]): \(String(cString: strerror(spawned)))") }

        var status: Int32 = 0
        var timedOut = false
        while true {
            let waited = waitpid(pid, &status, WNOHANG)
            if waited == pid || (waited == -1 && errno != EINTR) { break }
            if !timedOut && ContinuousClock.now - started > timeout {
                timedOut = true
                kill(pid, SIGKILL)
            }
            try? await Task.sleep(for: .milliseconds(10))
        }
        // The wait status macros are C macros Swift does not import: signal in bits 0-6, code in 8-15.
        let signal = status & 0x7f
        let output = (try? String(contentsOfFile: outputFile, encoding: .utf8)) ?? ""
        return Outcome(status: signal == 0 ? (status >> 8) & 0xff : 128 + signal, output: output, timedOut: timedOut)
    }

    struct CommandError: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }
}
