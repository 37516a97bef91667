import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

// Two things a queue test does to a job in flight: act while it runs, and kill its worker under it.

extension QueueScene {
    /// Starts a worker, submits IN OUT OPTIONS, and once the job is caught running does `act` with
    /// its id; then waits for the job to end and stops the worker. Returns the job and the worker's log.
    func job(_ input: URL, _ output: URL, _ options: [String],
             whileRunning act: (Int64) async throws -> Void) async throws -> (job: JobStatus, log: ProcessResult) {
        try await withProcessSlot {
            let worker = try queue.startWorker(["--concurrency", "1"])
            defer { killIfRunning(worker) }
            let id = try await queue.submit(input, output, options)
            _ = try await queue.jobCaughtRunning(id, timeout: .seconds(300))
            try await act(id)
            let job = try await finished(id, timeout: .seconds(600))
            _ = await eventually(within: .seconds(20)) { noChildLeft(for: output) }
            return (job, await stopWorker(worker))
        }
    }

    /// Submits IN OUT OPTIONS to a worker with a 2 s lease, kills it with SIGKILL (its child dies
    /// with it) once attempt 1 runs in a child, then lets a second worker take the job over. Returns
    /// the job once it has ended, and the second worker's log.
    func jobAfterKilledWorker(_ input: URL, _ output: URL, _ options: [String],
                              sourceLocation: SourceLocation = #_sourceLocation) async throws -> (job: JobStatus, log: ProcessResult) {
        let workerArguments = ["--lease", "2s", "--concurrency", "1"]
        return try await withProcessSlot {
            let first = try queue.startWorker(workerArguments)
            defer { killIfRunning(first) }
            let id = try await queue.submit(input, output, options)
            let child = try await runningChild(of: id, writing: output, attempt: 1)
            try await Task.sleep(for: .milliseconds(500))
            first.send(signal: SIGKILL)
            _ = await first.wait(timeout: .seconds(10))
            #expect(await eventually(within: .seconds(3)) { !ProcessTable.isAlive(child) }, "the child kept running",
                    sourceLocation: sourceLocation)
            let second = try queue.startWorker(workerArguments)
            defer { killIfRunning(second) }
            let job = try await finished(id, timeout: .seconds(600))
            return (job, await stopWorker(second))
        }
    }
}
