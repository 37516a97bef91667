import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Starts many processes so that they begin their real work at the same instant, as several
/// upload handlers hit by one burst would: each is started under `flock --shared LOCK`, which
/// waits while this test holds LOCK exclusively; once all are waiting, the test lets go and
/// every one of them runs at once.
struct SimultaneousStart {
    static let flockProgram = URL(fileURLWithPath: "/usr/bin/flock")

    /// Runs `commands` (each `[executable, arguments...]`) together and returns each one's result,
    /// in the order given. `lockFile` is made if missing.
    static func run(_ commands: [[String]], lockFile: URL, environment: [String: String] = [:],
                    sourceLocation: SourceLocation = #_sourceLocation) async throws -> [ProcessResult] {
        try #require(FileManager.default.isExecutableFile(atPath: flockProgram.path),
                     "flock(1) is missing (Debian package util-linux)", sourceLocation: sourceLocation)
        let fd = open(lockFile.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        try #require(fd >= 0, "cannot open \(lockFile.path)", sourceLocation: sourceLocation)
        defer { close(fd) }
        try #require(flock(fd, LOCK_EX) == 0, "cannot lock \(lockFile.path)", sourceLocation: sourceLocation)
        var locked = true
        defer { if locked { flock(fd, LOCK_UN) } }

        let processes = try commands.map { command in
            try RunningProcess(flockProgram, ["--shared", lockFile.path] + command, environment: environment)
        }
        // Every flock must be waiting for the lock (none may have run ahead or failed).
        let waiting = await eventually(within: .seconds(20)) {
            processes.allSatisfy { process in
                (try? String(contentsOfFile: "/proc/\(process.pid)/wchan", encoding: .utf8))
                    .map { $0.contains("flock") || $0.contains("locks") } ?? false
            }
        }
        #expect(waiting, "not every process was waiting for the start (\(processes.map { ($0.pid, $0.isRunning) }))",
                sourceLocation: sourceLocation)
        flock(fd, LOCK_UN)
        locked = false
        var results: [ProcessResult] = []
        for process in processes { results.append(await process.wait(timeout: .seconds(120))) }
        return results
    }
}
