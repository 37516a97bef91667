import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension QueueWorkerTests {
    @Suite("A crash costs at most a retry")
    struct Crashes {
        @Test("kill -9 of a worker mid-job: another worker finishes it, nothing is left behind",
              .timeLimit(.minutes(30)), arguments: TestQueue.Store.allCases)
        func killedWorker(_ store: TestQueue.Store) async throws {
            try await withTemporaryDirectory { directory in
                let scene = try await QueueScene(in: directory, store: store)
                let input = try await makeLongSample(in: directory, seconds: 20)
                let output = scene.output("long.mp4")
                let workerArguments = ["--lease", "2s", "--concurrency", "1"]

                let (survivorLog, job, survivorPID) = try await withProcessSlot {
                    let first = try scene.queue.startWorker(workerArguments)
                    defer { killIfRunning(first) }
                    let second = try scene.queue.startWorker(workerArguments)
                    defer { killIfRunning(second) }
                    let id = try await scene.queue.submit(input, output)

                    let child = try await scene.runningChild(of: id, writing: output, attempt: 1)
                    let holder = try #require(try await scene.queue.job(id).workerPID, "running job names no worker")
                    try #require([first.pid, second.pid].contains(holder), "job held by \(holder), not a test worker")
                    let (victim, survivor) = holder == first.pid ? (first, second) : (second, first)
                    try await Task.sleep(for: .milliseconds(300))

                    victim.send(signal: SIGKILL)
                    let killed = await victim.wait(timeout: .seconds(10))
                    #expect(killed.termination == .signaled(SIGKILL), "\(killed)")
                    let childGone = await eventually(within: .seconds(3)) { !ProcessTable.isAlive(child) }
                    #expect(childGone, "the killed worker's child \(child) kept running (an orphan encoding for nobody)")

                    let job = try await scene.finished(id)
                    #expect(survivor.isRunning, "the surviving worker died")
                    let survivorLog = await stopWorker(survivor)
                    #expect(survivorLog.exitCode == 0, "\(survivorLog)")
                    return (survivorLog, job, survivor.pid)
                }

                expectCleanWorkerLog(survivorLog)
                #expect(job.state == "succeeded", "\(job)")
                #expect(job.attempts == 2, "the killed attempt and the one that finished: \(job)")
                #expect(job.workerPID == survivorPID, "the surviving worker must have finished the job: \(job)")
                #expect(try await scene.queue.stateHistory(job.id) == ["queued", "running", "queued", "running", "succeeded"])
                #expect(directoryListing(scene.outputs) == ["long.mp4"], "\(directoryListing(scene.outputs))")
                #expect(scene.noChildLeft(for: output), "a transcode of \(output.lastPathComponent) is still running")
                try await expectWebProfile(output, from: input)
            }
        }

        @Test("kill -SEGV of a job's child: the worker lives on and the job is retried",
              .timeLimit(.minutes(30)), arguments: TestQueue.Store.allCases)
        func crashedChild(_ store: TestQueue.Store) async throws {
            try await withTemporaryDirectory { directory in
                let scene = try await QueueScene(in: directory, store: store)
                // Film grain makes every frame expensive: a child that shrugged the signal off would still be busy.
                let input = try await makeLongSample(in: directory, seconds: 10, noisy: true)
                let output = scene.output("long.mp4")

                let (log, job, detail) = try await withProcessSlot {
                    let worker = try scene.queue.startWorker(["--lease", "2s", "--concurrency", "1"])
                    defer { killIfRunning(worker) }
                    let id = try await scene.queue.submit(input, output)

                    let child = try await scene.runningChild(of: id, writing: output, attempt: 1)
                    try await Task.sleep(for: .milliseconds(300))
                    kill(child, SIGSEGV)
                    let childGone = await eventually(within: .seconds(2)) { !ProcessTable.isAlive(child) }
                    #expect(childGone, "the child \(child) was still running 2 s after SIGSEGV")

                    let job = try await scene.finished(id)
                    #expect(worker.isRunning, "the worker died with its child")
                    let detail = try await scene.queue.query(
                        "SELECT detail FROM events WHERE job_id = \(id) AND from_state = 'running' AND to_state = 'queued'")
                    let log = await stopWorker(worker)
                    #expect(log.exitCode == 0, "\(log)")
                    return (log, job, detail)
                }

                expectCleanWorkerLog(log)
                #expect(job.state == "succeeded", "\(job)")
                #expect(job.attempts == 2, "the crashed attempt must be retried: \(job)")
                #expect(try await scene.queue.stateHistory(job.id) == ["queued", "running", "queued", "running", "succeeded"])
                #expect(detail.count == 1 && detail.allSatisfy { $0.contains("SIGSEGV") },
                        "the retry's reason must name the signal: \(detail)")
                #expect(log.stderrLines.contains { $0.contains("job \(job.id) queued") && $0.contains("SIGSEGV") },
                        "the worker must log the crash: \(log)")
                #expect(directoryListing(scene.outputs) == ["long.mp4"], "\(directoryListing(scene.outputs))")
                #expect(scene.noChildLeft(for: output))
                try await expectWebProfile(output, from: input)
            }
        }

        @Test("a job whose child crashes on every attempt fails as poison, naming the signal",
              .timeLimit(.minutes(30)), arguments: TestQueue.Store.allCases)
        func poisonJob(_ store: TestQueue.Store) async throws {
            try await withTemporaryDirectory { directory in
                let scene = try await QueueScene(in: directory, store: store)
                // Film grain makes every frame expensive: a child that shrugged the signal off would still be busy.
                let input = try await makeLongSample(in: directory, seconds: 10, noisy: true)
                let output = scene.output("poison.mp4")

                let (log, job, statusRun) = try await withProcessSlot {
                    let worker = try scene.queue.startWorker(["--lease", "2s", "--concurrency", "1"])
                    defer { killIfRunning(worker) }
                    let id = try await scene.queue.submit(input, output, ["--max-attempts", "2"])

                    for attempt in 1...2 {
                        let child = try await scene.runningChild(of: id, writing: output, attempt: attempt)
                        kill(child, SIGSEGV)
                        let childGone = await eventually(within: .seconds(2)) { !ProcessTable.isAlive(child) }
                        try #require(childGone, "attempt \(attempt): the child \(child) was still running 2 s after SIGSEGV")
                    }

                    let job = try await scene.finished(id, timeout: .seconds(30))
                    let statusRun = try await scene.queue.run("status", [String(id)])
                    #expect(worker.isRunning, "the worker died with its child")
                    let log = await stopWorker(worker)
                    #expect(log.exitCode == 0, "\(log)")
                    return (log, job, statusRun)
                }

                expectCleanWorkerLog(log)
                #expect(job.state == "failed", "\(job)")
                #expect(job.attempts == 2, "\(job)")
                #expect(job.error?.contains("SIGSEGV") == true, "the error must name the signal: \(job)")
                #expect(job.finishedAt.flatMap(QueueTime.parse) != nil, "\(job)")
                #expect(statusRun.exitCode == 1, "status of a failed job: \(statusRun)")
                #expect(statusRun.stdoutLines.count == 1 && statusRun.stdoutText.contains("SIGSEGV"), "\(statusRun)")
                #expect(try await scene.queue.stateHistory(job.id) == ["queued", "running", "queued", "running", "failed"])
                #expect(directoryListing(scene.outputs).isEmpty, "no OUT and no temporary file: \(directoryListing(scene.outputs))")
                #expect(scene.noChildLeft(for: output))
            }
        }
    }
}
