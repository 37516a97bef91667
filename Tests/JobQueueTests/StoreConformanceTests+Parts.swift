import Foundation
import Synchronization
import Testing
@testable import JobQueue

// MARK: - Wholes and parts: a job that runs once the jobs it is made of have succeeded

extension StoreConformanceTests {
    /// A whole of `count` parts, each part weighing its number.
    func wholeOfParts(_ count: Int, name: String = "whole", target: String? = nil) -> NewJob {
        var whole = newJob(name, target: target)
        whole.parts = (1...count).map { index in
            newJob("\(name)-part\(index)", weight: Double(index), target: target.map { "\($0).part\(index)" })
        }
        return whole
    }

    @Test("a whole waits while its parts run as ordinary jobs, and is queued when the last one succeeds", arguments: StoreKind.allCases)
    func wholeWaitsForItsParts(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let whole = try await store.submitOne(wholeOfParts(3, target: "/out/long.mp4"))
            #expect(whole.state == .waiting && whole.parentID == nil && whole.target == "/out/long.mp4")
            let parts = try await store.parts(of: whole.id)
            #expect(parts.count == 3 && parts.allSatisfy { $0.parentID == whole.id && $0.state == .queued && $0.batchID == nil })
            #expect(parts.map(\.payload) == (1...3).map { #"{"name":"whole-part\#($0)"}"# }, "in order")
            #expect(parts.map(\.id) == parts.map(\.id).sorted() && parts[0].id > whole.id)
            #expect(try await store.parts(of: parts[0].id).isEmpty)
            #expect(try await store.unfinishedCount() == 4, "a waiting whole is unfinished")
            #expect(try await store.history(whole.id) == ["waiting"])

            // The whole holds its target while it waits.
            let error = await storeError { _ = try await store.submit([newJob("again", target: "/out/long.mp4")]) }
            #expect(error == .targetBusy(target: "/out/long.mp4", jobID: whole.id))

            // Workers claim the parts, never the waiting whole.
            let first = try await store.claimOne("w1")
            let second = try await store.claimOne("w2")
            let third = try await store.claimOne("w1")
            #expect([first.id, second.id, third.id] == parts.map(\.id))
            #expect(try await store.claim(worker: "w2", queues: [], limit: 5, leaseSeconds: longLease).isEmpty)

            let summary = try await store.partsSummary(of: whole.id)
            #expect(summary.counts == [.running: 3] && summary.totalWeight == 6 && summary.doneWeight == 0)
            try await store.recordProgress([second.lease: JobProgress(fraction: 0.5, fps: 30)])
            #expect(try await store.complete([JobCompletion(job: first.lease, result: "{}")], worker: "w1") == [first.lease])
            #expect(try await store.complete([JobCompletion(job: third.lease, result: "{}")], worker: "w1") == [third.lease])
            let halfway = try await store.partsSummary(of: whole.id)
            #expect(halfway.doneWeight == 1 + 3 + 2 * 0.5 && halfway.fps == 30 && abs(halfway.progress - 5.0 / 6) < 1e-9)
            #expect(try await store.existing(whole.id).state == .waiting, "one part still runs")
            #expect(try await store.claim(worker: "w2", queues: [], limit: 5, leaseSeconds: longLease).isEmpty)

            #expect(try await store.complete([JobCompletion(job: second.lease, result: "{}")], worker: "w2") == [second.lease])
            let queued = try await store.existing(whole.id)
            #expect(queued.state == .queued && queued.attempts == 0 && queued.error == nil)
            #expect(try await store.history(whole.id) == ["waiting", "queued"])
            let claimed = try await store.claimOne("w2")
            #expect(claimed.id == whole.id, "the whole runs once its parts are done")
            #expect(try await store.complete([JobCompletion(job: claimed.lease, result: "{}")], worker: "w2") == [claimed.lease])
            #expect(try await store.history(whole.id) == ["waiting", "queued", "running", "succeeded"])
            for part in parts { #expect(try await store.history(part.id) == ["queued", "running", "succeeded"]) }
        }
    }

