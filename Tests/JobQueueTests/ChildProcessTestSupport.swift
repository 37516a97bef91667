import Foundation
import Synchronization
@testable import JobQueue

/// Children scripted for the tests. A shell is fine here, in tests only: the
/// product never runs one.
enum TestChild {
    static let python = "/usr/bin/python3"

    static func shell(_ script: String, _ arguments: [String] = []) -> ChildProcess {
        ChildProcess(executable: "/bin/sh", arguments: ["-c", script, "sh"] + arguments)
    }

    static func python(_ program: String, _ arguments: [String] = []) -> ChildProcess {
        ChildProcess(executable: python, arguments: ["-c", program] + arguments)
    }

    /// `child-bench`, built beside the test bundle (its `hold` mode is an
    /// intermediate process that starts a child through ChildProcess).
    static let bench: String = {
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: executable).deletingLastPathComponent().appendingPathComponent("child-bench").path
    }()
}

/// The stdout lines a child printed, as they arrived.
final class LineRecorder: Sendable {
    private let lines = Mutex<[String]>([])

    var all: [String] { lines.withLock { $0 } }

    func append(_ line: String) { lines.withLock { $0.append(line) } }

    /// The first line `matching`, waiting for it up to `timeout`.
    func first(where matching: (String) -> Bool, timeout: Duration = .seconds(20)) async -> String? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let line = all.first(where: matching) { return line }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return nil
    }
}

/// Facts about this process and others, from /proc.
enum ProcessProbe {
    /// This process's open descriptors of the kinds ChildProcess opens
    /// (pipes, pidfds, /dev/null, its epoll and eventfd), so that database
    /// files and sockets other suites keep open meanwhile do not count.
    static func childDescriptorCount() -> Int {
        openDescriptors().filter { descriptor in
            descriptor.target.hasPrefix("pipe:") || descriptor.target.hasPrefix("anon_inode:")
                || descriptor.target == "/dev/null"
        }.count
    }

    static func openDescriptors() -> [(fd: Int32, target: String)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        return names.compactMap { name in
            guard let fd = Int32(name),
                  let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(name)")
            else { return nil }
            return (fd, target)
        }
    }

    /// Resident memory, from /proc/self/statm.
    static func residentBytes() -> Int {
        guard let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let pages = statm.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// The process no longer runs: no such pid, or a zombie nobody reaped yet.
    static func isGone(_ pid: pid_t) -> Bool {
        if kill(pid, 0) != 0 { return errno == ESRCH }
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let afterName = stat.range(of: ") ") else { return true }
        return stat[afterName.upperBound...].hasPrefix("Z")
    }

    /// Waits up to `timeout` for `condition`.
    static func eventually(_ timeout: Duration = .seconds(10), _ condition: () -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while !condition() {
            guard ContinuousClock.now < deadline else { return false }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return true
    }
}

extension Duration {
    var seconds: Double {
        let (whole, atto) = components
        return Double(whole) + Double(atto) / 1e18
    }
}

/// A folder removed when the test is done with it.
final class TemporaryFolder {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("vqueue-child-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> String { path + "/" + name }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}
