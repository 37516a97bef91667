import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// kill -9 of a worker and its child together (the OOM killer, systemd's SIGKILL after its stop
/// timeout), then `vqueue cancel`: the half-written temporary file used to stay for ever, because
/// only running jobs were cleaned up. Issue 9.
@Suite("Trust: a killed worker's temporary file after a cancel")
struct TrustStaleTemporaryFileTests {
    static let lease = 2.0

    @Test("kill -9 of a worker and its child mid-job, then cancel: a worker started afterwards removes the stale .part within its lease plus a margin, the job stays cancelled, and retry then succeeds once",
          .timeLimit(.minutes(30)), arguments: TestQueue.Store.allCases)
    func killedWorkerThenCancel(_ store: TestQueue.Store) async throws {
        try await withTemporaryDirectory { directory in
            let scene = try await QueueScene(in: directory, store: store)
            let input = try await LongJob.sample(in: directory, seconds: 12)
            let output = scene.output("long.mp4")
            let workerArguments = ["--lease", "\(Int(Self.lease))s", "--concurrency", "1"]

            let (id, stale, cleanedAfter, log) = try await withProcessSlot {
                let victim = try scene.queue.startLoggedWorker(workerArguments, logFile: directory.appendingPathComponent("victim.log"))
                defer { victim.send(signal: SIGKILL) }
                let id = try await scene.queue.submit(input, output, LongJob.options)
                _ = try await scene.queue.jobCaughtRunning(id, timeout: .seconds(300))
                let children = ProcessTable.jobChildren(writing: output)
                let child = try #require(children.first, "job \(id) runs in no child")
                try #require(FileManager.default.fileExists(atPath: child.temporary), "the child has written nothing yet")

                // Both at once, as the OOM killer or systemd's final SIGKILL would.
                kill(child.pid, SIGKILL)
                victim.send(signal: SIGKILL)
                #expect(await victim.wait(timeout: .seconds(10)) == .signaled(SIGKILL))
                let childGone = await eventually(within: .seconds(5)) { !ProcessTable.isAlive(child.pid) }
                try #require(childGone, "the child \(child.pid) survived SIGKILL")
                let stale = URL(fileURLWithPath: child.temporary)
                try #require(FileManager.default.fileExists(atPath: stale.path), "nothing stale to clean up: \(directoryListing(scene.outputs))")

                let cancel = try await scene.queue.run("cancel", [String(id)])
                #expect(cancel.exitCode == 0, "\(cancel)")
                #expect(try await scene.queue.job(id).state == "cancelled")

                // A worker started afterwards, on this box, cleans up what the dead one left.
                let started = ContinuousClock.now
                let cleaner = try scene.queue.startLoggedWorker(workerArguments, logFile: directory.appendingPathComponent("cleaner.log"))
                defer { cleaner.send(signal: SIGKILL) }
                let margin = Duration.seconds(15)
                let cleaned = await eventually(within: .seconds(Self.lease) + margin) {
                    !FileManager.default.fileExists(atPath: stale.path)
                }
                let cleanedAfter = ContinuousClock.now - started
                #expect(cleaned, "\(stale.lastPathComponent) still there \(cleanedAfter) after a worker started; log: \(cleaner.log)")

                // The job stays cancelled: no worker takes it up again by itself.
                try await Task.sleep(for: .seconds(Self.lease * 2))
                let (job, statusRun) = try await scene.queue.status(id)
                #expect(statusRun.exitCode == 2 && job.state == "cancelled", "\(statusRun)")
                #expect(!FileManager.default.fileExists(atPath: output.path), "a cancelled job wrote OUT")

                // Retry: it runs again and succeeds once.
                let retry = try await scene.queue.run("retry", [String(id)])
                #expect(retry.exitCode == 0, "\(retry)")
                let finished = try await scene.finished(id, timeout: .seconds(900))
                #expect(finished.state == "succeeded", "\(finished); log: \(cleaner.log)")
                #expect(finished.attempts == 1, "a retry counts attempts afresh: \(finished)")
                #expect(finished.workerPID == cleaner.pid, "\(finished)")
                let stop = await cleaner.stop()
                #expect(stop == .exited(0), "\(stop); log: \(cleaner.log)")
                return (id, stale, cleanedAfter, cleaner.log)
            }

            print("stale temporary file \(stale.lastPathComponent) removed \(cleanedAfter) after the second worker started")
            #expect(try await scene.queue.successCount(id) == 1, "log: \(log)")
            #expect(try await scene.queue.stateHistory(id) == ["queued", "running", "cancelled", "queued", "running", "succeeded"])
            #expect(directoryListing(scene.outputs) == ["long.mp4"], "OUT alone: \(directoryListing(scene.outputs))")
            #expect(scene.noChildLeft(for: output))
            try await expectWebProfile(output, from: input)
        }
    }
}
