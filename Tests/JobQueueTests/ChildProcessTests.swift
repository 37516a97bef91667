import Foundation
import Testing
@testable import JobQueue

/// ChildProcess with small real programs as children. Serialized (with the
/// suites nested in it, in the other ChildProcess*Tests files): the leak
/// tests count this process's descriptors, and on a loaded 2-core machine
/// the timing tests keep their margins.
@Suite(.serialized) struct ChildProcessTests {
    @Test func stdoutLinesReachTheCallbackInOrderWithTheUnterminatedLastOne() async throws {
        let lines = LineRecorder()
        let result = try await TestChild.shell("i=1; while [ $i -le 500 ]; do echo \"line $i\"; i=$((i+1)); done; printf '  last  '")
            .run { lines.append($0) }
        #expect(result.termination == .exited(0))
        #expect(lines.all == (1...500).map { "line \($0)" } + ["last"])
    }

    @Test func argumentsArePassedAsTheyAreWithoutAShell() async throws {
        let arguments = ["a name with spaces", "$(touch /tmp/vqueue-pwned)", "'quoted'", "-leading-dash", "Bérénice ✓"]
        let lines = LineRecorder()
        let result = try await ChildProcess(executable: "/usr/bin/printf", arguments: ["%s\\n"] + arguments)
            .run { lines.append($0) }
        #expect(result.termination == .exited(0))
        #expect(lines.all == arguments)
    }

    @Test func theChildGetsTheGivenEnvironmentAndTheSupervisorsPid() async throws {
        let lines = LineRecorder()
        var child = ChildProcess(executable: "/usr/bin/env", arguments: [])
        child.environment = ["ONLY_THIS": "yes"]
        _ = try await child.run { lines.append($0) }
        #expect(Set(lines.all) == ["ONLY_THIS=yes", "VQUEUE_SUPERVISOR_PID=\(getpid())", "SWIFT_BACKTRACE=enable=no"])
    }

    @Test func exitCodesAndSignalsAreReported() async throws {
        let exited = try await TestChild.shell("echo oops >&2; exit 3").run { _ in }
        #expect(exited.termination == .exited(3))
        #expect(exited.stop == nil)
        #expect(exited.lastErrorLine == "oops")

        let crashed = try await TestChild.shell("kill -SEGV $$").run { _ in }
        #expect(crashed.termination == .signalled(SIGSEGV))
        #expect(crashed.stop == nil)
        #expect(crashed.memoryLimitReached == false)
    }

    @Test func theResultCarriesThePeakMemoryOfTheChild() async throws {
        // 400 MB touched by the child: more than this test runner's own size, which the
        // kernel counts in a child's peak too (the pages they share until exec).
        let result = try await TestChild.python("x = bytearray(400_000_000); x[::4096] = b'1' * len(x[::4096])").run { _ in }
        #expect(result.termination == .exited(0))
        #expect(result.peakMemoryBytes > 400_000_000)
        #expect(result.peakMemoryBytes < 550_000_000)
    }

    @Test func theStderrTailKeepsTheLastLinesEachCut() async throws {
        let script = """
            i=1; while [ $i -le 2000 ]; do echo "error $i" >&2; i=$((i+1)); done
            head -c 100000 /dev/zero | tr '\\0' x >&2; echo >&2
            echo "   " >&2; echo "the last one" >&2
            """
        let result = try await TestChild.shell(script).run { _ in }
        #expect(result.errorLines.count == ChildProcess.errorLineCount)
        #expect(result.lastErrorLine == "the last one")
        #expect(result.errorLines.dropLast().last == String(repeating: "x", count: ChildProcess.maximumErrorLineLength))
        #expect(result.errorLines.first == "error \(2000 - ChildProcess.errorLineCount + 3)")
    }

    @Test func passedDescriptorsArriveAs3And4AndNoOtherDescriptorLeaksIntoTheChild() async throws {
        let folder = try TemporaryFolder()
        #expect(FileManager.default.createFile(atPath: folder.file("input"), contents: Data("the input".utf8)))
        let input = open(folder.file("input"), O_RDONLY | O_CLOEXEC)
        let output = open(folder.file("output"), O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
        // Not close-on-exec, as a careless library would leave one.
        let stray = open("/dev/zero", O_RDONLY)
        defer { close(input); close(output); close(stray) }
        #expect(input >= 0 && output >= 0 && stray >= 0)

        let program = """
            import os
            os.write(4, os.read(3, 100).upper())
            for fd in sorted(int(name) for name in os.listdir('/proc/self/fd')):
                try:
                    print(fd, os.readlink(f'/proc/self/fd/{fd}'))
                except OSError:
                    pass  # listdir's own descriptor, closed by now
            """
        var child = TestChild.python(program)
        child.inheritedDescriptors = [input, output]
        let lines = LineRecorder()
        let result = try await child.run { lines.append($0) }
        #expect(result.termination == .exited(0), "\(result.errorLines)")
        let descriptors = lines.all.map { $0.split(separator: " ", maxSplits: 1).map(String.init) }
        #expect(descriptors.map { $0[0] } == ["0", "1", "2", "3", "4"])
        #expect(descriptors.first?.last == "/dev/null")
        #expect(descriptors.dropFirst(3).map { $0[1] } == [folder.file("input"), folder.file("output")])
        #expect(try String(contentsOfFile: folder.file("output"), encoding: .utf8) == "THE INPUT")
    }

    @Test func aMissingExecutableIsAClearErrorAndLeavesNoDescriptorBehind() async throws {
        await #expect(throws: ChildProcessError.cannotStart(executable: "/nonexistent/vqueue", step: "execve", errno: ENOENT)) {
            try await ChildProcess(executable: "/nonexistent/vqueue", arguments: ["transcode"]).run { _ in }
        }
        let error = ChildProcessError.cannotStart(executable: "/nonexistent/vqueue", step: "execve", errno: ENOENT)
        #expect(error.description == "cannot start /nonexistent/vqueue: execve: No such file or directory")
        await #expect(throws: ChildProcessError.cannotStart(executable: "/etc/passwd", step: "execve", errno: EACCES)) {
            try await ChildProcess(executable: "/etc/passwd", arguments: []).run { _ in }
        }
        // Counted in child-bench, a supervisor of its own (here other suites open descriptors
        // meanwhile): 10 failed starts for the monitor's own descriptors, then 90 more.
        let rows = try await ChildBenchReport.run(["--children", "100", "--every", "10", "--cannot-start",
                                                   "--program", "/nonexistent/vqueue"])
        let warm = try #require(rows.first { $0.children == 10 }, "\(rows)")
        let done = try #require(rows.first { $0.children == 100 }, "\(rows)")
        #expect(done.descriptors == warm.descriptors, "\(rows)")
    }

    @Test func aBadDescriptorToPassIsAClearError() async throws {
        var child = TestChild.shell("true")
        child.inheritedDescriptors = [987_654]
        await #expect(throws: ChildProcessError.cannotStart(executable: "/bin/sh", step: "placing descriptors", errno: EBADF)) {
            try await child.run { _ in }
        }
    }
}
