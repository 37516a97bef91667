import Foundation
import Synchronization
import Testing
@testable import JobQueue

extension ChildProcessTests {
    /// Cancellation, time limit and stall limit: the supervisor's clock
    /// decides, and everything in the child's process group goes.
    @Suite struct Stopping {
        /// Starts `child`, waits for its `ready` line, cancels the task and
        /// returns the result and how long the child took to go.
        private func cancelOnceReady(_ child: ChildProcess) async throws -> (ChildProcess.Result, Duration, LineRecorder) {
            let lines = LineRecorder()
            let task = Task { try await child.run { lines.append($0) } }
            let ready = await lines.first { $0.hasPrefix("ready") }
            #expect(ready != nil, "the child never said it was ready")
            let cancelled = ContinuousClock.now
            task.cancel()
            let result = try await task.value
            return (result, .now - cancelled, lines)
        }

        @Test func cancellingSendsSIGTERMToAChildThatHandlesIt() async throws {
            var child = TestChild.shell("trap 'echo terminated; exit 7' TERM; echo ready; while :; do sleep 0.05; done")
            child.gracePeriod = .seconds(10)
            let (result, took, lines) = try await cancelOnceReady(child)
            #expect(result.termination == .exited(7))
            #expect(result.stop == .cancelled)
            #expect(lines.all.last == "terminated")
            #expect(took < .seconds(5))
        }

        @Test func cancellingKillsAChildThatIgnoresSIGTERMAfterTheGracePeriod() async throws {
            var child = TestChild.shell("trap '' TERM; echo ready; while :; do sleep 0.05; done")
            child.gracePeriod = .seconds(1)
            let (result, took, _) = try await cancelOnceReady(child)
            #expect(result.termination == .signalled(SIGKILL))
            #expect(result.stop == .cancelled)
            #expect(took >= .milliseconds(950))
            #expect(took < .seconds(4), "grace 1 s, took \(took)")
        }

        /// The worker ignores SIGTERM (it reads it from a dispatch source);
        /// an ignored signal survives execve unless the child's set-up
        /// resets it, and then nothing but SIGKILL would stop a child.
        @Test func aChildOfAProcessThatIgnoresSIGTERMStillGetsIt() async throws {
            let previous = signal(SIGTERM, SIG_IGN)
            defer { signal(SIGTERM, previous) }
            var child = TestChild.shell("echo ready; exec sleep 60")
            child.gracePeriod = .seconds(10)
            let (result, took, _) = try await cancelOnceReady(child)
            #expect(result.termination == .signalled(SIGTERM))
            #expect(took < .seconds(5))
        }

        @Test func aGrandchildInTheProcessGroupIsStoppedToo() async throws {
            var child = TestChild.shell("sleep 3600 >/dev/null 2>&1 & echo \"ready $!\"; wait")
            child.gracePeriod = .seconds(1)
            let (result, _, lines) = try await cancelOnceReady(child)
            #expect(result.stop == .cancelled)
            let grandchild = lines.all.first.flatMap { pid_t($0.dropFirst("ready ".count)) }
            let pid = try #require(grandchild)
            #expect(await ProcessProbe.eventually(.seconds(5)) { ProcessProbe.isGone(pid) })
        }

        @Test func whatTheChildLeftRunningInItsGroupEndsWithIt() async throws {
            let lines = LineRecorder()
            let result = try await TestChild.shell("sleep 3600 >/dev/null 2>&1 & echo \"$!\"").run { lines.append($0) }
            #expect(result.termination == .exited(0))
            let pid = try #require(lines.all.first.flatMap { pid_t($0) })
            #expect(await ProcessProbe.eventually(.seconds(5)) { ProcessProbe.isGone(pid) })
        }

        @Test func aTaskCancelledBeforeTheChildStartsStartsNothing() async throws {
            let folder = try TemporaryFolder()
            let child = TestChild.shell("touch \"$1\"", [folder.file("started")])
            let task = Task {
                withUnsafeCurrentTask { $0?.cancel() }
                return try await child.run { _ in }
            }
            await #expect(throws: ChildProcessError.cancelledBeforeStart) { try await task.value }
            try await Task.sleep(for: .milliseconds(200))
            #expect(!FileManager.default.fileExists(atPath: folder.file("started")))
        }

        @Test func theTimeLimitStopsAChildStoppedWithSIGSTOP() async throws {
            var child = TestChild.shell("echo ready; kill -STOP $$; echo resumed")
            child.timeLimit = .seconds(1)
            child.gracePeriod = .seconds(1)
            let took = try await expectStopped(child, by: .timeLimit)
            #expect(took >= .milliseconds(950))
        }

        @Test func theTimeLimitStopsAChildBlockedReadingAFIFO() async throws {
            let folder = try TemporaryFolder()
            let fifo = folder.file("planted.tmp")
            #expect(mkfifo(fifo, 0o600) == 0)
            var child = ChildProcess(executable: "/bin/cat", arguments: [fifo])
            child.timeLimit = .seconds(1)
            child.gracePeriod = .seconds(1)
            try await expectStopped(child, by: .timeLimit)
        }

        @Test func theStallLimitStopsAChildThatPrintsNothing() async throws {
            var child = TestChild.shell("echo started; exec sleep 60")
            child.stallLimit = .seconds(1)
            child.gracePeriod = .seconds(1)
            try await expectStopped(child, by: .stalled)
        }

        @Test func theStallLimitSparesAChildThatPrintsRegularly() async throws {
            // 3 s in all, a line every 0.2 s: never 2 s without one.
            var child = TestChild.shell("i=0; while [ $i -lt 15 ]; do echo $i; sleep 0.2; i=$((i+1)); done")
            child.stallLimit = .seconds(2)
            let lines = LineRecorder()
            let result = try await child.run { lines.append($0) }
            #expect(result.stop == nil)
            #expect(result.termination == .exited(0))
            #expect(lines.all.count == 15)
        }
    }
}

/// Runs `child`, whose limit of `reason`'s kind is 1 s, and expects the supervisor to have stopped
/// it for that reason with SIGTERM, soon after the limit. Returns how long the run took.
@discardableResult
private func expectStopped(_ child: ChildProcess, by reason: ChildProcess.StopReason,
                           sourceLocation: SourceLocation = #_sourceLocation) async throws -> Duration {
    let started = ContinuousClock.now
    let result = try await child.run { _ in }
    let took = ContinuousClock.now - started
    #expect(result.stop == reason, sourceLocation: sourceLocation)
    #expect(result.termination == .signalled(SIGTERM), sourceLocation: sourceLocation)
    #expect(took < .seconds(5), "limit 1 s, took \(took)", sourceLocation: sourceLocation)
    return took
}
