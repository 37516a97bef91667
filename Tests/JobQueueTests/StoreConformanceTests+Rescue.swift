import Foundation
import Testing
@testable import JobQueue

// MARK: - Publications

extension StoreConformanceTests {
    @Test("a publication whose worker died is reported by rescue, taken over by another worker and completed by it alone",
          arguments: StoreKind.allCases)
    func deadWorkersPublicationIsTakenOver(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            try await store.registerWorker(workerRecord("dead"))
            try await store.registerWorker(workerRecord("heir"))
            let job = try await store.submitOne(newJob(target: "/out/video.mp4"))
            let attempt = try await store.claimOne("dead", lease: longLease)

            #expect(try await store.beginPublishing([PendingPublication(job: LeasedJob(id: job.id, attempt: 1), token: "t",
                                                                        result: nil)], worker: "heir", leaseSeconds: 1).isEmpty,
                    "only the lease holder may publish")
            let held = try await store.beginPublishing([PendingPublication(job: attempt.lease, token: "/out/.video.tmp",
                                                                           result: #"{"bytes":9}"#)],
                                                       worker: "dead", leaseSeconds: longLease)
            #expect(held == [attempt.lease])
            let publishing = try await store.existing(job.id)
            #expect(publishing.state == .running && publishing.publishing == "/out/.video.tmp" && publishing.result == #"{"bytes":9}"#)
            #expect(try await store.cancel(id: job.id)?.state == .running, "a job being put in place is past cancelling")

            #expect(try await store.takeOverPublication(publishing, worker: "heir", leaseSeconds: longLease) == false,
                    "not while its lease holds")
            #expect(try await store.rescue(retry: noBackoff).publications.isEmpty)
            // The worker's last heartbeat, then it dies: no complete, no heartbeat.
            try await store.heartbeat(worker: "dead", jobs: [attempt.lease], leaseSeconds: shortLease)
            await outlast(lease: shortLease)
            let report = try await store.rescue(retry: noBackoff)
            #expect(report.publications.map(\.id) == [job.id] && report.rescued.isEmpty && report.abandoned.isEmpty)
            let reported = try #require(report.publications.first)
            #expect(reported.publishing == "/out/.video.tmp" && reported.leaseOwner == "dead" && reported.attempts == 1)
            #expect(try await store.existing(job.id).state == .running, "rescue leaves a publication to be finished")

            #expect(try await store.takeOverPublication(reported, worker: "heir", leaseSeconds: longLease))
            #expect(try await store.takeOverPublication(reported, worker: "third", leaseSeconds: longLease) == false,
                    "taken over once")
            #expect(try await store.rescue(retry: noBackoff).publications.isEmpty, "the heir's lease holds")
            let takenOver = try await store.existing(job.id)
            #expect(takenOver.leaseOwner == "heir" && takenOver.attempts == 1 && takenOver.publishing == "/out/.video.tmp")

            #expect(try await store.complete([JobCompletion(job: reported.lease, result: reported.result)], worker: "heir")
                    == [reported.lease])
            #expect(try await store.complete([JobCompletion(job: attempt.lease, result: nil)], worker: "dead").isEmpty,
                    "the dead worker's late complete is refused")
            let done = try await store.existing(job.id)
            #expect(done.state == .succeeded && done.result == #"{"bytes":9}"# && done.publishing == nil)
            #expect(try await store.history(job.id) == ["queued", "running", "succeeded"])
            #expect(try await store.jobEvents(job.id).last?.worker == "heir")
            #expect(try await store.workerNamed("heir").jobsDone == 1)
            #expect(try await store.workerNamed("dead").jobsDone == 0)
        }
    }

    @Test("a failed publication's attempt is recorded as decided and its job runs again", arguments: StoreKind.allCases)
    func lostPublicationIsRetried(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let job = try await store.submitOne(newJob(maxAttempts: 2))
            let attempt = try await store.claimOne("dead")
            _ = try await store.beginPublishing([PendingPublication(job: attempt.lease, token: "tok", result: nil)],
                                                worker: "dead", leaseSeconds: shortLease)
            await outlast(lease: shortLease)
            let reported = try #require(try await store.rescue(retry: noBackoff).publications.first)
            #expect(try await store.takeOverPublication(reported, worker: "heir", leaseSeconds: longLease))
            let decision = AttemptDecision.afterLostPublication(of: reported, policy: noBackoff)
            #expect(decision.code == "lost_lease" && !decision.isFinal)
            #expect(try await store.fail(reported.lease, worker: "heir", decision: decision))
            let queued = try await store.existing(job.id)
            #expect(queued.state == .queued && queued.publishing == nil && queued.errorCode == "lost_lease")
            #expect(try await store.claimOne("heir").attempts == 2)
        }
    }
}

// MARK: - Rescue