    @Test("a part that fails for good fails its whole with its reason and cancels the other unfinished parts; a retry redoes only those",
          arguments: StoreKind.allCases)
    func failedPartFailsTheWhole(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let whole = try await store.submitOne(wholeOfParts(4, target: "/out/w.mp4"))
            let parts = try await store.parts(of: whole.id)
            let done = try await store.claimOne("w1")
            _ = try await store.complete([JobCompletion(job: done.lease, result: #"{"chunk":1}"#)], worker: "w1")
            let broken = try await store.claimOne("w1")
            let running = try await store.claimOne("w2")
            #expect([done.id, broken.id, running.id] == Array(parts.prefix(3).map(\.id)))

            // A transient failure of a part only retries the part.
            _ = try await store.fail(broken.lease, worker: "w1", decision: AttemptDecision(message: "busy", code: "io_error", retryAfter: 0))
            #expect(try await store.existing(whole.id).state == .waiting)
            // A retry of a whole that has not ended changes nothing, in it or its parts.
            let before = try await store.parts(of: whole.id)
            #expect(try await store.retry(id: whole.id)?.state == .waiting)
            #expect(try await store.parts(of: whole.id) == before)
            let again = try await store.claimOne("w1")
            #expect(again.id == broken.id)
            _ = try await store.fail(again.lease, worker: "w1",
                                     decision: AttemptDecision(message: "the input is truncated", code: "truncated", retryAfter: nil))

            let failed = try await store.existing(whole.id)
            #expect(failed.state == .failed && failed.errorCode == "truncated" && failed.finishedAt != nil)
            #expect(failed.error == "its part, job \(broken.id), failed: the input is truncated", "\(failed.error ?? "nil")")
            #expect(try await store.history(whole.id) == ["waiting", "failed"])
            let after = try await store.parts(of: whole.id)
            #expect(after.map(\.state) == [.succeeded, .failed, .cancelled, .cancelled])
            #expect(after[2].error == "the job it is part of, job \(whole.id), failed")
            #expect(after[2].leaseExpiresAt != nil, "the running part's worker still has to stop it")
            #expect(try await store.leasesLost(worker: "w2", jobs: [running.lease]) == [running.lease])
            try await store.settleStopped([running.lease], worker: "w2")

            // Retried (by the whole, or here by one of its parts): the parts that did not succeed run again.
            let retried = try await store.retry(id: parts[3].id)
            #expect(retried?.state == .queued && retried?.id == parts[3].id)
            let waiting = try await store.existing(whole.id)
            #expect(waiting.state == .waiting && waiting.error == nil && waiting.errorCode == nil && waiting.finishedAt == nil)
            let redone = try await store.parts(of: whole.id)
            #expect(redone.map(\.state) == [.succeeded, .queued, .queued, .queued])
            #expect(redone[0].result == #"{"chunk":1}"# && redone[0].attempts == 1, "the succeeded part is kept as it was")
            #expect(redone[1].attempts == 2 && redone[1].attemptsUsed == 0, "counted afresh, numbers never reused")
            // The whole's end left it to a rescue round (whose handler removes what its parts left):
            // claimed only once that is done, as after any abandoned attempt.
            let abandoned = try await store.rescue(retry: noBackoff).abandoned
            #expect(abandoned.map(\.id) == [whole.id])
            for job in abandoned { try await store.clearAbandoned(job.lease) }
            var claimedIDs: [Int64] = []
            while let next = try await store.claim(worker: "w3", queues: [], limit: 1, leaseSeconds: longLease).first {
                claimedIDs.append(next.id)
                _ = try await store.complete([JobCompletion(job: next.lease, result: "{}")], worker: "w3")
            }
            #expect(claimedIDs == redone.dropFirst().map(\.id) + [whole.id], "the three parts, then the whole")
            #expect(try await store.existing(whole.id).state == .succeeded)
            #expect(try await store.history(whole.id) == ["waiting", "failed", "waiting", "queued", "running", "succeeded"])
        }
    }

    @Test("a whole that fails itself is retried alone: its parts stay succeeded", arguments: StoreKind.allCases)
    func wholeFailingAloneIsRetriedAlone(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let whole = try await store.submitOne(wholeOfParts(2))
            for _ in 0..<2 {
                let part = try await store.claimOne("w")
                _ = try await store.complete([JobCompletion(job: part.lease, result: "{}")], worker: "w")
            }
            let claimed = try await store.claimOne("w")
            #expect(claimed.id == whole.id)
            _ = try await store.fail(claimed.lease, worker: "w", decision: AttemptDecision(message: "bad stitch", code: "output_check", retryAfter: nil))
            #expect(try await store.parts(of: whole.id).map(\.state) == [.succeeded, .succeeded], "a whole's end changes no succeeded part")
            #expect(try await store.retry(id: whole.id)?.state == .queued, "nothing to wait for")
            #expect(try await store.claimOne("w").id == whole.id)
        }
    }

    @Test("cancelling a whole cancels its unfinished parts; cancelling a part cancels its whole and the other parts",
          arguments: StoreKind.allCases)
    func cancelReachesTheFamily(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let whole = try await store.submitOne(wholeOfParts(3))
            let running = try await store.claimOne("w1")
            let cancelled = try await store.cancel(id: whole.id)
            #expect(cancelled?.state == .cancelled)
            let parts = try await store.parts(of: whole.id)
            #expect(parts.allSatisfy { $0.state == .cancelled && $0.error == "the job it is part of, job \(whole.id), was cancelled" })
            #expect(parts.first { $0.id == running.id }?.leaseExpiresAt != nil)
            #expect(try await store.unfinishedCount() == 0)
            #expect(try await store.claim(worker: "w2", queues: [], limit: 5, leaseSeconds: longLease).isEmpty)

            let other = try await store.submitOne(wholeOfParts(3, name: "other"))
            let otherParts = try await store.parts(of: other.id)
            #expect(try await store.cancel(id: otherParts[1].id)?.state == .cancelled)
            let ended = try await store.existing(other.id)
            #expect(ended.state == .cancelled && ended.error == "its part, job \(otherParts[1].id), was cancelled")
            #expect(try await store.parts(of: other.id).allSatisfy { $0.state == .cancelled })
        }
    }

