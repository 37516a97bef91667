import Foundation
import Testing
@testable import JobQueue

// MARK: - Prune and compact

extension StoreConformanceTests {
    @Test("prune deletes old finished jobs and their events, across chunks; unfinished and recent jobs stay",
          arguments: StoreKind.allCases)
    func pruneDeletesOnlyOldFinishedJobs(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            // Old: a big cancelled batch (more rows than one chunk, twice over), a failed and a succeeded job.
            let oldCount = SQLJobStore.chunk * 2 + 35
            let (oldBatch, oldJobs) = try await store.submitBatch((0..<oldCount).map { newJob("old\($0)") })
            _ = try await store.cancelBatch(id: oldBatch)
            let oldFailed = try await store.submitOne(newJob("old failed"))
            let oldSucceeded = try await store.submitOne(newJob("old succeeded"))
            let failing = try await store.claimOne("w1")
            _ = try await store.fail(failing.lease, worker: "w1", decision: AttemptDecision(message: "x", code: "truncated", retryAfter: nil))
            let succeeding = try await store.claimOne("w1")
            _ = try await store.complete([JobCompletion(job: succeeding.lease, result: nil)], worker: "w1")
            #expect([failing.id, succeeding.id] == [oldFailed.id, oldSucceeded.id])
            // Still unfinished: never pruned, however old.
            let oldQueued = try await store.submitOne(newJob("old queued"))
            let oldRunning = try await store.submitOne(newJob("old running"))
            _ = try await store.claimOne("w1")
            _ = try await store.claimOne("w1")
            // A batch with one old finished job and one that goes on: the batch stays.
            let (mixedBatch, mixed) = try await store.submitBatch([newJob("mixed old"), newJob("mixed queued")])
            _ = try await store.cancel(id: mixed[0].id)

            try await Task.sleep(for: .milliseconds(50))
            let cutoff = try await store.now()
            try await Task.sleep(for: .milliseconds(50))
            let recent = try await store.submitOne(newJob("recent"))
            _ = try await store.cancel(id: recent.id)

            let old = oldJobs.map(\.id) + [oldFailed.id, oldSucceeded.id, mixed[0].id]
            #expect(try await store.prune(finishedBefore: cutoff, states: [.queued, .running]) == 0, "never unfinished jobs")
            #expect(try await store.prune(finishedBefore: cutoff, states: [.failed]) == 1, "only the states asked for")
            #expect(try await store.job(id: oldFailed.id) == nil)
            #expect(try await store.prune(finishedBefore: cutoff, states: JobState.allCases) == old.count - 1)

            for id in [oldJobs[0].id, oldJobs[SQLJobStore.chunk].id, oldJobs[oldCount - 1].id, oldSucceeded.id, mixed[0].id] {
                #expect(try await store.job(id: id) == nil, "job \(id) pruned")
                #expect(try await store.jobEvents(id).isEmpty, "job \(id)'s events pruned")
            }
            let left = try await store.allJobs()
            #expect(Set(left.map(\.id)) == [oldQueued.id, oldRunning.id, mixed[1].id, recent.id])
            #expect(Set(try await store.events(after: 0, job: nil, limit: 100_000).compactMap(\.jobID)) == Set(left.map(\.id)),
                    "every event left belongs to a job left")
            #expect(try await store.history(recent.id) == ["queued", "cancelled"])
            #expect(try await store.batch(id: oldBatch) == nil, "a batch without jobs goes")
            #expect(try await store.batch(id: mixedBatch)?.map(\.id) == [mixed[1].id], "a batch with jobs left stays")
            #expect(try await store.prune(finishedBefore: cutoff, states: JobState.allCases) == 0)
        }
    }

    @Test("prune removes workers that stopped or went before the cutoff, with their events", arguments: StoreKind.allCases)
    func pruneRemovesOldWorkers(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            try await store.registerWorker(workerRecord("stopped-long-ago"))
            try await store.workerStopped(id: "stopped-long-ago")
            try await store.registerWorker(workerRecord("gone-long-ago", leaseSeconds: 0.05))
            try await Task.sleep(for: .milliseconds(300))
            #expect(try await store.markSilentWorkers().map(\.id) == ["gone-long-ago"])
            try await store.registerWorker(workerRecord("alive"))
            try await Task.sleep(for: .milliseconds(50))
            let cutoff = try await store.now()
            try await store.registerWorker(workerRecord("stopped-recently"))
            try await store.workerStopped(id: "stopped-recently")

            _ = try await store.prune(finishedBefore: cutoff, states: JobState.allCases)
            #expect(Set(try await store.workers().map(\.id)) == ["alive", "stopped-recently"])
            #expect(try await store.workerEvents("stopped-long-ago").isEmpty)
            #expect(try await store.workerEvents("gone-long-ago").isEmpty)
            #expect(try await store.workerEvents("alive").map(\.to) == ["online"])
        }
    }

    @Test("compact runs on both stores, little by little and in full, and the store works afterwards",
          arguments: StoreKind.allCases)
    func compactRuns(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let (batch, _) = try await store.submitBatch((0..<300).map { newJob("j\($0)") })
            _ = try await store.cancelBatch(id: batch)
            _ = try await store.prune(finishedBefore: try await store.now() + 1, states: JobState.allCases)
            try await store.compact(full: false)
            try await store.compact(full: true)
            try await store.compact(full: false)
            if kind == .sqlite {
                let mode = try await store.read { db in try db.queryOne("PRAGMA auto_vacuum")?.values.first }
                #expect(mode == .integer(2), "SQLite gives freed pages back incrementally")
                let free = try await store.read { db in try db.queryOne("PRAGMA freelist_count")?.values.first }
                #expect(free == .integer(0), "no free pages left after compacting")
            }
            let job = try await store.submitOne(newJob())
            #expect(try await store.claimOne("w").id == job.id)
        }
    }
}
