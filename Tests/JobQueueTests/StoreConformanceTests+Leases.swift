import Foundation
import Testing
@testable import JobQueue

// MARK: - Leases and progress

extension StoreConformanceTests {
    @Test("a heartbeat renews the worker's own leases, and only those", arguments: StoreKind.allCases)
    func heartbeatRenewsLeases(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            try await store.registerWorker(workerRecord("w1"))
            try await store.registerWorker(workerRecord("w2"))
            _ = try await store.submit([newJob("mine"), newJob("other")])
            let mine = try await store.claimOne("w1", lease: shortLease)
            let other = try await store.claimOne("w2", lease: shortLease)
            let before = try await store.now()
            try await store.heartbeat(worker: "w1", jobs: [mine.lease, other.lease], leaseSeconds: longLease)
            #expect(try #require(try await store.existing(mine.id).leaseExpiresAt) >= before + longLease - 1)
            #expect(try await store.existing(other.id).leaseExpiresAt == other.leaseExpiresAt, "another worker's lease is its own")
            #expect(try await store.workerNamed("w1").heartbeatAt >= before - 1)

            await outlast(lease: shortLease)
            let report = try await store.rescue(retry: noBackoff)
            #expect(report.rescued.map(\.id) == [other.id], "only the lease nobody renewed expired")
            #expect(try await store.existing(mine.id).state == .running)
            #expect(try await store.leasesLost(worker: "w1", jobs: [mine.lease]).isEmpty)
        }
    }

    @Test("leasesLost reports cancelled and taken-over attempts, not held ones", arguments: StoreKind.allCases)
    func leasesLostReportsCancelledAndTakenOver(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let jobs = try await store.submit([newJob("held"), newJob("cancelled"), newJob("taken")]).map(\.job)
            let held = try await store.claimOne("w1", lease: longLease)
            let cancelled = try await store.claimOne("w1", lease: longLease)
            let taken = try await store.claimOne("w1", lease: shortLease)
            #expect([held.id, cancelled.id, taken.id] == jobs.map(\.id))
            #expect(try await store.leasesLost(worker: "w1", jobs: [held.lease, cancelled.lease, taken.lease]).isEmpty)
            #expect(try await store.leasesLost(worker: "w1", jobs: []).isEmpty)

            _ = try await store.cancel(id: cancelled.id)
            try await store.heartbeat(worker: "w1", jobs: [held.lease], leaseSeconds: longLease)
            await outlast(lease: shortLease)
            #expect(try await store.rescue(retry: noBackoff).rescued.map(\.id) == [taken.id])
            let takeover = try await store.claimOne("w2")
            #expect(takeover.id == taken.id && takeover.attempts == 2)

            #expect(try await store.leasesLost(worker: "w1", jobs: [held.lease, cancelled.lease, taken.lease])
                    == [cancelled.lease, taken.lease])
            #expect(try await store.leasesLost(worker: "w2", jobs: [takeover.lease]).isEmpty)
            #expect(try await store.leasesLost(worker: "w2", jobs: [taken.lease]) == [taken.lease], "a lease names one attempt")
        }
    }

    @Test("progress is recorded for the attempt that holds the job, and only for it", arguments: StoreKind.allCases)
    func progressOnlyForTheHeldAttempt(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let job = try await store.submitOne(newJob())
            let first = try await store.claimOne("w1")
            try await store.recordProgress([first.lease: JobProgress(fraction: 0.25, fps: 48, eta: 30)])
            var now = try await store.existing(job.id)
            #expect(now.progress == 0.25 && now.fps == 48 && now.eta == 30)
            try await store.recordProgress([LeasedJob(id: job.id, attempt: 7): JobProgress(fraction: 0.9)])
            #expect(try await store.existing(job.id).progress == 0.25, "another attempt's progress is ignored")

            _ = try await store.fail(first.lease, worker: "w1", decision: AttemptDecision(message: "x", code: "io_error", retryAfter: 0))
            now = try await store.existing(job.id)
            #expect(now.progress == nil && now.fps == nil && now.eta == nil, "a queued job has no progress")
            try await store.recordProgress([first.lease: JobProgress(fraction: 0.5)])
            #expect(try await store.existing(job.id).progress == nil, "nor does a finished attempt record any")
            let second = try await store.claimOne("w2")
            #expect(second.progress == 0)
            try await store.recordProgress([first.lease: JobProgress(fraction: 0.75), second.lease: JobProgress(fraction: 0.1)])
            #expect(try await store.existing(job.id).progress == 0.1)
            try await store.recordProgress([:])
        }
    }
}

// MARK: - Outcomes: fail, release, complete

