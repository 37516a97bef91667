import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Another process holding the SQLite queue locked for seconds (a backup tool, an operator's
/// `sqlite3` session, WAL recovery after a crash): once a worker died of it ("cannot open the
/// queue database: SQLite error 5: database is locked"), leaving its job running for ever.
/// Issue 10: a worker treats any store error as an outage to wait out, never as a reason to exit.
@Suite("Trust: database is locked")
struct TrustDatabaseLockedTests {
    /// Holds an exclusive lock on an SQLite file for `seconds`, printing `locked` once it holds
    /// it and `released` after. `readers` (locking_mode=EXCLUSIVE, taken before anyone else has the
    /// file open) shuts out readers too: other processes cannot even open the file meanwhile.
    static let lockScript = """
        import sqlite3, sys, time
        path, mode, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
        connection = sqlite3.connect(path, isolation_level=None, timeout=60)
        if mode == "readers":
            connection.execute("PRAGMA locking_mode=EXCLUSIVE")
        connection.execute("BEGIN EXCLUSIVE")
        connection.execute("SELECT count(*) FROM jobs").fetchall()
        print("locked", flush=True)
        time.sleep(seconds)
        connection.execute("COMMIT")
        connection.close()
        print("released", flush=True)
        """

    /// Starts the lock holder and returns once it holds the lock.
    private func holdLock(on database: URL, shuttingOutReaders: Bool, seconds: Double, in directory: URL,
                          name: String) async throws -> LoggedProcess {
        let script = directory.appendingPathComponent("hold-lock.py")
        if !FileManager.default.fileExists(atPath: script.path) {
            try Self.lockScript.write(to: script, atomically: true, encoding: .utf8)
        }
        let holder = try LoggedProcess(URL(fileURLWithPath: "/usr/bin/python3"),
                                       [script.path, database.path, shuttingOutReaders ? "readers" : "writers", String(seconds)],
                                       logFile: directory.appendingPathComponent("\(name).log"))
        let locked = await eventually(within: .seconds(30)) { holder.stdout.contains("locked") }
        try #require(locked, "the lock holder never got its lock: \(holder.log)")
        return holder
    }

    @Test("an SQLite queue locked exclusively for 5 s while a worker starts, and again while it runs a job: the worker neither exits nor fails the job, which succeeds once",
          .timeLimit(.minutes(30)))
    func workerWaitsOutLocks() async throws {
        try await withTemporaryDirectory { directory in
            let scene = try await QueueScene(in: directory, store: .sqlite)
            let input = try await LongJob.sample(in: directory, seconds: 12)
            let output = scene.output("long.mp4")
            let later = scene.output("later.mp4")
            let id = try await scene.queue.submit(input, output, LongJob.options)
            let database = scene.queue.database

            let (log, laterID) = try await withProcessSlot {
                // 1. Locked, readers shut out too, while the worker starts (and a script asks the status).
                let first = try await holdLock(on: database, shuttingOutReaders: true, seconds: 5, in: directory, name: "lock1")
                defer { first.send(signal: SIGKILL) }
                let worker = try scene.queue.startLoggedWorker(["--concurrency", "1"], logFile: directory.appendingPathComponent("worker.log"))
                defer { worker.send(signal: SIGKILL) }
                let status = try await scene.queue.run("status", [String(id)])
                #expect(status.exitCode == 3, "status waits for the lock rather than failing: \(status)")
                let released = await eventually(within: .seconds(30)) { first.stdout.contains("released") }
                try #require(released, "the first lock was never released: \(first.log)")
                #expect(worker.isRunning, "the worker died of a lock held while it started: \(worker.log)")

                // 2. Locked against writers while the job runs (and another upload is submitted).
                _ = try await scene.queue.jobCaughtRunning(id, timeout: .seconds(300))
                let second = try await holdLock(on: database, shuttingOutReaders: false, seconds: 5, in: directory, name: "lock2")
                defer { second.send(signal: SIGKILL) }
                let submitStarted = ContinuousClock.now
                let laterID = try await scene.queue.submit(Locations.fixture("one_frame.mp4"), later)
                #expect(ContinuousClock.now - submitStarted > .seconds(2),
                        "the submit got in at once: the lock was not held, so this proves nothing")
                let releasedAgain = await eventually(within: .seconds(30)) { second.stdout.contains("released") }
                try #require(releasedAgain, "the second lock was never released: \(second.log)")
                #expect(worker.isRunning, "the worker died of a lock held while it ran a job: \(worker.log)")

                let job = try await scene.finished(id, timeout: .seconds(900))
                #expect(job.state == "succeeded", "\(job); log: \(worker.log)")
                let laterJob = try await scene.finished(laterID, timeout: .seconds(300))
                #expect(laterJob.state == "succeeded", "\(laterJob)")
                let stop = await worker.stop()
                #expect(stop == .exited(0), "\(stop); log: \(worker.log)")
                return (worker.log, laterID)
            }

            #expect(!log.contains("vqueue: error:"), "\(log)")
            let (job, _) = try await scene.queue.status(id)
            #expect(job.attempts == 1 && job.error == nil, "the locks must not cost an attempt: \(job)")
            #expect(try await scene.queue.stateHistory(id) == ["queued", "running", "succeeded"], "log: \(log)")
            #expect(try await scene.queue.successCount(id) == 1)
            #expect(try await scene.queue.stateHistory(laterID) == ["queued", "running", "succeeded"])
            #expect(directoryListing(scene.outputs) == ["later.mp4", "long.mp4"], "\(directoryListing(scene.outputs))")
            try await expectWebProfile(output, from: input)
        }
    }

    /// A lock held longer than the leases holds every writer up, the job's worker and the one that
    /// would rescue its job alike. Once it is free, whichever gets the lock first must not take a
    /// healthy job: before, the idle worker often did (a lost_lease, the job run twice).
    @Test("the SQLite queue locked against writers for 3 s while two workers with --lease 1s run and watch a job: once it is free the job is not rescued, and succeeds once on its first attempt",
          .timeLimit(.minutes(30)))
    func lockLongerThanTheLeaseRescuesNothing() async throws {
        try await withTemporaryDirectory { directory in
            let scene = try await QueueScene(in: directory, store: .sqlite)
            let input = try await LongJob.sample(in: directory, seconds: 60)
            let output = scene.output("long.mp4")
            let id = try await scene.queue.submit(input, output, LongJob.options)

            let logs = try await withProcessSlot {
                let watched = try await WatchedJob.start(id, writing: output, on: scene.queue, lease: "1s", in: directory)
                defer { watched.kill() }

                for round in 1...2 {
                    let holder = try await holdLock(on: scene.queue.database, shuttingOutReaders: false, seconds: 3,
                                                    in: directory, name: "lock\(round)")
                    defer { holder.send(signal: SIGKILL) }
                    let released = await eventually(within: .seconds(30)) { holder.stdout.contains("released") }
                    try #require(released, "the lock was never released: \(holder.log)")
                    // Long enough for a rescue to happen if one were to.
                    try await Task.sleep(for: .seconds(3))
                }
                #expect(ProcessTable.isAlive(watched.child), "the job ended before the locks did: the test proves nothing")

                let job = try await scene.finished(id, timeout: .seconds(900))
                #expect(job.state == "succeeded", "\(job)")
                let stops = await watched.stop()
                #expect(stops == [.exited(0), .exited(0)], "\(stops)")
                return watched.logs
            }

            let (job, _) = try await scene.queue.status(id)
            #expect(job.attempts == 1 && job.error == nil, "the job must not have been rescued: \(job); \(logs)")
            #expect(try await scene.queue.stateHistory(id) == ["queued", "running", "succeeded"], "\(logs)")
            #expect(try await scene.queue.successCount(id) == 1)
            #expect(directoryListing(scene.outputs) == ["long.mp4"], "\(directoryListing(scene.outputs))")
            try await expectWebProfile(output, from: input)
        }
    }
}