    @Test("""
        a whole that ends while it waits (a part failed, a cancel) is left to any worker's rescue as abandoned, \
        so its handler removes what the parts left; a whole that ran is not
        """, arguments: StoreKind.allCases)
    func endedWholeIsLeftForCleanUp(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let cancelled = try await store.submitOne(wholeOfParts(2, name: "cancelled"))
            _ = try await store.cancel(id: cancelled.id)
            let failed = try await store.submitOne(wholeOfParts(2, name: "failed"))
            let part = try await store.claimOne("w")
            _ = try await store.fail(part.lease, worker: "w", decision: AttemptDecision(message: "bad", code: "bad", retryAfter: nil))
            let ran = try await store.submitOne(newJob("plain"))
            _ = try await store.cancel(id: ran.id)
            try await Task.sleep(for: .milliseconds(20))
            let report = try await store.rescue(retry: noBackoff)
            #expect(report.abandoned.map(\.id).sorted() == [cancelled.id, failed.id])
            #expect(Dictionary(uniqueKeysWithValues: report.abandoned.map { ($0.id, $0.state) })
                    == [cancelled.id: .cancelled, failed.id: .failed], "the handler is told how each ended")
            for job in report.abandoned { try await store.clearAbandoned(job.lease) }
            #expect(try await store.rescue(retry: noBackoff).abandoned.isEmpty, "once")
        }
    }

    @Test("retrying a cancelled whole runs every part again (a cancel gave up what they made); a failed one, only what failed",
          arguments: StoreKind.allCases)
    func retryAfterCancelRedoesEveryPart(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let other = try await store.submitOne(wholeOfParts(2, name: "other", target: "/out/b.mp4"))
            let done = try await store.claimOne("w")
            let broken = try await store.claimOne("w")
            _ = try await store.complete([JobCompletion(job: done.lease, result: "{}")], worker: "w")
            _ = try await store.fail(broken.lease, worker: "w", decision: AttemptDecision(message: "bad", code: "bad", retryAfter: nil))
            #expect(try await store.existing(other.id).state == .failed)
            _ = try await store.retry(id: other.id)
            #expect(try await store.parts(of: other.id).map(\.state) == [.succeeded, .queued])
            _ = try await store.cancel(id: other.id)

            let whole = try await store.submitOne(wholeOfParts(2, target: "/out/a.mp4"))
            let first = try await store.claimOne("w")
            #expect(try await store.parts(of: whole.id).first?.id == first.id)
            _ = try await store.complete([JobCompletion(job: first.lease, result: "{}")], worker: "w")
            _ = try await store.cancel(id: whole.id)
            #expect(try await store.retry(id: whole.id)?.state == .waiting)
            #expect(try await store.parts(of: whole.id).map(\.state) == [.queued, .queued])
            #expect(try await store.history(first.id) == ["queued", "running", "succeeded", "queued"])
        }
    }

    @Test("two last parts that succeed at once queue their whole exactly once", arguments: StoreKind.allCases)
    func lastPartsTogether(_ kind: StoreKind) async throws {
        try await withTestDatabase(kind) { database in
            let one = try await database.open()
            let two = try await database.open()
            for round in 0..<8 {
                let whole = try await one.submitOne(wholeOfParts(2, name: "round\(round)"))
                let a = try await one.claimOne("w1")
                let b = try await two.claimOne("w2")
                async let first = one.complete([JobCompletion(job: a.lease, result: "{}")], worker: "w1")
                async let second = two.complete([JobCompletion(job: b.lease, result: "{}")], worker: "w2")
                let (firstDone, secondDone) = try await (first, second)
                #expect(firstDone == [a.lease] && secondDone == [b.lease])
                #expect(try await one.history(whole.id) == ["waiting", "queued"], "round \(round)")
                let claimed = try await one.claimOne("w1")
                #expect(claimed.id == whole.id)
                _ = try await one.complete([JobCompletion(job: claimed.lease, result: "{}")], worker: "w1")
            }
            await one.close()
            await two.close()
        }
    }

    @Test("a part whose worker died is rescued alone; the others and the whole are untouched", arguments: StoreKind.allCases)
    func rescuedPartAlone(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let whole = try await store.submitOne(wholeOfParts(2))
            let dying = try await store.claimOne("dead")
            let other = try await store.claimOne("alive")
            try await store.runOut(dying.lease, of: "dead")
            let report = try await store.rescue(retry: noBackoff)
            #expect(report.rescued.map(\.id) == [dying.id])
            #expect(try await store.existing(dying.id).state == .queued)
            #expect(try await store.existing(other.id).state == .running)
            #expect(try await store.existing(whole.id).state == .waiting)
        }
    }

    @Test("parts are pruned with their whole, never before it, and counted", arguments: StoreKind.allCases)
    func partsArePrunedWithTheirWhole(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let whole = try await store.submitOne(wholeOfParts(2))
            let plain = try await store.submitOne(newJob("plain"))
            for _ in 0..<2 {
                let part = try await store.claimOne("w")
                _ = try await store.complete([JobCompletion(job: part.lease, result: "{}")], worker: "w")
            }
            _ = try await store.cancel(id: plain.id)
            let later = try await store.now() + 10
            let told = Mutex<[Int64]>([])
            let hear: @Sendable ([Job]) async -> Void = { wholes in told.withLock { $0 += wholes.map(\.id) } }
            #expect(try await store.prune(finishedBefore: later, states: [.succeeded, .cancelled], wholesDeleted: hear) == 1,
                    "only the plain job")
            #expect(try await store.parts(of: whole.id).count == 2, "the whole still waits: its parts stay")
            #expect(told.withLock { $0 }.isEmpty, "a plain job is no whole")
            let claimed = try await store.claimOne("w")
            _ = try await store.complete([JobCompletion(job: claimed.lease, result: "{}")], worker: "w")
            #expect(try await store.prune(finishedBefore: try await store.now() + 10, states: [.succeeded], wholesDeleted: hear) == 3)
            #expect(told.withLock { $0 } == [whole.id], "told of the whole, once deleted")
            #expect(try await store.allJobs().isEmpty)
            #expect(try await store.events(after: 0, job: nil, limit: 100).filter { $0.kind == "job" }.isEmpty)
        }
    }

    @Test("a whole in a batch: the batch ends when the whole does, and parts are announced to nobody", arguments: StoreKind.allCases)
    func wholeInBatch(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            try await store.setFarmNotifyURL("http://127.0.0.1:9/hook")
            let (batchID, jobs) = try await store.submitBatch([wholeOfParts(2), newJob("plain")])
            #expect(jobs.map(\.state) == [.waiting, .queued] && jobs.allSatisfy { $0.batchID == batchID })
            #expect(try await store.batch(id: batchID)?.count == 2, "parts belong to no batch")
            var ended: [Int64] = []
            while let next = try await store.claim(worker: "w", queues: [], limit: 1, leaseSeconds: longLease).first {
                _ = try await store.complete([JobCompletion(job: next.lease, result: "{}")], worker: "w")
                ended.append(next.id)
            }
            #expect(ended.count == 4)
            let notified = try await store.read { db in
                try db.query("SELECT job_id, event FROM notifications ORDER BY id").map { "\($0.int64("job_id")) \($0.string("event"))" }
            }
            #expect(Set(notified.filter { $0.hasSuffix("job.succeeded") })
                        == ["\(jobs[0].id) job.succeeded", "\(jobs[1].id) job.succeeded"], "\(notified)")
            #expect(notified.count == 3 && notified.last?.hasSuffix("batch.ended") == true, "\(notified)")
        }
    }
}
