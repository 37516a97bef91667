import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A worker rides out its PostgreSQL server going away under a running job: the child keeps
/// encoding, the worker says it lost the database and that it is back, and the job succeeds once,
/// on its first attempt. Each test has a throw-away server of its own on a loopback port (the one
/// `make test` shares must not be restarted under the other suites).
@Suite("The queue database goes away under a running job", .serialized)
struct QueueDatabaseRestartTests {
    @Test("pg_ctl restart -m fast mid-job: the job succeeds once, on its first attempt",
          .timeLimit(.minutes(30)))
    func serverRestart() async throws {
        try await rideOut(mustNotice: false) { server, _, child in
            try await server.restart()
            #expect(ProcessTable.isAlive(child), "the job had finished before the server was back: not mid-job")
        }
    }

    @Test("pg_terminate_backend of the worker's sessions mid-job: the job succeeds once, on its first attempt",
          .timeLimit(.minutes(30)))
    func sessionsTerminated() async throws {
        try await rideOut(mustNotice: false) { server, database, child in
            let terminated = try await server.terminateConnections(to: database)
            #expect(terminated >= 1, "the worker had no session to cut")
            #expect(ProcessTable.isAlive(child), "the job had finished before its sessions were cut: not mid-job")
        }
    }

    @Test("the server down for longer than the lease mid-job: the worker says so, keeps its job and finishes it once",
          .timeLimit(.minutes(30)))
    func outageLongerThanLease() async throws {
        try await rideOut(mustNotice: true) { server, _, child in
            try await server.stop()
            #expect(ProcessTable.isAlive(child), "the job had finished before the server stopped: not mid-job")
            // Twice the 2 s lease: the job's lease has run out by the server's clock when it
            // returns, and the worker must still be the one to finish it. (Its child may finish
            // meanwhile: then the result waits for the database.)
            try await Task.sleep(for: .seconds(4))
            try await server.startAgain()
        }
    }

    /// What a test does to the server: given the server, the queue's database and the job's child.
    typealias Outage = (ThrowawayPostgres, String, pid_t) async throws -> Void

    /// Runs a multi-second job on one worker, does `outage` to the server once the job's child is
    /// encoding, and checks that nothing was lost, doubled or left behind, and that the worker's
    /// sessions were really cut and made again.
    ///
    /// `mustNotice`: the worker must log that it cannot reach the database, then that it is back.
    /// A break noticed between two queries is mended by reconnecting at the next one, with nothing
    /// to report; only a query under way when the server goes (or a server that stays away) makes
    /// the worker say so. Either way, what it says must pair up.
    private func rideOut(mustNotice: Bool, _ outage: Outage,
                         sourceLocation: SourceLocation = #_sourceLocation) async throws {
        try await withTemporaryDirectory { directory in
            let (input, output) = try await makeLongJobFiles(in: directory, seconds: 10)

            try await ThrowawayPostgres.with { server in
                let database = "restart"
                _ = try await server.createDatabase(database)
                let queue = PostgresQueueClient(server: server, database: database, place: .here)

                try await withProcessSlot {
                    let worker = try queue.startWorker(["--lease", "2s", "--concurrency", "1"],
                                                       logFile: directory.appendingPathComponent("worker.log"))
                    do {
                        try await rideOut(outage, mustNotice: mustNotice, server: server, queue: queue, worker: worker,
                                          input: input, output: output, sourceLocation: sourceLocation)
                    } catch {
                        await worker.end()
                        throw error
                    }
                    await worker.end()
                }
            }
            // After the process slot is given back: ffprobe and ffmpeg take slots of their own.
            try await expectWebProfile(output, from: input, sourceLocation: sourceLocation)
        }
    }

    private func rideOut(_ outage: Outage, mustNotice: Bool, server: ThrowawayPostgres,
                         queue: PostgresQueueClient, worker: LoggedProcess, input: URL, output: URL,
                         sourceLocation: SourceLocation) async throws {
        // A job of several seconds, so the outage lands mid-job.
        let (id, caughtChild) = try await queue.submitCaughtEncoding(input, output)
        let caughtJob = try? await queue.job(id)
        let child = try #require(caughtChild, "job \(id) was never caught encoding: \(String(describing: caughtJob)); log: \(worker.log)",
                                 sourceLocation: sourceLocation)

        let sessionsBefore = try await sessions(queue)
        try #require(!sessionsBefore.isEmpty, "the worker has no session on the server", sourceLocation: sourceLocation)
        try await outage(server, queue.database, child)

        if mustNotice {
            let lost = await worker.line(within: .seconds(20)) { $0.contains("cannot reach the queue database") }
            #expect(lost != nil, "the worker must say it lost the database: \(worker.log)", sourceLocation: sourceLocation)
        }
        if worker.logLines.contains(where: { $0.contains("cannot reach the queue database") }) {
            let back = await worker.line(within: .seconds(30)) { $0.contains("the queue database is back after") }
            #expect(back != nil, "the worker must say the database is back: \(worker.log)", sourceLocation: sourceLocation)
        }

        let job = try await queue.finished(id)
        #expect(job.state == "succeeded", "\(job); log: \(worker.log)", sourceLocation: sourceLocation)
        #expect(job.attempts == 1, "the outage must not cost an attempt: \(job)", sourceLocation: sourceLocation)
        #expect(job.workerPID == worker.pid, "\(job)", sourceLocation: sourceLocation)
        #expect(try await queue.stateHistory(id) == ["queued", "running", "succeeded"], sourceLocation: sourceLocation)
        #expect(try await queue.successCount(id) == 1, sourceLocation: sourceLocation)
        #expect(worker.isRunning, "the worker died: \(worker.log)", sourceLocation: sourceLocation)

        // Still taking new work afterwards (its wake-ups are listened for on a new connection).
        let small = Locations.fixture("one_frame.mp4")
        let next = try await queue.submit(small, output.deletingLastPathComponent().appendingPathComponent("next.mp4"))
        let nextJob = try await queue.finished(next, timeout: .seconds(30))
        #expect(nextJob.state == "succeeded", "a job submitted after the outage: \(nextJob)", sourceLocation: sourceLocation)

        let sessionsAfter = try await sessions(queue)
        #expect(!sessionsAfter.isEmpty && sessionsAfter.isDisjoint(with: sessionsBefore),
                "the worker's sessions must have been cut and made again: before \(sessionsBefore), after \(sessionsAfter)",
                sourceLocation: sourceLocation)

        let exit = await worker.stop()
        #expect(exit == .exited(0), "SIGTERM: \(exit); log: \(worker.log)", sourceLocation: sourceLocation)
        #expect(!worker.log.contains("vqueue: error:"), "\(worker.log)", sourceLocation: sourceLocation)
        #expect(worker.stdout.isEmpty, "a worker prints nothing on stdout: \(worker.stdout)", sourceLocation: sourceLocation)
        #expect(directoryListing(output.deletingLastPathComponent()) == ["long.mp4", "next.mp4"],
                "OUTs and no temporary file: \(directoryListing(output.deletingLastPathComponent()))",
                sourceLocation: sourceLocation)
    }

    /// The server processes of the sessions on the queue's database (the worker's), but psql's own.
    private func sessions(_ queue: PostgresQueueClient) async throws -> Set<String> {
        Set(try await queue.query("""
            SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()
            """))
    }
}
