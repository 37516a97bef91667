import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The SQLite queue file removed or replaced under a running worker (an operator "starting
/// afresh", a restore from backup): the worker once kept writing the deleted file, or re-ran the
/// new file's jobs under old attempt numbers. It must notice that its file is no longer the one it
/// opened, say so and exit 75, touching nothing in the new file. Issue 9.
@Suite("Trust: the SQLite queue file removed or replaced under a worker")
struct TrustDatabaseFileTests {
    /// A worker running a long job on a fresh SQLite queue in `directory`.
    private func workerWithRunningJob(in directory: URL) async throws -> (QueueScene, LoggedProcess, Int64, URL) {
        let scene = try await QueueScene(in: directory, store: .sqlite)
        let input = try await LongJob.sample(in: directory, seconds: 20)
        let output = scene.output("long.mp4")
        let worker = try scene.queue.startLoggedWorker(["--concurrency", "1", "--lease", "30s"], logFile: directory.appendingPathComponent("worker.log"))
        let id = try await scene.queue.submit(input, output, LongJob.options)
        _ = try await scene.queue.jobCaughtRunning(id, timeout: .seconds(300))
        return (scene, worker, id, output)
    }

    /// Returns just after the worker's next heartbeat is recorded: a change made then is one the
    /// worker has the longest to notice if it only looks at its file when it renews its leases
    /// (every third of the lease), the case a user meets as often as any other.
    private func justAfterHeartbeat(of worker: LoggedProcess, on queue: TestQueue) async throws {
        let before = try await queue.worker(pid: worker.pid).heartbeatAt
        let beat = try await eventually(within: .seconds(40)) {
            try await queue.workers().first { $0.pid == Int(worker.pid) }?.heartbeatAt != before
        }
        try #require(beat, "worker \(worker.pid) recorded no heartbeat: \(worker.log)")
    }

    /// How the worker must end: exit 75 within a few seconds, saying why on stderr in one
    /// `vqueue: error:` line, its job's child stopped.
    private func expectExitsSaying(_ words: String, _ worker: LoggedProcess, scene: QueueScene, output: URL,
                                   since changed: ContinuousClock.Instant, sourceLocation: SourceLocation = #_sourceLocation) async {
        // "A few seconds": five, with the default 30 s lease a worker runs with.
        let ended = await eventually(within: .seconds(5)) { !worker.isRunning }
        let took = ContinuousClock.now - changed
        #expect(ended, "the worker still runs \(took) after its database file was \(words); log: \(worker.log)",
                sourceLocation: sourceLocation)
        let termination = await worker.wait(timeout: .seconds(30))
        print("worker ended \(ContinuousClock.now - changed) after its database file was \(words): \(termination)")
        #expect(termination == .exited(75), "\(termination) after \(took); log: \(worker.log)", sourceLocation: sourceLocation)
        #expect(worker.log.contains(words), "the worker must say its database file was \(words): \(worker.log)",
                sourceLocation: sourceLocation)
        let errors = worker.logLines.filter { $0.hasPrefix("vqueue: error:") }
        #expect(errors.count == 1, "one error line: \(worker.log)", sourceLocation: sourceLocation)
        #expect(!worker.log.contains("Error:") && !worker.log.contains("NSCocoaErrorDomain"), "\(worker.log)",
                sourceLocation: sourceLocation)
        let childGone = await eventually(within: .seconds(5)) { scene.noChildLeft(for: output) }
        #expect(childGone, "the worker's child kept encoding after it exited", sourceLocation: sourceLocation)
    }

    @Test("the queue file removed under a running worker: it says so and exits 75 within a few seconds, and creates no new file",
          .timeLimit(.minutes(30)))
    func databaseRemoved() async throws {
        try await withTemporaryDirectory { directory in
            try await withProcessSlot {
                let (scene, worker, _, output) = try await workerWithRunningJob(in: directory)
                defer { worker.send(signal: SIGKILL) }
                let database = scene.queue.database
                try await justAfterHeartbeat(of: worker, on: scene.queue)
                for suffix in ["", "-wal", "-shm"] {
                    try? FileManager.default.removeItem(atPath: database.path + suffix)
                }
                let removed = ContinuousClock.now
                await expectExitsSaying("removed", worker, scene: scene, output: output, since: removed)
                #expect(!FileManager.default.fileExists(atPath: database.path),
                        "the worker made a new queue file: \(directoryListing(directory))")
            }
        }
    }

    @Test("the queue file replaced by another queue under a running worker: it says so and exits 75 within a few seconds, writing nothing to the new file",
          .timeLimit(.minutes(30)))
    func databaseReplaced() async throws {
        try await withTemporaryDirectory { directory in
            try await withProcessSlot {
                let (scene, worker, _, output) = try await workerWithRunningJob(in: directory)
                defer { worker.send(signal: SIGKILL) }
                // Another queue with one job of its own, renamed over the worker's file (a restore).
                let other = TestQueue(in: directory, named: "other.db")
                let theirs = try await other.submit(Locations.fixture("one_frame.mp4"), scene.output("theirs.mp4"))
                let replacement = TestQueue(in: directory)
                let snapshot = "SELECT id, state, attempts, lease_owner FROM jobs UNION ALL SELECT 'workers', count(*), 0, '' FROM workers "
                    + "UNION ALL SELECT 'events', count(*), 0, '' FROM events"
                let before = try await other.query(snapshot)
                try await justAfterHeartbeat(of: worker, on: scene.queue)
                for suffix in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: scene.queue.database.path + suffix) }
                try #require(rename(other.database.path, scene.queue.database.path) == 0, "rename: \(String(cString: strerror(errno)))")
                let replaced = ContinuousClock.now

                await expectExitsSaying("replaced", worker, scene: scene, output: output, since: replaced)
                #expect(try await replacement.query(snapshot) == before, "the worker wrote to the new file")
                let (job, _) = try await replacement.status(theirs)
                #expect(job.state == "queued" && job.attempts == 0, "the new file's job was touched: \(job)")
                #expect(!FileManager.default.fileExists(atPath: scene.output("theirs.mp4").path))
            }
        }
    }
}
