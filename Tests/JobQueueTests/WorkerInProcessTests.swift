import Foundation
import Testing
@testable import JobQueue

/// The `Worker` run in-process with a scripted handler (`ScriptedHandler`) on the real stores:
/// what it records in the store when attempts crash, fail, lose their lease, cannot run on this
/// box, or publish and die; how it stops gracefully, by force, when drained, and while the
/// store is down or stuck. Everything is checked through the store, as another process sees it.
///
/// One test at a time: dozens of workers in this one process, each waking every poll interval
/// beside the end-to-end suites' load, starved each other of the runner's two cooperative threads
/// (an attempt's outcome took over 20 s to be recorded in a loaded full run).
@Suite("Worker in-process: outcomes, lost leases, shutdown, drain, publications, health, store outages",
       .serialized, .timeLimit(.minutes(2)))
struct WorkerInProcessTests {
    @Test("a crashed attempt is retried, and a job that crashes on its last attempt is failed as poison",
          arguments: StoreKind.allCases)
    func crashIsRetriedThenPoison(_ kind: StoreKind) async throws {
        try await withTestDatabase(kind) { database in
            let store = try await database.open()
            let handler = ScriptedHandler { _ in .crash(signal: SIGSEGV) }
            let worker = WorkerUnderTest.start(store: try await database.open(), handler: handler)
            let job = try await store.submitOne(newJob(maxAttempts: 3))
            await eventually("job \(job.id) fails") { try await store.existing(job.id).state == .failed }

            let failed = try await store.existing(job.id)
            #expect(failed.attempts == 3 && failed.attemptsUsed == 3 && failed.errorCode == "crashed")
            #expect(failed.error?.hasPrefix("poison:") == true && failed.error?.contains("SIGSEGV") == true
                    && failed.error?.contains("attempt 3 of 3") == true, "\(failed.error ?? "")")
            #expect(try await store.history(job.id) == ["queued", "running", "queued", "running", "queued", "running", "failed"])
            let requeues = try await store.jobEvents(job.id).filter { $0.from == "running" && $0.to == "queued" }
            #expect(requeues.allSatisfy { $0.errorCode == "crashed" && $0.detail?.contains("SIGSEGV") == true })
            #expect(handler.started == (1...3).map { LeasedJob(id: job.id, attempt: $0) })
            #expect(Set(handler.discarded) == Set(handler.started), "every crashed attempt's leftovers removed")
            try await worker.stop()
        }
    }

    @Test("a permanent failure fails the job at once; a transient one is retried", arguments: StoreKind.allCases)
    func permanentFailsAtOnceTransientRetries(_ kind: StoreKind) async throws {
        try await withTestDatabase(kind) { database in
            let store = try await database.open()
            let handler = ScriptedHandler { job in
                if job.payload.contains("permanent") {
                    return .fail(JobFailure("no video stream in /in/a.avi", code: "no_video_stream", permanent: true))
                }
                return job.attempts == 1 ? .fail(JobFailure("disk full", code: "disk_full", permanent: false)) : .succeed(result: "ok")
            }
            let worker = WorkerUnderTest.start(store: try await database.open(), handler: handler)
            let permanent = try await store.submitOne(newJob("permanent", maxAttempts: 5))
            let transient = try await store.submitOne(newJob("transient", maxAttempts: 5))
            await eventually("both jobs end") {
                let first = try await store.existing(permanent.id), second = try await store.existing(transient.id)
                return first.state.isFinished && second.state.isFinished
            }

            let failed = try await store.existing(permanent.id)
            #expect(failed.state == .failed && failed.attempts == 1 && failed.failedWithoutRetry)
            #expect(failed.error == "no video stream in /in/a.avi" && failed.errorCode == "no_video_stream")
            #expect(try await store.history(permanent.id) == ["queued", "running", "failed"])

            let retried = try await store.existing(transient.id)
            #expect(retried.state == .succeeded && retried.attempts == 2 && retried.result == "ok")
            #expect(try await store.jobEvents(transient.id).map { $0.errorCode ?? "-" } == ["-", "-", "disk_full", "-", "-"])
            try await worker.stop()
        }
    }

    @Test("a job cancelled while it runs: its attempt is stopped and discarded, the job stays cancelled, and the stop is settled so a retry runs at once",
          arguments: StoreKind.allCases)
    func leaseLostWhileRunning(_ kind: StoreKind) async throws {
        try await withTestDatabase(kind) { database in
            let store = try await database.open()
            let handler = ScriptedHandler { job in job.attempts == 1 ? .blockUntilCancelled : .succeed(result: nil) }
            let worker = WorkerUnderTest.start(store: try await database.open(), handler: handler)
            let job = try await store.submitOne(newJob())
            await eventually("attempt 1 runs") { handler.started.count == 1 }

            #expect(try await store.cancel(id: job.id)?.state == .cancelled)
            let attempt = LeasedJob(id: job.id, attempt: 1)
            await eventually("the attempt's task is cancelled") { handler.cancelled == [attempt] }
            await eventually("its stop is settled") { try await store.existing(job.id).leaseExpiresAt == nil }
            #expect(handler.discarded == [attempt])
            let cancelled = try await store.existing(job.id)
            #expect(cancelled.state == .cancelled && cancelled.leaseOwner == worker.id, "the job stays cancelled")
            #expect(worker.log.contains("job \(job.id) - worker=\(worker.id) cancelled; stopped"), "\(worker.log.all)")

            #expect(try await store.retry(id: job.id)?.state == .queued)
            await eventually("the retried job succeeds") { try await store.existing(job.id).state == .succeeded }
            let done = try await store.existing(job.id)
            #expect(done.attempts == 2 && done.attemptsUsed == 1)
            #expect(try await store.history(job.id) == ["queued", "running", "cancelled", "queued", "running", "succeeded"])
            try await worker.stop()
        }
    }

    @Test("a graceful stop lets running jobs finish, claims nothing more, then returns", arguments: StoreKind.allCases)
    func gracefulShutdown(_ kind: StoreKind) async throws {
        try await withTestDatabase(kind) { database in
            let store = try await database.open()
            let gate = Gate()
            let handler = ScriptedHandler { _ in .wait(gate, then: { .succeed(result: "finished") }) }
            let worker = WorkerUnderTest.start(store: try await database.open(), handler: handler)
            let running = try await store.submitOne(newJob("running"))
            await eventually("the job runs") { handler.started.count == 1 }

            await eventually("the job's progress is recorded") { try await store.existing(running.id).progress == 0.1 }

            worker.shutdown.request(.graceful)
            await eventually("the worker says it is stopping") { worker.log.contains("stopping after its 1 running job(s)") }
            await eventually("the store shows it stopping") {
                try await store.workerNamed(worker.id).state(at: try await store.now()) == .stopping
            }
            let waiting = try await store.submitOne(newJob("waiting"))
            try await Task.sleep(for: .milliseconds(500))
            #expect(!worker.hasEnded, "it waits for its running job")
            #expect(handler.started.count == 1, "and claims nothing")
            #expect(try await store.existing(waiting.id).state == .queued)

            gate.open()
            try await worker.ended()
            #expect(try await store.existing(running.id).state == .succeeded)
            #expect(try await store.existing(waiting.id).state == .queued)
            #expect(try await store.workerNamed(worker.id).state(at: try await store.now()) == .stopped)
            #expect(try await store.workerEvents(worker.id).map(\.to) == ["online", "stopping", "stopped"])
        }
    }

    @Test("a second stop request stops running jobs and puts them back without counting their attempt",
          arguments: StoreKind.allCases)
    func forcedShutdown(_ kind: StoreKind) async throws {
        try await withTestDatabase(kind) { database in
            let store = try await database.open()
            let handler = ScriptedHandler { _ in .blockUntilCancelled }
            let worker = WorkerUnderTest.start(store: try await database.open(), handler: handler)
            let jobs = try await store.submit([newJob("a", maxAttempts: 1), newJob("b", maxAttempts: 1)]).map(\.job)
            await eventually("both jobs run") { handler.started.count == 2 }

            worker.shutdown.escalate()
            await eventually("the worker says it is stopping") { worker.log.contains("stopping after its 2 running job(s)") }
            worker.shutdown.escalate()
            try await worker.ended()
            #expect(worker.log.contains("stopping now: 2 running job(s) go back to the queue"), "\(worker.log.all)")
            #expect(Set(handler.cancelled) == Set(handler.started) && Set(handler.discarded) == Set(handler.started))
            for job in jobs {
                let back = try await store.existing(job.id)
                #expect(back.state == .queued && back.attempts == 1 && back.attemptsUsed == 0 && back.errorCode == "worker_stopped")
                #expect(back.leaseExpiresAt == nil)
            }
            // Their one allowed attempt is still theirs.
            let again = try await store.claim(worker: "next", queues: [], limit: 2, leaseSeconds: longLease)
            #expect(again.map(\.attempts) == [2, 2] && again.map(\.attemptsUsed) == [1, 1])
            #expect(try await store.workerEvents(worker.id).map(\.to) == ["online", "stopping", "stopped"])
        }
    }

    @Test("a draining worker returns once nothing is queued, retrying or running", arguments: StoreKind.allCases)
    func drain(_ kind: StoreKind) async throws {
        try await withTestDatabase(kind) { database in
            let store = try await database.open()
            let handler = ScriptedHandler { job in
                job.payload.contains("flaky") && job.attempts == 1
                    ? .fail(JobFailure("flaky", code: "io_error", permanent: false)) : .succeed(result: nil)
            }
            let jobs = try await store.submit((0..<6).map { newJob("j\($0)") } + [newJob("flaky")]).map(\.job)
            let worker = WorkerUnderTest.start(store: try await database.open(), handler: handler,
                                               configuration: WorkerUnderTest.configuration(drain: true))
            try await worker.ended()
            for job in jobs { #expect(try await store.existing(job.id).state == .succeeded) }
            #expect(handler.started.count == jobs.count + 1)
            #expect(try await store.workerNamed(worker.id).state(at: try await store.now()) == .stopped)
        }
    }

    @Test("a stop request through the store (`vqueue worker stop`) stops the worker", arguments: StoreKind.allCases)
    func stopRequestThroughTheStore(_ kind: StoreKind) async throws {
        try await withTestDatabase(kind) { database in
            let store = try await database.open()
            let worker = WorkerUnderTest.start(store: try await database.open(), handler: ScriptedHandler { _ in .succeed(result: nil) })
            await eventually("the worker is registered") { try await store.workers().contains { $0.id == worker.id } }
            #expect(try await store.requestStop(worker: nil, level: .graceful) == [worker.id])
            try await worker.ended()
            #expect(try await store.workerNamed(worker.id).state(at: try await store.now()) == .stopped)
        }
    }

    @Test("a worker takes jobs from its queues only", arguments: StoreKind.allCases)
    func workerTakesItsQueuesOnly(_ kind: StoreKind) async throws {
        try await withTestDatabase(kind) { database in
            let store = try await database.open()
            let handler = ScriptedHandler { _ in .succeed(result: nil) }
            var configuration = WorkerUnderTest.configuration()
            configuration.queues = ["fast", "urgent"]
            let worker = WorkerUnderTest.start(store: try await database.open(), handler: handler, configuration: configuration)
            let jobs = try await store.submit([newJob("slow", queue: "slow"), newJob("fast", queue: "fast"),
                                               newJob("urgent", queue: "urgent")]).map(\.job)
            await eventually("its queues' jobs succeed") {
                let fast = try await store.existing(jobs[1].id), urgent = try await store.existing(jobs[2].id)
                return fast.state == .succeeded && urgent.state == .succeeded
            }
            try await Task.sleep(for: .milliseconds(300))
            #expect(try await store.existing(jobs[0].id).state == .queued, "another queue's job is left alone")
            #expect(try await store.workerNamed(worker.id).queues == ["fast", "urgent"])
            try await worker.stop()
        }
    }

    @Test("a worker whose last attempts all failed on jobs that then succeeded elsewhere pauses itself, unhealthy, saying why",
          arguments: StoreKind.allCases)
    func failureStreakPausesTheWorker(_ kind: StoreKind) async throws {
        try await withTestDatabase(kind) { database in
            let store = try await database.open()
            let gate = Gate()
            let handler = ScriptedHandler { job in
                job.payload.contains("busy") ? .wait(gate, then: { .succeed(result: nil) })
                    : .fail(JobFailure("could not write the output", code: "io_error", permanent: false))
            }
            var configuration = WorkerUnderTest.configuration(concurrency: 1, leaseSeconds: 3)
            configuration.failureStreakLimit = 2
            configuration.retry = RetryPolicy(baseDelay: 600, maximumDelay: 600)
            let worker = WorkerUnderTest.start(store: try await database.open(), handler: handler, configuration: configuration)
            let failing = try await store.submit([newJob("x"), newJob("y")]).map(\.job)
            await eventually("both jobs failed here once") {
                let x = try await store.existing(failing[0].id), y = try await store.existing(failing[1].id)
                return x.isRetrying && y.isRetrying
            }
            // Keep the worker's one slot busy while the failed jobs succeed on another worker.
            _ = try await store.submitOne(newJob("busy"))
            await eventually("the worker is busy") { handler.started.count == 3 }
            for job in failing {
                _ = try await store.cancel(id: job.id)
                _ = try await store.retry(id: job.id)
                let elsewhere = try await store.claimOne("elsewhere")
                #expect(elsewhere.id == job.id)
                _ = try await store.complete([JobCompletion(job: elsewhere.lease, result: nil)], worker: "elsewhere")
            }

            let reason = "its last 2 attempts failed on jobs that then succeeded on other workers; paused for 300 s"
            await eventually("the worker pauses itself") {
                try await store.workers().first { $0.id == worker.id }?.unhealthyReason == reason
            }
            #expect(try await store.workerNamed(worker.id).state(at: try await store.now()) == .unhealthy)
            #expect(try await store.workerEvents(worker.id).last?.detail == reason)
            let waiting = try await store.submitOne(newJob("waiting"))
            gate.open()
            try await Task.sleep(for: .milliseconds(500))
            #expect(try await store.existing(waiting.id).state == .queued, "a paused worker takes no jobs")
            try await worker.stop()
        }
    }
}