extension StoreConformanceTests {
    @Test("rescue queues a job whose lease expired again, as lost_lease, after a backoff", arguments: StoreKind.allCases)
    func rescueRequeuesAnExpiredLease(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let job = try await store.submitOne(newJob(maxAttempts: 3))
            let attempt = try await store.claimOne("dead", lease: shortLease)
            await outlast(lease: shortLease)
            let before = try await store.now()
            let policy = RetryPolicy(baseDelay: 100, maximumDelay: 100)
            let report = try await store.rescue(retry: policy)
            let rescued = try #require(report.rescued.first)
            #expect(report.rescued.count == 1 && rescued.id == job.id && rescued.state == .queued)
            let expected = AttemptDecision.afterLostLease(of: attempt, policy: policy)
            #expect(rescued.errorCode == "lost_lease" && rescued.error == expected.message)
            #expect(expected.message.contains("dead"), "the message names the worker: \(expected.message)")

            let queued = try await store.existing(job.id)
            #expect(queued.state == .queued && queued.isRetrying && queued.attemptsUsed == 1 && queued.leaseExpiresAt == nil)
            #expect(queued.runAt >= before + 49 && queued.runAt <= before + 101, "backoff of 50…100 s: \(queued.runAt - before)")
            #expect(queued.error == expected.message && queued.errorCode == "lost_lease")
            let event = try #require(try await store.jobEvents(job.id).last)
            #expect(event.from == "running" && event.to == "queued" && event.errorCode == "lost_lease" && event.worker == "dead")
            #expect(try await store.rescue(retry: policy).rescued.isEmpty, "rescued once")
            #expect(try await store.fail(attempt.lease, worker: "dead", decision: expected) == false,
                    "the dead worker's late outcome is refused")
        }
    }

    @Test("rescue fails a job whose last attempt's lease expired", arguments: StoreKind.allCases)
    func rescueFailsTheLastAttempt(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let job = try await store.submitOne(newJob(maxAttempts: 2))
            let first = try await store.claimOne("dead", lease: shortLease)
            await outlast(lease: shortLease)
            #expect(try await store.rescue(retry: noBackoff).rescued.first?.state == .queued)
            let second = try await store.claimOne("dead-too", lease: shortLease)
            #expect(second.attempts == 2 && first.attempts == 1)
            await outlast(lease: shortLease)
            let rescued = try #require(try await store.rescue(retry: noBackoff).rescued.first)
            let expected = AttemptDecision.afterLostLease(of: second, policy: noBackoff)
            #expect(expected.isFinal && expected.message.hasSuffix("on attempt 2 of 2"), "\(expected.message)")
            #expect(rescued.state == .failed && rescued.error == expected.message && rescued.errorCode == "lost_lease")
            let failed = try await store.existing(job.id)
            #expect(failed.state == .failed && failed.finishedAt != nil && failed.leaseExpiresAt == nil)
            #expect(failed.error == expected.message && failed.errorCode == "lost_lease")
            #expect(try await store.history(job.id) == ["queued", "running", "queued", "running", "failed"])
        }
    }

    @Test("rescue never touches a live lease", arguments: StoreKind.allCases)
    func rescueLeavesLiveLeases(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let job = try await store.submitOne(newJob())
            let attempt = try await store.claimOne("alive", lease: longLease)
            let cancelledJob = try await store.submitOne(newJob("cancelled"))
            _ = try await store.claimOne("alive", lease: longLease)
            _ = try await store.cancel(id: cancelledJob.id)
            _ = try await store.beginPublishing([PendingPublication(job: attempt.lease, token: "t", result: nil)], worker: "alive",
                                                leaseSeconds: longLease)
            try await Task.sleep(for: .milliseconds(300))
            let report = try await store.rescue(retry: noBackoff)
            #expect(report.rescued.isEmpty && report.publications.isEmpty && report.abandoned.isEmpty)
            #expect(try await store.existing(job.id).state == .running)
            #expect(try await store.existing(cancelledJob.id).leaseExpiresAt != nil)
        }
    }

    @Test("rescue as of a time (a worker's previous heartbeat) takes only the leases that had run out by then, and an abandoned attempt likewise",
          arguments: StoreKind.allCases)
    func rescueAsOfATime(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let job = try await store.submitOne(newJob())
            try await store.registerWorker(workerRecord("stalled", leaseSeconds: shortLease))
            // As a worker does: judged as of its own heartbeat's time, which the store returns (not
            // a time read later, which a loaded machine can push past the short lease).
            let before = try await store.heartbeat(worker: "stalled", jobs: [], leaseSeconds: shortLease)
            _ = try await store.claimOne("stalled", lease: shortLease)
            let cancelledJob = try await store.submitOne(newJob("cancelled"))
            _ = try await store.claimOne("stalled", lease: shortLease)
            _ = try await store.cancel(id: cancelledJob.id)
            await outlast(lease: shortLease)

            let early = try await store.rescue(retry: noBackoff, by: "other", holding: [], expiredBefore: before)
            #expect(early.rescued.isEmpty && early.abandoned.isEmpty, "both leases ran out after that time: \(early)")
            #expect(try await store.existing(job.id).state == .running)
            #expect(try await store.markSilentWorkers(except: "other", before: before).isEmpty)

            let now = try await store.now()
            let report = try await store.rescue(retry: noBackoff, by: "other", holding: [], expiredBefore: now)
            #expect(report.rescued.map(\.id) == [job.id] && report.abandoned.map(\.id) == [cancelledJob.id], "\(report)")
            #expect(try await store.existing(job.id).state == .queued)
            #expect(try await store.markSilentWorkers(except: "other", before: now).map(\.id) == ["stalled"])
        }
    }

    @Test("rescue as of a time in the future takes nothing that has not run out now", arguments: StoreKind.allCases)
    func rescueNeverTakesALiveLeaseWhateverTheTime(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let job = try await store.submitOne(newJob())
            _ = try await store.claimOne("alive", lease: longLease)
            let later = try await store.now() + longLease * 2
            let report = try await store.rescue(retry: noBackoff, by: "other", holding: [], expiredBefore: later)
            #expect(report.rescued.isEmpty, "\(report)")
            #expect(try await store.existing(job.id).state == .running)
        }
    }
}
