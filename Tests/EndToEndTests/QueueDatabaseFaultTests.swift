import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The binary against a PostgreSQL server that is not there, or there and silent: commands end
/// with exit 75 and one line by the documented deadline (15 s), never hang; a worker answers
/// SIGTERM within a second whatever its store is doing, and waits for a server that is down
/// instead of exiting. (The same faults twenty times over, in-process: PostgresFaultTests.)
@Suite("The queue database silent, frozen or down: no command hangs, a worker answers signals", .serialized)
struct QueueDatabaseFaultTests {
    /// `QueueLocation.defaultDeadline`, and what a command may take beyond it to exit.
    static let deadline = Duration.seconds(15)
    static let margin = Duration.seconds(5)

    /// The deadline bounds the wait for the server: it is timed from the moment the server accepted
    /// the command's connection to the command's exit. (Timed from the command's start, it also
    /// counted `submit` checking its input first and starting up on a busy machine: 20.3 s once.)
    @Test("status and submit against a server that accepts TCP and never answers exit 75 with one line by the deadline",
          .timeLimit(.minutes(2)))
    func commandsAgainstASilentServer() async throws {
        try await withTemporaryDirectory { directory in
            // One listener per command, so each one's first connection is its own.
            for name in ["status", "submit"] {
                try FileManager.default.createDirectory(at: directory.appendingPathComponent(name), withIntermediateDirectories: true)
            }
            let forStatus = try await SilentListener.start(in: directory.appendingPathComponent("status", isDirectory: true))
            let forSubmit = try await SilentListener.start(in: directory.appendingPathComponent("submit", isDirectory: true))
            do {
                let output = directory.appendingPathComponent("out.mp4")
                async let status = NetworkPlace.here.run(
                    Locations.vqueue, ["status", "1", "--db", forStatus.url(database: "queue")], timeout: .seconds(60))
                async let submit = NetworkPlace.here.run(
                    Locations.vqueue, ["submit", "--db", forSubmit.url(database: "queue"), "--",
                                       Locations.fixture("one_frame.mp4").path, output.path],
                    timeout: .seconds(60))
                for (result, silent) in [(try await status, forStatus), (try await submit, forSubmit)] {
                    let accepted = silent.firstAccepted
                    let waited = accepted.flatMap { start in result.ended.map { Duration.seconds($0.timeIntervalSince(start)) } }
                    print("QueueDatabaseFaultTests: \(result.command[1]) against a silent server: exit \(result.exitCode ?? -1) "
                          + "after \(result.elapsed), \(waited.map { "\($0)" } ?? "?") after the server accepted its connection")
                    #expect(!result.timedOut && result.exitCode == 75, "\(result)")
                    #expect(accepted != nil, "the command connected: \(silent.process.log)")
                    if let waited { #expect(waited <= Self.deadline + Self.margin, "\(result)") }
                    #expect(result.stdoutLines.isEmpty, "\(result)")
                    #expect(result.stderrLines.count == 1, "one line: \(result)")
                    let line = result.stderrLines.first ?? ""
                    #expect(line.contains("127.0.0.1:\(silent.port)") && line.contains("no answer from the server within 15 s"),
                            "names the database and what is wrong: \(line)")
                }
                #expect(!FileManager.default.fileExists(atPath: output.path))
            } catch {
                await forStatus.end()
                await forSubmit.end()
                throw error
            }
            await forStatus.end()
            await forSubmit.end()
        }
    }

    @Test("a worker started against a server that never answers answers SIGTERM within a second", .timeLimit(.minutes(2)))
    func workerStartingAgainstASilentServerAnswersSIGTERM() async throws {
        try await withTemporaryDirectory { directory in
            let silent = try await SilentListener.start(in: directory)
            let worker = try LoggedProcess(Locations.vqueue, ["worker", "--db", silent.url(database: "queue")],
                                           logFile: directory.appendingPathComponent("worker.log"))
            // Its first connection is accepted, and waits for an answer that never comes.
            try await Task.sleep(for: .seconds(2))
            await expectExitWithinASecondOfSIGTERM(worker, "a worker starting against a silent server")
            await silent.end()
        }
    }

    @Test("a worker waiting for a server that refuses connections answers SIGTERM within a second, even between two tries",
          .timeLimit(.minutes(2)))
    func workerWaitingForADownServerAnswersSIGTERM() async throws {
        try await withTemporaryDirectory { directory in
            // A loopback port nothing listens on any more: every connection is refused at once.
            let gone = try await SilentListener.start(in: directory)
            await gone.end()
            let worker = try LoggedProcess(Locations.vqueue, ["worker", "--db", gone.url(database: "queue")],
                                           logFile: directory.appendingPathComponent("worker.log"))
            let waiting = await worker.line(within: .seconds(20)) { $0.contains("cannot reach the queue database") }
            #expect(waiting != nil, "\(worker.log)")
            // Its tries are seconds apart by now.
            try await Task.sleep(for: .seconds(5))
            await expectExitWithinASecondOfSIGTERM(worker, "a worker waiting for a refusing server")
        }
    }

