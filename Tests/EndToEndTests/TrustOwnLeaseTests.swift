import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A worker that is alive never treats its own running job as abandoned. Found by the prune test
/// on a loaded box: a lone worker with `--lease 1s` whose database writes were held up for longer
/// than its lease between its heartbeat and its rescue pass re-queued its own job ("stopped
/// renewing its lease (it died or lost the database)"), stopped its own child, and ran the job
/// again, until it failed for good; it also marked itself gone. Here the hold-up is made on
/// purpose: another session locks the queue in turns of 2 s, with short gaps, for 20 s.
@Suite("Trust: a worker never rescues its own running job")
struct TrustOwnLeaseTests {
    static let holds = 10
    static let holdSeconds = 2.0

    /// Locks the queue's tables against writers in `holds` turns of `holdSeconds`, 20 ms apart,
    /// the way a long maintenance job working in chunks does; returns when done.
    private func lockInTurns(_ queue: TestQueue, in directory: URL) async throws {
        switch queue.store {
        case .sqlite:
            let script = directory.appendingPathComponent("lock-in-turns.py")
            try """
                import sqlite3, sys, time
                connection = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=60)
                for _ in range(\(Self.holds)):
                    connection.execute("BEGIN EXCLUSIVE")
                    time.sleep(\(Self.holdSeconds))
                    connection.execute("COMMIT")
                    time.sleep(0.02)
                """.write(to: script, atomically: true, encoding: .utf8)
            let process = try RunningProcess(URL(fileURLWithPath: "/usr/bin/python3"), [script.path, queue.database.path])
            let result = await process.wait(timeout: .seconds(300))
            try #require(result.exitCode == 0, "\(result)")
        case .postgres:
            let turn = """
                BEGIN; LOCK TABLE jobs, workers, events IN EXCLUSIVE MODE; SELECT pg_sleep(\(Self.holdSeconds)); COMMIT;
                SELECT pg_sleep(0.02);
                """
            let file = directory.appendingPathComponent("lock-in-turns.sql")
            try String(repeating: turn + "\n", count: Self.holds).write(to: file, atomically: true, encoding: .utf8)
            let result = try await TestPostgres.psql(queue.location, ["-q", "-o", "/dev/null", "-f", file.path])
            try #require(result.exitCode == 0, "\(result)")
        }
    }

    @Test("a lone worker with --lease 1s whose queue is locked in 2 s turns while it runs a job never rescues that job: it succeeds on its first attempt",
          .timeLimit(.minutes(30)), arguments: TestQueue.Store.allCases)
    func loneWorkerKeepsItsJob(_ store: TestQueue.Store) async throws {
        try await withTemporaryDirectory { directory in
            let scene = try await QueueScene(in: directory, store: store)
            let input = try await LongJob.sample(in: directory, seconds: 20)
            let output = scene.output("long.mp4")

            let (id, log) = try await withProcessSlot {
                let worker = try scene.queue.startLoggedWorker(["--lease", "1s", "--concurrency", "1"],
                                                               logFile: directory.appendingPathComponent("worker.log"))
                defer { worker.send(signal: SIGKILL) }
                let id = try await scene.queue.submit(input, output, LongJob.options)
                _ = try await scene.queue.jobCaughtRunning(id, timeout: .seconds(300))
                try await lockInTurns(scene.queue, in: directory)
                let job = try await scene.finished(id, timeout: .seconds(900))
                #expect(job.state == "succeeded", "\(job); log: \(worker.log)")
                let stop = await worker.stop()
                #expect(stop == .exited(0), "\(stop); log: \(worker.log)")
                return (id, worker.log)
            }

            // Nobody else could have taken the job: any rescue was the worker's own.
            let (job, _) = try await scene.queue.status(id)
            #expect(job.attempts == 1, "the worker re-ran its own job: \(job); log: \(log)")
            let events = try await scene.queue.events(["--job", String(id)])
            #expect(events.map(\.to) == ["queued", "running", "succeeded"], "\(events); log: \(log)")
            #expect(!events.contains { $0.errorCode == "lost_lease" }, "\(events)")
            #expect(!log.contains("stopped renewing its lease"), "the worker declared itself dead: \(log)")
            #expect(!log.contains("is gone"), "the worker marked itself gone: \(log)")
            #expect(directoryListing(scene.outputs) == ["long.mp4"], "\(directoryListing(scene.outputs))")
        }
    }
}
