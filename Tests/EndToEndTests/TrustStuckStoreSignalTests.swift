import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// SIGTERM must be answered whatever the store is doing (issue 10: a worker whose PostgreSQL
/// connection hung ignored SIGTERM). systemd waits for a worker to stop; a worker that hangs
/// there holds up a reboot until SIGKILL. Each test has a PostgreSQL server of its own, since it
/// freezes or stops it.
@Suite("Trust: SIGTERM while the queue database is stuck or gone", .serialized)
struct TrustStuckStoreSignalTests {
    static let lease = 3.0

    /// Sends `signal` to every process of the server (its postmaster and all its children).
    private func signalServer(_ server: ThrowawayPostgres, _ signal: Int32) -> [pid_t] {
        let pids = postgresServerProcesses(dataDirectory: server.directory.appendingPathComponent("data"))
        for pid in pids { kill(pid, signal) }
        return pids
    }

    @Test("SIGTERM to a worker running a job while its PostgreSQL server is frozen (SIGSTOP): it logs that it is stopping within 1 s, and a second SIGTERM ends it within the lease plus a few seconds",
          .timeLimit(.minutes(30)))
    func sigtermWhileServerFrozen() async throws {
        try await withTemporaryDirectory { directory in
            let (input, output) = try await makeLongJobFiles(in: directory, seconds: 20)

            try await ThrowawayPostgres.with { server in
                _ = try await server.createDatabase("frozen")
                let queue = PostgresQueueClient(server: server, database: "frozen", place: .here)
                let id = try await withProcessSlot {
                    let worker = try queue.startWorker(["--lease", "\(Int(Self.lease))s", "--concurrency", "1"],
                                                       logFile: directory.appendingPathComponent("worker.log"))
                    defer { worker.send(signal: SIGKILL) }
                    let id = try await queue.submit(input, output, LongJob.options)
                    let caught = try await queue.waitForJob(id, timeout: .seconds(300)) { $0.state == "running" && $0.progress > 0 }
                    try #require(caught.state == "running", "never caught running: \(caught); log: \(worker.log)")
                    let child = try #require(ProcessTable.jobChildren(writing: output).first, "job \(id) runs in no child")

                    let frozen = signalServer(server, SIGSTOP)
                    defer { _ = signalServer(server, SIGCONT) }
                    try #require(frozen.count >= 2, "found no server processes to freeze: \(frozen)")
                    // Let the worker get caught in a store call that will not come back.
                    try await Task.sleep(for: .seconds(2))

                    let before = worker.logLines.count
                    let signalledAt = Date()
                    worker.send(signal: SIGTERM)
                    var stopping: String?
                    _ = await eventually(within: .seconds(10)) {
                        stopping = worker.logLines.dropFirst(before).first { $0.contains("stopping") }
                        return stopping != nil
                    }
                    let answered = stopping.flatMap(logLineTime).map { $0.timeIntervalSince(signalledAt) }
                    print("first SIGTERM with the server frozen: \"stopping\" logged after \(answered.map { String(format: "%.3f s", $0) } ?? "never")")
                    #expect(answered.map { $0 < 1 } == true,
                            "the worker must say it is stopping within 1 s of SIGTERM: \(answered.map { "\($0) s" } ?? "never"); log: \(worker.log)")

                    let secondAt = ContinuousClock.now
                    worker.send(signal: SIGTERM)
                    let bound = Duration.seconds(Self.lease) + .seconds(7)
                    let ended = await eventually(within: bound) { !worker.isRunning }
                    let took = ContinuousClock.now - secondAt
                    print("second SIGTERM with the server frozen: \(ended ? "exited after \(took)" : "still running after \(took)")")
                    #expect(ended, "the worker still ran \(took) after a second SIGTERM (lease \(Self.lease) s): \(worker.log)")
                    let termination = await worker.wait(timeout: .seconds(60))
                    if !ended {
                        print("second SIGTERM with the server frozen: \(termination) after \(ContinuousClock.now - secondAt); log:\n\(worker.log)")
                    }
                    #expect(termination == .exited(0) || termination == .exited(75), "\(termination); log: \(worker.log)")
                    let childGone = await eventually(within: .seconds(5)) { !ProcessTable.isAlive(child.pid) }
                    #expect(childGone, "the job's child outlived its worker")
                    return id
                }
                _ = signalServer(server, SIGCONT)

                // Nothing lost: once the server runs again, another worker finishes the job, once.
                let drained = try await withProcessSlot {
                    try await queue.run("worker", ["--drain", "--lease", "\(Int(Self.lease))s"], timeout: .seconds(900))
                }
                #expect(drained.exitCode == 0, "\(drained)")
                let job = try await queue.finished(id, timeout: .seconds(60))
                #expect(job.state == "succeeded", "\(job)")
                #expect(try await queue.successCount(id) == 1)
                #expect(directoryListing(output.deletingLastPathComponent()) == ["long.mp4"], "\(directoryListing(output.deletingLastPathComponent()))")
            }
            try await expectWebProfile(output, from: input)
        }
    }

    @Test("workers started while their PostgreSQL server is stopped keep running, say once that they cannot reach the database, and each answers SIGTERM at once",
          .timeLimit(.minutes(30)))
    func sigtermWhileServerStopped() async throws {
        try await withTemporaryDirectory { directory in
            try await ThrowawayPostgres.with { server in
                _ = try await server.createDatabase("stopped")
                let queue = PostgresQueueClient(server: server, database: "stopped", place: .here)
                let created = try await queue.run("list")
                try #require(created.exitCode == 0, "\(created)")
                try await server.stop()

                // Four workers started 1.25 s apart, so that whatever rhythm they retry in, the
                // signal finds them at different points of it.
                var workers: [LoggedProcess] = []
                defer { for worker in workers { worker.send(signal: SIGKILL) } }
                for index in 0..<4 {
                    if index > 0 { try await Task.sleep(for: .milliseconds(1250)) }
                    workers.append(try queue.startWorker(["--lease", "\(Int(Self.lease))s"],
                                                         logFile: directory.appendingPathComponent("worker\(index).log")))
                }
                for worker in workers {
                    let cannot = await worker.line(within: .seconds(20)) { $0.contains("cannot reach the queue database") }
                    #expect(cannot != nil, "the worker must say it cannot reach the database: \(worker.log)")
                }
                // Long enough for their retries to back off to their longest wait.
                try await Task.sleep(for: .seconds(10))
                for worker in workers {
                    #expect(worker.isRunning, "a worker must ride out a database that is down: \(worker.log)")
                    #expect(worker.logLines.filter { $0.contains("cannot reach") }.count == 1, "said once, not on every retry: \(worker.log)")
                }

                let signalledAt = ContinuousClock.now
                for worker in workers { worker.send(signal: SIGTERM) }
                var took: [Duration?] = Array(repeating: nil, count: workers.count)
                _ = await eventually(within: .seconds(10)) {
                    for (index, worker) in workers.enumerated() where took[index] == nil && !worker.isRunning {
                        took[index] = ContinuousClock.now - signalledAt
                    }
                    return took.allSatisfy { $0 != nil }
                }
                print("SIGTERM with the server stopped: workers exited after \(took.map { $0.map { "\($0)" } ?? "more than 10 s" })")
                for (index, worker) in workers.enumerated() {
                    #expect(took[index].map { $0 < .seconds(2) } == true,
                            "SIGTERM must be answered at once; worker \(index) took \(took[index].map { "\($0)" } ?? "over 10 s"): \(worker.log)")
                    let termination = await worker.wait(timeout: .seconds(30))
                    #expect(termination == .exited(0), "\(termination); log: \(worker.log)")
                }
                try await server.startAgain()
            }
        }
    }
}
