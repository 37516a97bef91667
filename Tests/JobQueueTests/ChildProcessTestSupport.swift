import Foundation
import Testing
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

/// What `child-bench` measured: its own descriptors and resident memory after each stretch of
/// children. A process of its own, so that what other suites open and allocate meanwhile in this
/// one does not count.
struct ChildBenchReport: Sendable, CustomStringConvertible {
    let children: Int
    let descriptors: Int
    let residentMB: Double

    var description: String { "\(children) children: \(descriptors) fds, \(residentMB) MB" }

    /// Runs `child-bench` with `arguments`; its report rows, or an issue if it failed.
    static func run(_ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) async throws -> [ChildBenchReport] {
        let lines = LineRecorder()
        let result = try await ChildProcess(executable: TestChild.bench, arguments: arguments).run { lines.append($0) }
        #expect(result.termination == .exited(0), "\(result.errorLines)", sourceLocation: sourceLocation)
        // "children  descriptors  resident MB" rows.
        return lines.all.compactMap { line in
            let fields = line.split(separator: " ")
            guard fields.count == 3, let children = Int(fields[0]), let descriptors = Int(fields[1]),
                  let resident = Double(fields[2]) else { return nil }
            return ChildBenchReport(children: children, descriptors: descriptors, residentMB: resident)
        }
    }
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

/// Facts about processes, from /proc.
enum ProcessProbe {
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
