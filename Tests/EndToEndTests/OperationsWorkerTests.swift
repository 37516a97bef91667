import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Tests that keep a worker busy with a long job (one core each) while they look at the farm or
/// stop it. One at a time, so they neither starve each other nor time each other's load.
@Suite("Operating a running farm: top --once, workers, worker stop", .serialized)
struct OperationsWorkerTests {
    @Test("top --once shows the worker, a running job, queue depth and the latest failure, in plain text",
          .timeLimit(.minutes(30)), arguments: TestQueue.Store.allCases)
    func topOnce(_ store: TestQueue.Store) async throws {
        try await withTemporaryDirectory { directory in
            let queue = try await TestQueue.make(in: directory, store: store)
            let input = try await LongJob.sample(in: directory, seconds: 20)
            let failed = try await queue.submit(Locations.fixture("truncated_30pct.mp4"), directory.appendingPathComponent("bad.mp4"),
                                                ["--priority", "10"])
            let long = try await queue.submit(input, directory.appendingPathComponent("long-out.mp4"), LongJob.options)
            // Another queue, which this worker does not take from: it stays queued, at priority 3.
            _ = try await queue.submit(Locations.fixture("one_frame.mp4"), directory.appendingPathComponent("waiting.mp4"),
                                       ["--queue", "nightly", "--priority", "3"])

            let (result, workerID) = try await withProcessSlot {
                let worker = try queue.startWorker(["--concurrency", "1", "--queue", "default"])
                defer { worker.send(signal: SIGKILL) }
                _ = try await queue.jobCaughtRunning(long)
                let failure = try await queue.job(failed)
                try #require(failure.state == "failed", "\(failure)")
                let workerID = try await queue.worker(pid: worker.pid).id
                let result = try await queue.run("top", ["--once"])
                return (result, workerID)
            }

            #expect(result.exitCode == 0 && result.stderr.isEmpty, "\(result)")
            #expect(!result.stdout.contains(0x1B), "no ESC in --once output: \(result)")
            expectNoControlCharacters(result.stdout)
            let text = result.stdoutText
            let lines = result.stdoutLines
            #expect(lines.contains { $0.hasPrefix("WORKERS") && $0.contains("1 alive") }, "\(text)")
            #expect(lines.contains { $0.contains(String(workerID.suffix(24))) && $0.contains("alive") && $0.contains("1/1") },
                    "the worker's line, busy 1/1: \(text)")
            #expect(lines.contains { $0.hasPrefix("RUNNING 1") }, "\(text)")
            #expect(lines.contains { $0.contains(" \(long) [") && $0.contains("long.mp4") && $0.contains("%") },
                    "the running job with its progress bar and input: \(text)")
            #expect(lines.contains { $0.hasPrefix("QUEUED") && $0.contains("nightly/p3: 1") }, "queue depth: \(text)")
            #expect(lines.contains { $0.hasPrefix("FINISHED") && $0.contains("1 failed") }, "\(text)")
            #expect(lines.contains { $0.contains("job \(failed):") && $0.contains("truncated") },
                    "the latest failure with its error: \(text)")
        }
    }

    @Test("a running batch shows partial progress; cancel --batch stops its running job within seconds, leaving nothing",
          .timeLimit(.minutes(30)), arguments: TestQueue.Store.allCases)
    func cancelRunningBatch(_ store: TestQueue.Store) async throws {
        try await withTemporaryDirectory { directory in
            let queue = try await TestQueue.make(in: directory, store: store)
            let input = try await LongJob.sample(in: directory, seconds: 20, named: "batch-long.mp4")
            let outputs = directory.appendingPathComponent("out", isDirectory: true)
            try FileManager.default.createDirectory(at: outputs, withIntermediateDirectories: false)
            let result = try await queue.submitBatch([input, Locations.fixture("one_frame.mp4")], into: outputs, format: "mkv",
                                                     LongJob.options)
            try #require(result.exitCode == 0 && result.stdoutLines.count == 3, "\(result)")
            let batch = try #require(Int64(result.stdoutLines[0]))
            let long = try #require(Int64(result.stdoutLines[1]))
            let output = outputs.appendingPathComponent("batch-long.mkv")

            let (running, runningRun, cancel, stopped, log) = try await withProcessSlot {
                let worker = try queue.startWorker(["--concurrency", "1"])
                defer { worker.send(signal: SIGKILL) }
                _ = try await queue.jobCaughtRunning(long)
                // The short job may or may not have run yet: with one slot, it waits or has finished.
                let (running, runningRun) = try await queue.batchStatus(batch)
                let cancel = try await queue.run("cancel", ["--batch", String(batch)])
                let stopped = await eventually(within: .seconds(5)) {
                    ProcessTable.pids(withArgumentContaining: outputs.path + "/.batch-long.mkv.job").isEmpty
                        && temporaryFiles(in: outputs).isEmpty
                }
                let log = await stopWorker(worker, timeout: .seconds(30))
                return (running, runningRun, cancel, stopped, log)
            }

            #expect(runningRun.exitCode == 3, "\(runningRun)")
            let report = try #require(running, "\(runningRun)")
            #expect(report.count("running") == 1 && !report.finished, "\(runningRun)")
            #expect(report.progress > 0 && report.progress < 1, "partial progress: \(runningRun)")
            #expect(cancel.exitCode == 0, "\(cancel)")
            #expect(stopped, "the running job's child and temporary file outlived the cancel: \(directoryListing(outputs))")
            #expect(log.exitCode == 0, "\(log)")
            #expect(try await queue.job(long).state == "cancelled")
            #expect(!FileManager.default.fileExists(atPath: output.path), "no OUT for a cancelled job")
            let (after, afterRun) = try await queue.batchStatus(batch)
            #expect(after?.finished == true && after?.count("running") == 0, "\(afterRun)")
            #expect(afterRun.exitCode == 2, "a batch cancelled without failures exits 2: \(afterRun)")
        }
    }

    @Test("workers: alive while running, gone after kill -9 once its lease passes, stopped after SIGTERM",
          .timeLimit(.minutes(30)), arguments: TestQueue.Store.allCases)
    func workerStates(_ store: TestQueue.Store) async throws {
        try await withTemporaryDirectory { directory in
            let queue = try await TestQueue.make(in: directory, store: store)
            let doomed = try queue.startWorker(["--concurrency", "1", "--lease", "1s"])
            defer { doomed.send(signal: SIGKILL) }
            let polite = try queue.startWorker(["--concurrency", "2"])
            defer { polite.send(signal: SIGKILL) }

            let doomedRecord = try await queue.worker(pid: doomed.pid)
            let politeRecord = try await queue.worker(pid: polite.pid)
            #expect(doomedRecord.state == "alive" && politeRecord.state == "alive", "\(doomedRecord) \(politeRecord)")
            #expect(doomedRecord.concurrency == 1 && politeRecord.concurrency == 2)
            #expect(doomedRecord.id.contains(":\(doomed.pid):"), "id is host:pid:tag: \(doomedRecord.id)")
            let plain = try await queue.run("workers")
            #expect(plain.exitCode == 0 && plain.stdoutLines.count == 2, "\(plain)")
            #expect(plain.stdoutLines.contains { $0.hasPrefix(doomedRecord.id) && $0.contains("alive") }, "\(plain)")

            doomed.send(signal: SIGKILL)
            _ = await doomed.wait(timeout: .seconds(10))
            let stopped = await stopWorker(polite, timeout: .seconds(30))
            #expect(stopped.exitCode == 0, "\(stopped)")
            try await Task.sleep(for: .milliseconds(1500))

            let states = Dictionary(uniqueKeysWithValues: try await queue.workers().map { ($0.id, $0) })
            #expect(states[doomedRecord.id]?.state == "gone", "a killed worker is gone once its lease passed: \(states)")
            #expect((states[doomedRecord.id]?.heartbeatAge ?? 0) >= 1, "\(states)")
            #expect(states[politeRecord.id]?.state == "stopped", "\(states)")
            let plainAfter = try await queue.run("workers")
            #expect(plainAfter.stdoutLines.contains { $0.hasPrefix(doomedRecord.id) && $0.contains(" gone ") }, "\(plainAfter)")

            // A gone worker is no live worker: there is nobody left to ask.
            let stopGone = try await queue.stopWorkers([doomedRecord.id])
            #expect(stopGone.exitCode == 4 && stopGone.stdout.isEmpty && stopGone.stderrLines.count == 1,
                    "`worker stop` of a worker `workers` shows as gone: \(stopGone)")

            // Another worker notices the silent one and says so in the events.
            let other = try await vqueue(queue.commandLine("worker", ["--drain"]))
            #expect(other.exitCode == 0, "\(other)")
            let events = try await queue.events()
            #expect(events.contains { $0.kind == "worker" && $0.worker == doomedRecord.id && $0.to == "offline" },
                    "an offline event for the killed worker: \(events)")
            #expect(events.contains { $0.worker == politeRecord.id && $0.to == "stopped" }, "\(events)")
        }
    }

    @Test("worker stop ID lets the running job finish, then the worker exits 0 and the events say so",
          .timeLimit(.minutes(30)), arguments: TestQueue.Store.allCases)
    func gracefulStop(_ store: TestQueue.Store) async throws {
        try await withTemporaryDirectory { directory in
            let queue = try await TestQueue.make(in: directory, store: store)
            let input = try await LongJob.sample(in: directory, seconds: 10)
            let output = directory.appendingPathComponent("long-out.mp4")
            let job = try await queue.submit(input, output, ["--x264-preset", "medium", "--threads", "1"])
            let waiting = try await queue.submit(Locations.fixture("one_frame.mp4"), directory.appendingPathComponent("later.mp4"))

            let (log, workerID, stop, stateWhenAsked, stateAfterAsking) = try await withProcessSlot {
                let worker = try queue.startWorker(["--concurrency", "1"])
                defer { worker.send(signal: SIGKILL) }
                let workerID = try await queue.worker(pid: worker.pid).id
                _ = try await queue.jobCaughtRunning(job)
                let stop = try await queue.stopWorkers([workerID])
                let stateWhenAsked = try await queue.job(job).state
                let stateAfterAsking = try await queue.workers().first { $0.id == workerID }?.state
                let log = await worker.wait(timeout: .seconds(90))
                return (log, workerID, stop, stateWhenAsked, stateAfterAsking)
            }

            #expect(stop.exitCode == 0 && stop.stdoutLines == [workerID], "prints the worker asked: \(stop)")
            #expect(stateWhenAsked == "running", "the job had finished before the stop request")
            #expect(stateAfterAsking == "stopping" || stateAfterAsking == "stopped", "\(String(describing: stateAfterAsking))")
            #expect(log.exitCode == 0 && !log.timedOut, "\(log)")
            let finished = try await queue.job(job)
            #expect(finished.state == "succeeded" && finished.attempts == 1, "\(finished)")
            #expect(FileManager.default.fileExists(atPath: output.path))
            #expect(try await queue.job(waiting).state == "queued", "a stopping worker claims nothing new")
            let workerEvents = try await queue.events().filter { $0.kind == "worker" && $0.worker == workerID }.map(\.to)
            #expect(workerEvents == ["online", "stopping", "stopped"], "\(workerEvents)")
            #expect(try await queue.workers().first { $0.id == workerID }?.state == "stopped")

            let unknown = try await queue.stopWorkers([workerID])
            #expect(unknown.exitCode == 4 && unknown.stderrLines.count == 1, "a stopped worker is no live worker: \(unknown)")
        }
    }

    @Test("worker stop --all --now puts the running job back unspent and the worker exits 0",
          .timeLimit(.minutes(30)), arguments: TestQueue.Store.allCases)
    func stopNow(_ store: TestQueue.Store) async throws {
        try await withTemporaryDirectory { directory in
            let queue = try await TestQueue.make(in: directory, store: store)
            let input = try await LongJob.sample(in: directory, seconds: 20)
            let outputs = directory.appendingPathComponent("out", isDirectory: true)
            try FileManager.default.createDirectory(at: outputs, withIntermediateDirectories: false)
            let output = outputs.appendingPathComponent("stop-now.mp4")
            let job = try await queue.submit(input, output, LongJob.options)

            let (log, workerID, stop, reaction) = try await withProcessSlot {
                let worker = try queue.startWorker(["--concurrency", "1"])
                defer { worker.send(signal: SIGKILL) }
                let workerID = try await queue.worker(pid: worker.pid).id
                _ = try await queue.jobCaughtRunning(job)
                let start = ContinuousClock.now
                let stop = try await queue.stopWorkers(["--all", "--now"])
                let log = await worker.wait(timeout: .seconds(30))
                return (log, workerID, stop, ContinuousClock.now - start)
            }

            #expect(stop.exitCode == 0 && stop.stdoutLines == [workerID], "\(stop)")
            #expect(log.exitCode == 0 && !log.timedOut, "\(log)")
            #expect(reaction < .seconds(10), "took \(reaction) to stop")
            let back = try await queue.job(job)
            #expect(back.state == "queued" && back.attempts == 0 && !back.retrying,
                    "back in the queue, attempt not counted: \(back)")
            #expect(directoryListing(outputs).isEmpty, "no OUT and no temporary file: \(directoryListing(outputs))")
            #expect(ProcessTable.pids(withArgumentContaining: outputs.path + "/.stop-now.mp4.job").isEmpty, "the job's child is gone")
            let workerEvents = try await queue.events().filter { $0.kind == "worker" && $0.worker == workerID }.map(\.to)
            #expect(workerEvents.first == "online" && workerEvents.last == "stopped" && workerEvents.contains("stopping"),
                    "\(workerEvents)")
        }
    }
}
