import Foundation
import Testing
@testable import JobQueue

extension ChildProcessTests {
    /// What a child may cost its supervisor (nothing that lasts) and what
    /// the supervisor's death and the memory ceiling do to the child.
    @Suite struct Resources {
        /// Issue 10: the worker kept two pipe descriptors per finished job
        /// (2,431 after 1,200 jobs) and grew from 34 to 45 MB. Measured in
        /// `child-bench`, a supervisor of its own: in this process other
        /// suites open descriptors and allocate meanwhile.
        @Test func twoThousandChildrenLeaveNoDescriptorAndNoMemoryBehind() async throws {
            // 200 children to warm up (the monitor, the allocator's pools), then 2,000 more,
            // 8 at a time, each writing to both pipes.
            let rows = try await ChildBenchReport.run([
                "--children", "2200", "--concurrency", "8", "--every", "200",
                "--program", "/bin/sh", "-c", "echo out; echo err >&2",
            ])
            let warm = try #require(rows.first { $0.children == 200 }, "\(rows)")
            let done = try #require(rows.first { $0.children == 2200 }, "\(rows)")
            #expect(done.descriptors == warm.descriptors, "\(rows)")
            #expect(done.residentMB - warm.residentMB < 6, "resident memory grew by \(done.residentMB - warm.residentMB) MB: \(rows)")
        }

        @Test func aChildFloodingItsPipesDoesNotGrowTheSupervisor() async throws {
            // 200 MB on each stream, without a single newline.
            let flood = "head -c 200000000 /dev/zero >&2; head -c 200000000 /dev/zero"
            let lines = LineRecorder()
            let result = try await TestChild.shell(flood).run { lines.append($0) }
            #expect(result.termination == .exited(0))
            #expect(lines.all.count == 1)
            #expect(lines.all.first?.utf8.count == ChildProcess.maximumOutputLineLength)

            let rows = try await ChildBenchReport.run(["--children", "1", "--every", "1", "--program", "/bin/sh", "-c", flood])
            let before = try #require(rows.first { $0.children == 0 }, "\(rows)")
            let after = try #require(rows.first { $0.children == 1 }, "\(rows)")
            #expect(after.residentMB - before.residentMB < 20, "resident memory grew by \(after.residentMB - before.residentMB) MB")
        }

        /// PR_SET_PDEATHSIG: `child-bench hold` starts a sleeper through
        /// ChildProcess (in a process group of its own, so no group kill
        /// reaches it) and is then killed with SIGKILL, which it cannot
        /// handle: only the kernel can take the sleeper down with it.
        @Test func theChildDiesWithItsSupervisor() async throws {
            let lines = LineRecorder()
            let holder = Task { try await ChildProcess(executable: TestChild.bench, arguments: ["hold"]).run { lines.append($0) } }
            let holderLine = await lines.first { $0.hasPrefix("holder ") }
            let sleeperLine = await lines.first { $0.hasPrefix("sleeper ") }
            let holderPID = try #require(holderLine.flatMap { pid_t($0.dropFirst("holder ".count)) }, "\(lines.all)")
            let sleeperPID = try #require(sleeperLine.flatMap { pid_t($0.dropFirst("sleeper ".count)) }, "\(lines.all)")
            #expect(!ProcessProbe.isGone(sleeperPID))
            #expect(kill(holderPID, SIGKILL) == 0)
            let result = try await holder.value
            #expect(result.termination == .signalled(SIGKILL))
            #expect(await ProcessProbe.eventually(.seconds(5)) { ProcessProbe.isGone(sleeperPID) })
        }

        @Test(arguments: [ChildProcess.MemoryLimitKind.data, .addressSpace])
        func theMemoryLimitStopsAChildThatAllocatesTooMuch(kind: ChildProcess.MemoryLimitKind) async throws {
            var child = TestChild.python("x = bytearray(2_000_000_000)")
            child.memoryLimit = 256 << 20
            child.memoryLimitKind = kind
            let result = try await child.run { _ in }
            #expect(result.termination == .exited(1))
            #expect(result.lastErrorLine == "MemoryError")
            #expect(result.memoryLimitReached)
        }

        /// A Swift child's trap: its message, then a stack trace longer
        /// than the kept stderr tail, then SIGABRT.
        @Test func aRefusedAllocationReportedBeforeAStackTraceCounts() async throws {
            let script = """
                echo 'Fatal error: failed to allocate 50000032 bytes of memory with alignment 8' >&2
                i=0; while [ $i -lt 30 ]; do echo "$i  libswiftCore.so  0x00007f3c85f5f130" >&2; i=$((i+1)); done
                kill -ABRT $$
                """
            var child = TestChild.shell(script)
            #expect(try await child.run { _ in }.memoryLimitReached == false, "no limit, no verdict")
            child.memoryLimit = 256 << 20
            let result = try await child.run { _ in }
            #expect(result.termination == .signalled(SIGABRT))
            #expect(result.memoryLimitReached)
        }

        @Test func aChildSayingSoWithItsExitStatusCounts() async throws {
            var child = TestChild.shell("exit \(ChildProcess.memoryExhaustedExitCode)")
            child.memoryLimit = 256 << 20
            #expect(try await child.run { _ in }.memoryLimitReached)
        }

        /// A child that fails without saying why counts as having reached the ceiling when it
        /// used half of it or more: a crash at 600 MB under 1 GiB does; an exit at 50 MB under
        /// 256 MiB does not, also when this test runner is bigger than the child (ru_maxrss
        /// counts the pages the child shared with it until exec; see RunningChild.result).
        @Test(arguments: [
            (megabytes: 600, limit: 1 << 30, ending: "os.kill(os.getpid(), signal.SIGSEGV)",
             termination: ChildProcess.Termination.signalled(SIGSEGV), reached: true),
            (megabytes: 50, limit: 256 << 20, ending: "raise SystemExit(2)",
             termination: ChildProcess.Termination.exited(2), reached: false),
        ])
        func aFailureIsTheLimitWhenTheChildUsedHalfOfIt(
            megabytes: Int, limit: Int, ending: String, termination: ChildProcess.Termination, reached: Bool
        ) async throws {
            let program = """
                import os, signal
                x = bytearray(\(megabytes)_000_000); x[::4096] = b'1' * len(x[::4096])
                \(ending)
                """
            var child = TestChild.python(program)
            child.memoryLimit = limit
            let result = try await child.run { _ in }
            #expect(result.termination == termination)
            #expect(result.memoryLimitReached == reached)
        }
    }
}
