import Foundation
import Testing
@testable import JobQueue

extension ChildProcessTests {
    /// What a child may cost its supervisor (nothing that lasts) and what
    /// the supervisor's death and the memory ceiling do to the child.
    @Suite struct Resources {
        /// Issue 10: the worker kept two pipe descriptors per finished job
        /// (2,431 after 1,200 jobs) and grew from 34 to 45 MB.
        @Test func twoThousandChildrenLeaveNoDescriptorAndNoMemoryBehind() async throws {
            func runChildren(_ count: Int) async throws {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for index in 0..<count {
                        if index >= 8 { try await group.next() }
                        group.addTask {
                            let result = try await TestChild.shell("echo out; echo err >&2").run { _ in }
                            #expect(result.termination == .exited(0))
                        }
                    }
                    try await group.waitForAll()
                }
            }
            try await runChildren(200)  // warm up: the monitor, the allocator's pools
            let descriptors = ProcessProbe.childDescriptorCount()
            let resident = ProcessProbe.residentBytes()
            try await runChildren(2000)
            let settled = await ProcessProbe.eventually { ProcessProbe.childDescriptorCount() == descriptors }
            #expect(settled, "descriptors: \(descriptors) before, \(ProcessProbe.childDescriptorCount()) after 2,000 children")
            let growth = ProcessProbe.residentBytes() - resident
            #expect(growth < 6_000_000, "resident memory grew by \(growth / 1000) kB over 2,000 children")
        }

        @Test func aChildFloodingItsPipesDoesNotGrowTheSupervisor() async throws {
            let before = ProcessProbe.residentBytes()
            let lines = LineRecorder()
            // 200 MB on each stream, without a single newline.
            let result = try await TestChild.shell("head -c 200000000 /dev/zero >&2; head -c 200000000 /dev/zero")
                .run { lines.append($0) }
            #expect(result.termination == .exited(0))
            let growth = ProcessProbe.residentBytes() - before
            #expect(growth < 20_000_000, "resident memory grew by \(growth / 1_000_000) MB")
            #expect(lines.all.count == 1)
            #expect(lines.all.first?.utf8.count == ChildProcess.maximumOutputLineLength)
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

        @Test func aChildThatCrashesNearTheLimitCounts() async throws {
            let program = """
                import os, signal
                x = bytearray(150_000_000); x[::4096] = b'1' * len(x[::4096])
                os.kill(os.getpid(), signal.SIGSEGV)
                """
            var child = TestChild.python(program)
            child.memoryLimit = 256 << 20
            let result = try await child.run { _ in }
            #expect(result.termination == .signalled(SIGSEGV))
            #expect(result.memoryLimitReached)
        }

        @Test func workUnderTheMemoryLimitIsNotReportedAsReachingIt() async throws {
            var child = TestChild.python("x = bytearray(50_000_000); x[::4096] = b'1' * len(x[::4096]); raise SystemExit(2)")
            child.memoryLimit = 256 << 20
            let result = try await child.run { _ in }
            #expect(result.termination == .exited(2))
            #expect(!result.memoryLimitReached)
        }
    }
}
