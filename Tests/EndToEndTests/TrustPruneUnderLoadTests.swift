import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `prune` of a big queue while workers with short leases run a job: its VACUUM once held the
/// write lock for seconds (4.4 s on 300k rows), leases expired, and another worker rescued a job
/// that was fine, which then ran twice. Issue 9.
@Suite("Trust: prune of a big queue under a running job", .serialized)
struct TrustPruneUnderLoadTests {
    static let finishedJobs = 100_000

    /// 100,000 jobs that succeeded 30 days ago, each with its three events (the insert trigger's,
    /// then running and succeeded), written by another tool in one transaction.
    private func fillWithOldJobs(_ queue: TestQueue) async throws {
        let payload = """
            '{"input":"/srv/uploads/' || i || '.avi","output":"/srv/video/' || i || '.mp4","options":{},"overwrite":false}'
            """
        let columns = "kind, payload, queue, priority, state, attempts, max_attempts, run_at, submitted_at, started_at, finished_at, updated_at, weight"
        let values = "'transcode', \(payload), 'default', 0, 'succeeded', 1, 3, t, t, t + 1, t + 2, t + 2, 1"
        let events = """
            INSERT INTO events (kind, job_id, at, from_state, to_state, worker)
                SELECT 'job', id, started_at, 'queued', 'running', 'old:1:ab' FROM jobs WHERE state = 'succeeded';
            INSERT INTO events (kind, job_id, at, from_state, to_state, worker)
                SELECT 'job', id, finished_at, 'running', 'succeeded', 'old:1:ab' FROM jobs WHERE state = 'succeeded';
            """
        switch queue.store {
        case .sqlite:
            let sql = """
                BEGIN;
                WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < \(Self.finishedJobs))
                INSERT INTO jobs (\(columns)) SELECT \(values)
                FROM n, (SELECT CAST(strftime('%s', 'now') AS REAL) - 30 * 86400 AS t);
                \(events)
                COMMIT;
                """
            let process = try RunningProcess(URL(fileURLWithPath: "/usr/bin/sqlite3"), ["-batch", queue.database.path, sql])
            let result = await process.wait(timeout: .seconds(300))
            try #require(result.exitCode == 0, "sqlite3: \(result)")
        case .postgres:
            let sql = """
                BEGIN;
                INSERT INTO jobs (\(columns)) SELECT \(values)
                FROM generate_series(1, \(Self.finishedJobs)) AS i,
                     (SELECT extract(epoch FROM now())::double precision - 30 * 86400 AS t) AS base;
                \(events)
                COMMIT;
                """
            let result = try await TestPostgres.psql(queue.location, ["-q", "-c", sql])
            try #require(result.exitCode == 0, "psql: \(result)")
        }
        let counts = try await queue.query("SELECT (SELECT count(*) FROM jobs), (SELECT count(*) FROM events)")
        try #require(counts == ["\(Self.finishedJobs)|\(Self.finishedJobs * 3)"], "filled: \(counts)")
    }

    @Test("prune of 100,000 finished jobs with their events while two workers with --lease 1s run a long job: prune prints the count, the job is never rescued (one attempt, no lost_lease)",
          .timeLimit(.minutes(40)), arguments: TestQueue.Store.allCases)
    func pruneNeverRescuesHealthyJobs(_ store: TestQueue.Store) async throws {
        try await withTemporaryDirectory { directory in
            let scene = try await QueueScene(in: directory, store: store)
            _ = try await scene.queue.run("list")
            try await fillWithOldJobs(scene.queue)
            // Long enough to outlast the prune (about 15 s on PostgreSQL here, idle).
            let input = try await LongJob.sample(in: directory, seconds: 60)
            let output = scene.output("long.mp4")

            let (id, prune, logs, window) = try await withProcessSlot {
                // Two workers with 1 s leases: the idle one rescues whatever job's lease runs out.
                let id = try await scene.queue.submit(input, output, LongJob.options)
                let watched = try await WatchedJob.start(id, writing: output, on: scene.queue, lease: "1s", in: directory)
                defer { watched.kill() }

                let pruneStarted = Date()
                let prune = try await scene.queue.run("prune", ["--older-than", "7d"], timeout: .seconds(480))
                let window = "prune ran from \(pruneStarted) to \(Date())"
                #expect(ProcessTable.isAlive(watched.child),
                        "the job had finished before prune did (prune took \(prune.elapsed)): the test proves nothing; make the job longer")

                let job = try await scene.finished(id, timeout: .seconds(900))
                #expect(job.state == "succeeded", "\(job)")
                let stops = await watched.stop()
                #expect(stops == [.exited(0), .exited(0)], "\(stops)")
                return (id, prune, watched.logs, window)
            }

            print("prune of \(Self.finishedJobs) finished jobs (\(store)) took \(prune.elapsed)")
            #expect(prune.exitCode == 0 && prune.stderr.isEmpty, "\(prune)")
            #expect(prune.stdoutLines == ["\(Self.finishedJobs)"], "prune prints how many jobs went: \(prune)")

            let (job, _) = try await scene.queue.status(id)
            #expect(job.state == "succeeded" && job.attempts == 1, "the job must not have been run twice: \(job)")
            let events = try await scene.queue.events(["--job", String(id)])
            #expect(events.map(\.to) == ["queued", "running", "succeeded"], "never rescued (\(window)): \(events); \(logs)")
            #expect(events.allSatisfy { $0.errorCode == nil }, "no lost_lease or other failure: \(events)")
            #expect(!logs.contains("job \(id) queued"), "no worker put the job back: \(logs)")
            #expect(try await scene.queue.query("SELECT count(*) FROM jobs") == ["1"], "only the new job is left")
            #expect(try await scene.queue.query("SELECT count(*) FROM events WHERE job_id IS NOT NULL AND job_id <> \(id)") == ["0"],
                    "the pruned jobs' events must go too")
            #expect(directoryListing(scene.outputs) == ["long.mp4"], "\(directoryListing(scene.outputs))")
            try await expectWebProfile(output, from: input)
        }
    }
}
