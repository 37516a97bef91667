// child-bench: what running many children through ChildProcess costs the
// supervisor (issue 10: descriptors and resident memory must stay flat).
//
//   child-bench [--children N] [--concurrency C] [--every K] [--cannot-start] [--program PATH ARG...]
//       Runs N children (default 10,000; /bin/true unless --program), C at a
//       time (default 4), and prints this process's open descriptors and
//       resident memory at 0, K, 2K, ... N children (K default 1,000; the
//       children in flight are waited for before each report), then
//       children per second. Each child must exit 0; with --cannot-start,
//       each must fail to start instead (a program that does not exist).
//   child-bench hold
//       For the tests: prints "holder PID", starts `sleep 3600` through
//       ChildProcess, prints "sleeper PID" and waits. Kill it with SIGKILL:
//       the sleeper must die with it (PR_SET_PDEATHSIG).

import Foundation
import JobQueue

func openDescriptorCount() -> Int {
    (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? -1
}

func residentMegabytes() -> Double {
    guard let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8),
          let pages = statm.split(separator: " ").dropFirst().first.flatMap({ Double($0) }) else { return -1 }
    return pages * Double(sysconf(Int32(_SC_PAGESIZE))) / 1_048_576
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("child-bench: error: \(message)\n".utf8))
    exit(64)
}

/// A line on stdout at once (print would wait in a buffer: stdout is a pipe).
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

func hold() async throws -> Never {
    say("holder \(getpid())")
    let sleeper = ChildProcess(executable: "/bin/sh", arguments: ["-c", "echo \"sleeper $$\"; exec sleep 3600"])
    _ = try await sleeper.run { say($0) }
    exit(0)
}

func bench(arguments: ArraySlice<String>) async throws {
    var children = 10_000, concurrency = 4, every = 1_000
    var program = ["/bin/true"]
    var cannotStart = false
    var rest = arguments
    while let option = rest.popFirst() {
        func number() -> Int {
            guard let value = rest.popFirst().flatMap({ Int($0) }), value > 0 else { fail("\(option) needs a positive number") }
            return value
        }
        switch option {
        case "--children": children = number()
        case "--concurrency": concurrency = number()
        case "--every": every = number()
        case "--cannot-start": cannotStart = true
        case "--program": program = Array(rest); rest = []
        default: fail("unknown option \(option)")
        }
    }
    guard !program.isEmpty else { fail("--program needs a path") }
    let child = ChildProcess(executable: program[0], arguments: Array(program.dropFirst()))
    let expectCannotStart = cannotStart
    func check(_ result: ChildProcess.Result?) {
        if expectCannotStart {
            if let result { fail("a child started and ended with \(result.termination)") }
        } else if let result, result.termination != .exited(0) {
            fail("a child ended with \(result.termination)")
        }
    }
    @Sendable func runOne() async throws -> ChildProcess.Result? {
        guard expectCannotStart else { return try await child.run { _ in } }
        do {
            return try await child.run { _ in }
        } catch is ChildProcessError {
            return nil
        }
    }
    print("children  descriptors  resident MB")
    func report(_ done: Int) {
        print(String(format: "%8d  %11d  %11.1f", done, openDescriptorCount(), residentMegabytes()))
    }
    report(0)
    let started = ContinuousClock.now
    var done = 0
    while done < children {
        // Each stretch drained before its report: no child in flight then.
        let stretch = min(every, children - done)
        try await withThrowingTaskGroup(of: ChildProcess.Result?.self) { group in
            for index in 0..<stretch {
                if index >= concurrency, let result = try await group.next() { check(result) }
                group.addTask { try await runOne() }
            }
            for try await result in group { check(result) }
        }
        done += stretch
        report(done)
    }
    let elapsed = (ContinuousClock.now - started).components
    let seconds = Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
    print(String(format: "%d children in %.1f s: %.0f children per second (%d at a time)",
                 children, seconds, Double(children) / seconds, concurrency))
}

let arguments = CommandLine.arguments.dropFirst()
if arguments.first == "hold" {
    try await hold()
} else {
    try await bench(arguments: arguments)
}
