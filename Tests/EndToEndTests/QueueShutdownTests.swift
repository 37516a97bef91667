import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension QueueWorkerTests {
    @Suite("Stopping a worker, cancelling a job, waking an idle worker")
    struct Stopping {
        @Test("SIGTERM lets the running job finish, claims nothing more, and exits 0", .timeLimit(.minutes(30)),
              arguments: TestQueue.Store.allCases)
        func gracefulShutdown(_ store: TestQueue.Store) async throws {
            try await withTemporaryDirectory { directory in
                let scene = try await QueueScene(in: directory, store: store)
                let input = try await makeLongSample(in: directory, seconds: 12)
                let output = scene.output("long.mp4")
                let later = scene.output("later.mp4")

                let (log, running, waiting, signalledAt) = try await withProcessSlot {
                    let worker = try scene.queue.startWorker(["--concurrency", "1"])
                    defer { killIfRunning(worker) }
                    let running = try await scene.queue.submit(input, output)
                    let waiting = try await scene.queue.submit(Locations.fixture("one_frame.mp4"), later)
                    _ = try await scene.runningChild(of: running, writing: output, attempt: 1)
                    try await Task.sleep(for: .milliseconds(300))

                    worker.send(signal: SIGTERM)
                    let signalledAt = try await scene.queue.job(running)
                    let log = await worker.wait(timeout: .seconds(90))
                    return (log, running, waiting, signalledAt)
                }

                #expect(log.exitCode == 0, "\(log)")
                expectCleanWorkerLog(log)
                #expect(signalledAt.state == "running", "the job had ended before the signal: \(signalledAt)")
                let finished = try await scene.queue.status(running)
                #expect(finished.1.exitCode == 0 && finished.0.state == "succeeded", "\(finished.1)")
                #expect(finished.0.attempts == 1, "\(finished.0)")
                let untouched = try await scene.queue.status(waiting)
                #expect(untouched.1.exitCode == 3 && untouched.0.state == "queued" && untouched.0.attempts == 0,
                        "a stopping worker must not claim new jobs: \(untouched.1)")
                #expect(directoryListing(scene.outputs) == ["long.mp4"], "\(directoryListing(scene.outputs))")
                #expect(scene.noChildLeft(for: output))
                try await expectWebProfile(output, from: input)
            }
        }

        @Test("a second SIGTERM stops the job, puts it back unspent, leaves nothing, exits 0",
              .timeLimit(.minutes(30)), arguments: TestQueue.Store.allCases)
        func forcedShutdown(_ store: TestQueue.Store) async throws {
            try await withTemporaryDirectory { directory in
                let scene = try await QueueScene(in: directory, store: store)
                let input = try await makeLongSample(in: directory, seconds: 20)
                let output = scene.output("long.mp4")

                let (log, id, child, reaction) = try await withProcessSlot {
                    let worker = try scene.queue.startWorker(["--concurrency", "1"])
                    defer { killIfRunning(worker) }
                    let id = try await scene.queue.submit(input, output)
                    let child = try await scene.runningChild(of: id, writing: output, attempt: 1)
                    try await Task.sleep(for: .milliseconds(300))

                    let start = ContinuousClock.now
                    worker.send(signal: SIGTERM)
                    try await Task.sleep(for: .milliseconds(300))
                    worker.send(signal: SIGTERM)
                    let log = await worker.wait(timeout: .seconds(30))
                    return (log, id, child, ContinuousClock.now - start)
                }

                #expect(log.exitCode == 0, "\(log)")
                expectCleanWorkerLog(log)
                #expect(reaction < .seconds(5), "took \(reaction) to stop after the second signal")
                let (job, statusRun) = try await scene.queue.status(id)
                #expect(statusRun.exitCode == 3, "\(statusRun)")
                #expect(job.state == "queued" && job.attempts == 0 && !job.retrying,
                        "back in the queue with the attempt not counted: \(job)")
                #expect(!ProcessTable.isAlive(child), "the job's child \(child) outlived its worker")
                #expect(scene.noChildLeft(for: output))
                #expect(directoryListing(scene.outputs).isEmpty,
                        "no OUT and no temporary file: \(directoryListing(scene.outputs))")
                #expect(try await scene.queue.stateHistory(id) == ["queued", "running", "queued"])
            }
        }

        @Test("cancel of a running job: cancelled at once, child stopped, nothing written",
              .timeLimit(.minutes(30)), arguments: TestQueue.Store.allCases)
        func cancelRunning(_ store: TestQueue.Store) async throws {
            try await withTemporaryDirectory { directory in
                let scene = try await QueueScene(in: directory, store: store)
                let input = try await makeLongSample(in: directory, seconds: 20)
                let output = scene.output("long.mp4")

                try await withProcessSlot {
                    let worker = try scene.queue.startWorker(["--concurrency", "1"])
                    defer { killIfRunning(worker) }
                    let id = try await scene.queue.submit(input, output)
                    let child = try await scene.runningChild(of: id, writing: output, attempt: 1)
                    try await Task.sleep(for: .milliseconds(300))

                    let cancel = try await scene.queue.run("cancel", [String(id)])
                    let cancelledAt = ContinuousClock.now
                    #expect(cancel.exitCode == 0, "\(cancel)")
                    #expect(cancel.stdoutLines.count == 1 && cancel.stdoutText.contains("cancelled"), "\(cancel)")
                    let (job, statusRun) = try await scene.queue.status(id)
                    #expect(statusRun.exitCode == 2 && job.state == "cancelled", "\(statusRun)")
                    #expect(job.finishedAt.flatMap(QueueTime.parse) != nil, "\(job)")

                    let stopped = await eventually(within: .seconds(2)) {
                        !ProcessTable.isAlive(child) && directoryListing(scene.outputs).isEmpty
                    }
                    #expect(stopped, "2 s after cancel: child alive \(ProcessTable.isAlive(child)), out/ holds \(directoryListing(scene.outputs))")
                    if stopped { #expect(ContinuousClock.now - cancelledAt < .seconds(2)) }

                    // Nothing turns up later either, and the worker carries on.
                    try await Task.sleep(for: .seconds(1))
                    #expect(directoryListing(scene.outputs).isEmpty, "\(directoryListing(scene.outputs))")
                    #expect(worker.isRunning, "cancelling a job must not stop its worker")
                    let log = await stopWorker(worker)
                    #expect(log.exitCode == 0, "\(log)")
                    expectCleanWorkerLog(log)
                    #expect(try await scene.queue.stateHistory(id) == ["queued", "running", "cancelled"])
                    #expect(try await scene.queue.job(id).state == "cancelled")
                }
            }
        }

        @Test("a worker idle for 2 s starts a new job within a second of its submit", .timeLimit(.minutes(30)),
              arguments: TestQueue.Store.allCases)
        func idleWorkerWakesUp(_ store: TestQueue.Store) async throws {
            try await withTemporaryDirectory { directory in
                let scene = try await QueueScene(in: directory, store: store)
                let output = scene.output("one.mp4")
                try await withProcessSlot {
                    let worker = try scene.queue.startWorker(["--concurrency", "1"])
                    defer { killIfRunning(worker) }
                    try await Task.sleep(for: .seconds(2))
                    #expect(worker.isRunning, "the worker ended while idle")

                    let id = try await scene.queue.submit(Locations.fixture("one_frame.mp4"), output)
                    let started = try await scene.queue.waitForJob(id, timeout: .seconds(10)) { $0.startedAt != nil }
                    let submittedAt = try #require(QueueTime.parse(started.submittedAt), "\(started)")
                    let startedAt = try #require(QueueTime.parse(started.startedAt), "never started: \(started)")
                    let latency = startedAt.timeIntervalSince(submittedAt)
                    #expect(latency >= 0 && latency < 1, "submit to start took \(latency) s on an idle worker")

                    let job = try await scene.finished(id, timeout: .seconds(30))
                    #expect(job.state == "succeeded", "\(job)")
                    let log = await stopWorker(worker)
                    #expect(log.exitCode == 0, "\(log)")
                    expectCleanWorkerLog(log)
                }
            }
        }
    }
}
