import Foundation
import Testing
@testable import JobQueue

// MARK: - Notifications: the outbox of jobs' and batches' ends

extension StoreConformanceTests {
    @Test("a job's end writes one notification per URL (its own, the farm's), with the end it announces; a retried attempt none",
          arguments: StoreKind.allCases)
    func jobEndsAreNotified(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            try await store.setFarmNotifyURL("http://farm.example/hook")
            #expect(try await store.farmNotifyURL() == "http://farm.example/hook")
            var own = newJob("own url")
            own.notify = "https://site.example/done?u=1"
            var same = newJob("the farm's url")
            same.notify = "http://farm.example/hook"
            let jobs = try await store.submit([own, same, newJob("farm only")]).map(\.job)
            #expect(jobs[0].notify == own.notify && jobs[2].notify == nil)

            // A failed attempt that will be retried ends nothing.
            let first = try await store.claimOne("w1")
            #expect(first.id == jobs[0].id)
            _ = try await store.fail(first.lease, worker: "w1", decision: AttemptDecision(message: "io", code: "io_error", retryAfter: 0))
            #expect(try await store.notifications(job: first.id).isEmpty)
            let again = try await store.claimOne("w1", queues: [])
            #expect(again.id == jobs[0].id)
            #expect(try await store.complete([JobCompletion(job: again.lease, result: #"{"frames":10}"#)], worker: "w1") == [again.lease])
            let succeeded = try await store.notifications(job: jobs[0].id)
            #expect(Set(succeeded.map(\.url)) == ["https://site.example/done?u=1", "http://farm.example/hook"])
            #expect(succeeded.allSatisfy { $0.event == "job.succeeded" && $0.jobState == "succeeded" && $0.result == #"{"frames":10}"#
                        && $0.state == .pending && $0.attempts == 0 && $0.batchID == nil })

            // The same URL twice is told once; a failure carries its error.
            let second = try await store.claimOne("w1")
            _ = try await store.fail(second.lease, worker: "w1", decision: AttemptDecision(message: "broken file", code: "truncated", retryAfter: nil))
            let failed = try await store.notifications(job: jobs[1].id)
            #expect(failed.map(\.url) == ["http://farm.example/hook"])
            #expect(failed.first?.event == "job.failed" && failed.first?.error == "broken file" && failed.first?.errorCode == "truncated")

            // A cancel by a user (no worker) is an end too; without a farm URL, a job with none is told nothing.
            _ = try await store.cancel(id: jobs[2].id)
            #expect(try await store.notifications(job: jobs[2].id).map(\.event) == ["job.cancelled"])
            try await store.setFarmNotifyURL(nil)
            #expect(try await store.farmNotifyURL() == nil)
            let quiet = try await store.submitOne(newJob("quiet"))
            _ = try await store.cancel(id: quiet.id)
            #expect(try await store.notifications(job: quiet.id).isEmpty)
        }
    }

    @Test("a batch's end is announced once, when its last job ends, even when one statement ends them all; again after a retry",
          arguments: StoreKind.allCases)
    func batchEndIsNotifiedOnce(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            var job = newJob("in batch")
            job.notify = "http://site.example/batch"
            let (batchID, jobs) = try await store.submitBatch([job, job, job])
            func batchEnds() async throws -> [JobNotification] {
                try await store.claimNotifications(worker: "look", limit: 100, leaseSeconds: 100).filter { $0.batchID == batchID }
            }
            let first = try await store.claimOne("w1")
            _ = try await store.complete([JobCompletion(job: first.lease, result: nil)], worker: "w1")
            #expect(try await batchEnds().isEmpty, "two jobs still to end")
            _ = try await store.cancelBatch(id: batchID)
            let ends = try await batchEnds()
            #expect(ends.count == 1 && ends.first?.event == "batch.ended" && ends.first?.url == "http://site.example/batch", "\(ends)")
            // One notification per job too.
            var perJob = 0
            for job in jobs { perJob += try await store.notifications(job: job.id).filter { $0.batchID == nil }.count }
            #expect(perJob == 3)

            // Run again, the batch ends again: a new announcement.
            _ = try await store.retry(id: jobs[1].id)
            _ = try await store.retry(id: jobs[2].id)
            let rerun1 = try await store.claimOne("w1")
            _ = try await store.complete([JobCompletion(job: rerun1.lease, result: nil)], worker: "w1")
            #expect(try await batchEnds().isEmpty)
            let rerun2 = try await store.claimOne("w1")
            _ = try await store.complete([JobCompletion(job: rerun2.lease, result: nil)], worker: "w1")
            #expect(try await batchEnds().count == 1)
        }
    }

    @Test("two jobs of a batch ending at once on two connections: the batch's end is announced exactly once",
          arguments: StoreKind.allCases)
    func batchEndsAtOnce(_ kind: StoreKind) async throws {
        try await withTestDatabase(kind) { database in
            let one = try await database.open()
            let other = try await database.open()
            try await one.setFarmNotifyURL("http://farm.example/")
            for _ in 0..<10 {
                let (batchID, _) = try await one.submitBatch([newJob("a"), newJob("b")])
                let a = try await one.claimOne("w1")
                let b = try await other.claimOne("w2")
                async let doneA = one.complete([JobCompletion(job: a.lease, result: nil)], worker: "w1")
                async let doneB = other.complete([JobCompletion(job: b.lease, result: nil)], worker: "w2")
                let (endedA, endedB) = try await (doneA, doneB)
                #expect(endedA.count == 1 && endedB.count == 1)
                let ends = try await one.claimNotifications(worker: "look", limit: 100, leaseSeconds: 100)
                    .filter { $0.batchID == batchID }
                #expect(ends.count == 1, "batch \(batchID): \(ends.count) announcements")
            }
        }
    }

    @Test("notifications are leased like jobs: claimed once, claimed again when the lease lapses, recorded only by their holder",
          arguments: StoreKind.allCases)
    func notificationLeases(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            var job = newJob("told")
            job.notify = "http://receiver.example/"
            let submitted = try await store.submitOne(job)
            _ = try await store.cancel(id: submitted.id)
            let claimed = try await store.claimNotifications(worker: "w1", limit: 10, leaseSeconds: 3600)
            #expect(claimed.count == 1 && claimed.first?.attempts == 1 && claimed.first?.age ?? -1 >= 0)
            #expect(try await store.claimNotifications(worker: "w2", limit: 10, leaseSeconds: 60).isEmpty, "leased to w1")
            // w1 goes silent; its lease lapses (moved into the past here) and w2 takes the notification over.
            _ = try await store.write { db in try db.execute("UPDATE notifications SET lease_expires_at = vqueue_now() - 1") }
            let takenOver = try await store.claimNotifications(worker: "w2", limit: 10, leaseSeconds: 60)
            #expect(takenOver.map(\.id) == claimed.map(\.id) && takenOver.first?.attempts == 2)
            // w1's late outcome is not recorded; w2's retry is, then w2's delivery.
            try await store.recordNotification(claimed[0], worker: "w1", outcome: .delivered(status: 200))
            #expect(try await store.notifications(job: submitted.id).first?.state == .pending)
            try await store.recordNotification(takenOver[0], worker: "w2", outcome: .retry(status: 503, reason: "HTTP 503", after: 0))
            let retried = try await store.notifications(job: submitted.id)
            #expect(retried.first?.state == .pending && retried.first?.lastStatus == 503 && retried.first?.lastError == "HTTP 503")
            let third = try await store.claimNotifications(worker: "w2", limit: 10, leaseSeconds: 60)
            #expect(third.first?.attempts == 3)
            try await store.recordNotification(third[0], worker: "w2", outcome: .delivered(status: 204))
            let delivered = try await store.notifications(job: submitted.id)
            #expect(delivered.first?.state == .delivered && delivered.first?.lastStatus == 204)
            #expect(try await store.claimNotifications(worker: "w2", limit: 10, leaseSeconds: 60).isEmpty)
            // Its end is an event, after the job's own.
            let events = try await store.jobEvents(submitted.id)
            #expect(events.last?.kind == "notification" && events.last?.to == "delivered"
                        && events.last?.detail?.contains("http://receiver.example/") == true, "\(events)")
            // A retry not yet due is not claimed.
            let later = try await store.submitOne(job)
            _ = try await store.cancel(id: later.id)
            let waiting = try await store.claimNotifications(worker: "w2", limit: 10, leaseSeconds: 60)
            try await store.recordNotification(waiting[0], worker: "w2", outcome: .retry(status: nil, reason: "refused", after: 3600))
            #expect(try await store.claimNotifications(worker: "w2", limit: 10, leaseSeconds: 60).isEmpty)
        }
    }

    @Test("prune keeps a job whose end is still to be announced, and removes its notifications with it once told",
          arguments: StoreKind.allCases)
    func pruneWaitsForNotifications(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            var job = newJob("told")
            job.notify = "http://receiver.example/"
            let submitted = try await store.submitOne(job)
            _ = try await store.cancel(id: submitted.id)
            try await Task.sleep(for: .milliseconds(20))
            let cutoff = try await store.now()
            #expect(try await store.prune(finishedBefore: cutoff, states: [.cancelled]) == 0, "its notification is pending")
            let claimed = try await store.claimNotifications(worker: "w1", limit: 1, leaseSeconds: 60)
            try await store.recordNotification(claimed[0], worker: "w1", outcome: .failed(status: 410, reason: "gone"))
            #expect(try await store.prune(finishedBefore: cutoff, states: [.cancelled]) == 1)
            #expect(try await store.notifications(job: submitted.id).isEmpty)
        }
    }
}