    /// A worker still waiting for its database exits 0 within a second of SIGTERM.
    private func expectExitWithinASecondOfSIGTERM(_ worker: LoggedProcess, _ what: String,
                                                  sourceLocation: SourceLocation = #_sourceLocation) async {
        #expect(worker.isRunning, "\(what) must wait, not exit: \(worker.log)", sourceLocation: sourceLocation)
        let asked = ContinuousClock.now
        worker.send(signal: SIGTERM)
        let exit = await worker.wait(timeout: .seconds(30))
        let took = ContinuousClock.now - asked
        print("QueueDatabaseFaultTests: \(what) exited \(took) after SIGTERM")
        #expect(took < .seconds(1), "\(what) exited \(took) after SIGTERM; log: \(worker.log)", sourceLocation: sourceLocation)
        #expect(exit == .exited(0), "\(what): \(exit); log: \(worker.log)", sourceLocation: sourceLocation)
    }

    @Test("a worker whose server is frozen (SIGSTOP) mid-job answers SIGTERM within a second, and a second SIGTERM makes it exit within seconds",
          .timeLimit(.minutes(3)))
    func workerAgainstAFrozenServerAnswersSignals() async throws {
        try await withTemporaryDirectory { directory in
            let (input, output) = try await makeLongJobFiles(in: directory, seconds: 10)
            try await ThrowawayPostgres.with { server in
                _ = try await server.createDatabase("frozen")
                let queue = PostgresQueueClient(server: server, database: "frozen", place: .here)
                try await withProcessSlot {
                    let worker = try queue.startWorker(["--lease", "30s", "--concurrency", "1"],
                                                       logFile: directory.appendingPathComponent("worker.log"))
                    do {
                        try await answersSignals(worker, server: server, queue: queue, input: input, output: output)
                    } catch {
                        server.thaw()
                        await worker.end()
                        throw error
                    }
                    server.thaw()
                    await worker.end()
                }
            }
        }
    }

    private func answersSignals(_ worker: LoggedProcess, server: ThrowawayPostgres, queue: PostgresQueueClient,
                                input: URL, output: URL) async throws {
        // A job of several seconds, frozen mid-way.
        let (id, caughtChild) = try await queue.submitCaughtEncoding(input, output)
        let child = try #require(caughtChild, "job \(id) was never caught encoding; log: \(worker.log)")

        server.freeze()
        // The worker's next store calls (every quarter second) wait on the frozen server.
        try await Task.sleep(for: .seconds(1))
        let asked = ContinuousClock.now
        worker.send(signal: SIGTERM)
        let stopping = await worker.line(within: .seconds(20)) { $0.contains("stopping after its 1 running job(s)") }
        let answered = ContinuousClock.now - asked
        #expect(stopping != nil && answered < .seconds(1), "answered SIGTERM after \(answered); log: \(worker.log)")
        #expect(worker.isRunning && ProcessTable.isAlive(child), "its job runs on after the first SIGTERM")

        let forced = ContinuousClock.now
        worker.send(signal: SIGTERM)
        let exit = await worker.wait(timeout: .seconds(60))
        let took = ContinuousClock.now - forced
        print("QueueDatabaseFaultTests: frozen server: 'stopping' logged \(answered) after the first SIGTERM, exit \(took) after the second")
        #expect(took < .seconds(10), "exited \(took) after the second SIGTERM; log: \(worker.log)")
        #expect(exit == .exited(0), "\(exit); log: \(worker.log)")
        #expect(worker.log.contains("stopping now"), "\(worker.log)")
        #expect(await eventually(within: .seconds(10)) { !ProcessTable.isAlive(child) }, "the job's child is gone")
        #expect(directoryListing(output.deletingLastPathComponent()).isEmpty,
                "no output and no temporary file from a stopped job: \(directoryListing(output.deletingLastPathComponent()))")
    }

    @Test("a worker started while the server is down says so once, waits, and takes the job when the server is back",
          .timeLimit(.minutes(3)))
    func workerWaitsForTheServer() async throws {
        try await withTemporaryDirectory { directory in
            let output = directory.appendingPathComponent("out.mp4")
            try await ThrowawayPostgres.with { server in
                _ = try await server.createDatabase("later")
                let queue = PostgresQueueClient(server: server, database: "later", place: .here)
                let id = try await queue.submit(Locations.fixture("one_frame.mp4"), output)
                try await server.stop()
                try await withProcessSlot {
                    let worker = try queue.startWorker(["--concurrency", "1"], logFile: directory.appendingPathComponent("worker.log"))
                    do {
                        let waiting = await worker.line(within: .seconds(30)) { $0.contains("cannot reach the queue database") }
                        #expect(waiting != nil, "the worker must say it cannot reach the database: \(worker.log)")
                        try await Task.sleep(for: .seconds(3))
                        #expect(worker.isRunning, "it waits, it does not exit: \(worker.log)")
                        #expect(worker.logLines.filter { $0.contains("cannot reach the queue database") }.count == 1,
                                "said once: \(worker.log)")

                        try await server.startAgain()
                        let job = try await queue.finished(id, timeout: .seconds(60))
                        #expect(job.state == "succeeded" && job.attempts == 1, "\(job); log: \(worker.log)")
                        #expect(job.workerPID == worker.pid, "\(job)")
                        #expect(try await queue.successCount(id) == 1)
                        let exit = await worker.stop()
                        #expect(exit == .exited(0), "\(exit); log: \(worker.log)")
                    } catch {
                        await worker.end()
                        throw error
                    }
                    await worker.end()
                }
            }
            #expect(FileManager.default.fileExists(atPath: output.path))
        }
    }
}