extension StoreConformanceTests {
    @Test("fail with a retry decision queues the job again later, with its error and code", arguments: StoreKind.allCases)
    func failWithRetry(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let job = try await store.submitOne(newJob(maxAttempts: 3))
            let attempt = try await store.claimOne("w1")
            try await store.recordProgress([attempt.lease: JobProgress(fraction: 0.5, fps: 10, eta: 5)])
            let before = try await store.now()
            let decision = AttemptDecision(message: "could not read the input: I/O error", code: "io_error", retryAfter: 45)
            #expect(try await store.fail(attempt.lease, worker: "w1", decision: decision))
            let after = try await store.now()
            let queued = try await store.existing(job.id)
            #expect(queued.state == .queued && queued.isRetrying && queued.attempts == 1 && queued.attemptsUsed == 1)
            #expect(queued.runAt >= before + 44.5 && queued.runAt <= after + 45.5, "retry after 45 s: \(queued.runAt - before)")
            #expect(queued.error == decision.message && queued.errorCode == "io_error")
            #expect(queued.leaseExpiresAt == nil && queued.progress == nil && queued.finishedAt == nil)

            let event = try #require(try await store.jobEvents(job.id).last)
            #expect(event.from == "running" && event.to == "queued" && event.worker == "w1")
            #expect(event.detail == decision.message && event.errorCode == "io_error")
        }
    }

    @Test("fail with a final decision fails the job for good and counts against its worker", arguments: StoreKind.allCases)
    func failFinal(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            try await store.registerWorker(workerRecord("w1"))
            let job = try await store.submitOne(newJob(maxAttempts: 3))
            let attempt = try await store.claimOne("w1")
            let decision = AttemptDecision.after(JobFailure("no video stream", code: "no_video_stream", permanent: true),
                                                 of: attempt, policy: noBackoff)
            #expect(decision.isFinal)
            #expect(try await store.fail(attempt.lease, worker: "w1", decision: decision))
            let failed = try await store.existing(job.id)
            #expect(failed.state == .failed && failed.failedWithoutRetry && failed.finishedAt != nil)
            #expect(failed.error == "no video stream" && failed.errorCode == "no_video_stream" && failed.leaseExpiresAt == nil)
            let event = try #require(try await store.jobEvents(job.id).last)
            #expect(event.to == "failed" && event.detail == "no video stream" && event.errorCode == "no_video_stream")
            #expect(try await store.workerNamed("w1").jobsFailed == 1)
            #expect(try await store.fail(attempt.lease, worker: "w1", decision: decision) == false, "recorded once")
        }
    }

    @Test("fail is refused when the worker no longer holds the attempt", arguments: StoreKind.allCases)
    func failRefusedWithoutTheLease(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let job = try await store.submitOne(newJob())
            let attempt = try await store.claimOne("w1")
            let decision = AttemptDecision(message: "x", code: "io_error", retryAfter: 0)
            #expect(try await store.fail(attempt.lease, worker: "w2", decision: decision) == false, "another worker")
            #expect(try await store.fail(LeasedJob(id: job.id, attempt: 2), worker: "w1", decision: decision) == false,
                    "another attempt")
            #expect(try await store.existing(job.id) == attempt, "nothing changed")
            _ = try await store.cancel(id: job.id)
            #expect(try await store.fail(attempt.lease, worker: "w1", decision: decision) == false, "a cancelled job")
            #expect(try await store.existing(job.id).state == .cancelled)
        }
    }

    @Test("release puts an attempt back without counting it; the next claim is a new attempt number",
          arguments: StoreKind.allCases)
    func releaseDoesNotCountTheAttempt(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let job = try await store.submitOne(newJob(maxAttempts: 2))
            let first = try await store.claimOne("w1")
            try await store.release([first.lease], worker: "w2", reason: "not mine", code: "worker_stopped", delay: 0)
            #expect(try await store.existing(job.id).state == .running, "another worker cannot release it")

            try await store.release([first.lease], worker: "w1", reason: "worker w1 was stopped", code: "worker_stopped", delay: 0)
            let released = try await store.existing(job.id)
            #expect(released.state == .queued && released.attempts == 1 && released.attemptsUsed == 0 && !released.isRetrying)
            #expect(released.error == "worker w1 was stopped" && released.errorCode == "worker_stopped")
            #expect(released.leaseExpiresAt == nil)
            let event = try #require(try await store.jobEvents(job.id).last)
            #expect(event.to == "queued" && event.errorCode == "worker_stopped")

            let second = try await store.claimOne("w2")
            #expect(second.attempts == 2 && second.attemptsUsed == 1)

            // Released with a delay: not due before it.
            try await store.release([second.lease], worker: "w2", reason: "box unhealthy", code: "worker_unhealthy", delay: 60)
            #expect(try await store.claim(worker: "w3", queues: [], limit: 1, leaseSeconds: longLease).isEmpty)
            #expect(try await store.existing(job.id).attemptsUsed == 0)
        }
    }

    @Test("complete records success only for the worker holding the attempt", arguments: StoreKind.allCases)
    func completeNeedsTheLease(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            try await store.registerWorker(workerRecord("w1"))
            let jobs = try await store.submit([newJob("a"), newJob("b")]).map(\.job)
            let a = try await store.claimOne("w1")
            let b = try await store.claimOne("w1")
            #expect(try await store.complete([JobCompletion(job: a.lease, result: "{}")], worker: "w2").isEmpty, "not w2's")
            #expect(try await store.complete([JobCompletion(job: LeasedJob(id: a.id, attempt: 2), result: nil)],
                                             worker: "w1").isEmpty, "not that attempt")
            #expect(try await store.existing(a.id).state == .running)

            let recorded = try await store.complete([JobCompletion(job: a.lease, result: #"{"size":1}"#),
                                                     JobCompletion(job: b.lease, result: nil)], worker: "w1")
            #expect(recorded == [a.lease, b.lease])
            for job in jobs {
                let done = try await store.existing(job.id)
                #expect(done.state == .succeeded && done.progress == 1 && done.finishedAt != nil && done.leaseExpiresAt == nil)
                #expect(done.error == nil && done.errorCode == nil && done.publishing == nil)
                let event = try #require(try await store.jobEvents(job.id).last)
                #expect(event.from == "running" && event.to == "succeeded" && event.worker == "w1" && event.detail == nil)
            }
            #expect(try await store.existing(a.id).result == #"{"size":1}"#)
            #expect(try await store.workerNamed("w1").jobsDone == 2)
            #expect(try await store.complete([JobCompletion(job: a.lease, result: nil)], worker: "w1").isEmpty, "once")
            #expect(try await store.history(a.id) == ["queued", "running", "succeeded"])
        }
    }

    @Test("cancel stops queued and running jobs; finished and unknown ones are left as they are", arguments: StoreKind.allCases)
    func cancelQueuedAndRunning(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let jobs = try await store.submit([newJob("queued"), newJob("running"), newJob("done")]).map(\.job)
            _ = try await store.claimOne("w1")
            let running = try await store.claimOne("w1")
            let done = try await store.claimOne("w1")
            _ = try await store.complete([JobCompletion(job: done.lease, result: nil)], worker: "w1")

            // The first claim took "queued"; queue another to cancel while queued.
            let queued = try await store.submitOne(newJob("still queued"))
            let cancelledQueued = try #require(try await store.cancel(id: queued.id))
            #expect(cancelledQueued.state == .cancelled && cancelledQueued.leaseExpiresAt == nil)
            #expect(try await store.history(queued.id) == ["queued", "cancelled"])

            let cancelledRunning = try #require(try await store.cancel(id: running.id))
            #expect(cancelledRunning.state == .cancelled && cancelledRunning.leaseOwner == "w1")
            let event = try #require(try await store.jobEvents(running.id).last)
            #expect(event.from == "running" && event.to == "cancelled" && event.worker == "w1")

            #expect(try await store.cancel(id: done.id)?.state == .succeeded, "a finished job stays as it ended")
            #expect(try await store.cancel(id: jobs[2].id + 1000) == nil)
            #expect(try await store.retry(id: jobs[2].id + 1000) == nil)
            #expect(try await store.retry(id: done.id)?.state == .succeeded, "only failed and cancelled jobs are retried")
        }
    }

    @Test("cancelBatch and retryBatch act on a batch's unfinished and failed jobs", arguments: StoreKind.allCases)
    func batchCancelAndRetry(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let (batchID, jobs) = try await store.submitBatch([newJob("a", target: "/o/a"), newJob("b", target: "/o/b"),
                                                               newJob("c", target: "/o/c")])
            let a = try await store.claimOne("w1")
            let b = try await store.claimOne("w1")
            _ = try await store.complete([JobCompletion(job: a.lease, result: nil)], worker: "w1")
            _ = try await store.fail(b.lease, worker: "w1", decision: AttemptDecision(message: "bad", code: "truncated", retryAfter: nil))
            let afterCancel = try #require(try await store.cancelBatch(id: batchID))
            #expect(afterCancel.map(\.state) == [.succeeded, .failed, .cancelled])
            #expect(try await store.cancelBatch(id: batchID + 99) == nil)

            let afterRetry = try #require(try await store.retryBatch(id: batchID))
            #expect(afterRetry.map(\.state) == [.succeeded, .queued, .cancelled], "failed jobs only")
            #expect(afterRetry[1].attemptsUsed == 0 && afterRetry[1].attempts == 1)
            #expect(try await store.retryBatch(id: batchID + 99) == nil)
            let again = try await store.claimOne("w2")
            #expect(again.id == jobs[1].id && again.attempts == 2 && again.attemptsUsed == 1)

            // A retried batch job whose target another job took meanwhile is refused, and nothing changes.
            _ = try await store.fail(again.lease, worker: "w2", decision: AttemptDecision(message: "bad", code: "truncated", retryAfter: nil))
            let squatter = try await store.submitOne(newJob("squatter", target: "/o/b"))
            #expect(await storeError { _ = try await store.retryBatch(id: batchID) } == .targetBusy(target: "/o/b", jobID: squatter.id))
            #expect(try await store.existing(jobs[1].id).state == .failed)
        }
    }
}
