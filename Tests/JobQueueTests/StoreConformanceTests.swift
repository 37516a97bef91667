import Foundation
import Testing
@testable import JobQueue

/// One exercise suite for every store, as River's `riverdrivertest` is for its drivers: each
/// store operation and transition, run in-process against SQLite and PostgreSQL, each test on a
/// fresh database, checking both what the store answers and the events it recorded. The
/// operations are grouped by role in this type's extensions (submitting, claiming, leases,
/// outcomes, publications, rescue, prune, workers, monitoring, migration).
@Suite("Store conformance: every operation and transition, on SQLite and PostgreSQL", .timeLimit(.minutes(2)))
struct StoreConformanceTests {}

// MARK: - Submitting

extension StoreConformanceTests {
    @Test("submit queues jobs in order, as given, with one event each", arguments: StoreKind.allCases)
    func submitQueuesJobsInOrder(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let before = try await store.now()
            let submitted = try await store.submit([
                newJob("a", queue: "fast", priority: 5, maxAttempts: 4, weight: 2.5, target: "/out/a.mp4", key: "key-a"),
                newJob("b"),
                newJob("c", priority: -1),
            ])
            #expect(submitted.map(\.isNew) == [true, true, true])
            let jobs = submitted.map(\.job)
            #expect(jobs.map(\.id) == jobs.map(\.id).sorted() && Set(jobs.map(\.id)).count == 3, "ids in order: \(jobs.map(\.id))")
            let a = jobs[0]
            #expect(a.kind == "test" && a.payload == #"{"name":"a"}"# && a.queue == "fast" && a.priority == 5)
            #expect(a.maxAttempts == 4 && a.weight == 2.5 && a.target == "/out/a.mp4" && a.key == "key-a")
            #expect(jobs[2].priority == -1)
            for job in jobs {
                #expect(job.state == .queued && job.attempts == 0 && job.attemptBase == 0 && !job.isRetrying)
                #expect(job.leaseOwner == nil && job.leaseExpiresAt == nil && job.startedAt == nil && job.finishedAt == nil)
                #expect(job.error == nil && job.errorCode == nil && job.result == nil && job.publishing == nil && job.batchID == nil)
                #expect(job.submittedAt >= before - 1 && job.runAt >= before - 1, "times from the store's clock")
                #expect(try await store.job(id: job.id) == job, "read back as submitted")
                let events = try await store.jobEvents(job.id)
                #expect(events.count == 1)
                #expect(events.first?.kind == "job" && events.first?.from == nil && events.first?.to == "queued")
                #expect(events.first?.worker == nil && events.first?.errorCode == nil)
            }
        }
    }

    @Test("a submit of more jobs than one statement takes keeps their order", arguments: StoreKind.allCases)
    func submitManyKeepsOrder(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let count = SQLJobStore.chunk * 2 + 17
            let submitted = try await store.submit((0..<count).map { newJob("j\($0)") })
            #expect(submitted.count == count)
            #expect(submitted.map(\.job.payload) == (0..<count).map { #"{"name":"j\#($0)"}"# }, "the jobs' order")
            let ids = submitted.map(\.job.id)
            #expect(zip(ids, ids.dropFirst()).allSatisfy { $0 < $1 }, "ids handed out in the jobs' order")
            #expect(try await store.unfinishedCount() == count)
        }
    }

    @Test("a batch is queued whole or not at all: one busy target queues nothing", arguments: StoreKind.allCases)
    func batchIsAllOrNothing(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let holder = try await store.submitOne(newJob("holder", target: "/out/busy.mp4"))
            let error = await storeError {
                _ = try await store.submitBatch([newJob("x", target: "/out/x.mp4"), newJob("y", target: "/out/busy.mp4"),
                                                 newJob("z", target: "/out/z.mp4")])
            }
            #expect(error == .targetBusy(target: "/out/busy.mp4", jobID: holder.id))
            #expect(try await store.allJobs().map(\.id) == [holder.id], "nothing of the refused batch was queued")
            #expect(try await store.read { db in try db.queryOne("SELECT COUNT(*) AS n FROM batches")?.int("n") } == 0,
                    "not even the batch")
            #expect(try await store.submit([newJob("x", target: "/out/x.mp4")]).count == 1, "its targets are free")

            let (batchID, jobs) = try await store.submitBatch([newJob("p", weight: 3), newJob("q", weight: 1)])
            #expect(jobs.count == 2 && jobs.allSatisfy { $0.batchID == batchID && $0.state == .queued })
            #expect(jobs[0].id < jobs[1].id && jobs.map(\.weight) == [3, 1])
            #expect(try await store.batch(id: batchID) == jobs)
            #expect(try await store.batch(id: batchID + 1000) == nil)
            let summary = try await store.batchSummary(id: batchID)
            #expect(summary?.counts == [.queued: 2] && summary?.totalWeight == 4 && summary?.doneWeight == 0)
        }
    }

    @Test("a target held by an unfinished job is refused, naming that job, until it finishes", arguments: StoreKind.allCases)
    func busyTargetIsRefusedUntilItsJobFinishes(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let target = "/srv/video/42.flv"
            let first = try await store.submitOne(newJob("first", target: target))
            let refused = await storeError { _ = try await store.submit([newJob("second", target: target)]) }
            #expect(refused == .targetBusy(target: target, jobID: first.id))
            #expect(refused?.description.contains("job \(first.id)") == true && refused?.description.contains(target) == true)

            _ = try await store.claimOne("w1")
            #expect(await storeError { _ = try await store.submit([newJob("second", target: target)]) }
                    == .targetBusy(target: target, jobID: first.id), "refused while the job runs")
            #expect(try await store.complete([JobCompletion(job: LeasedJob(id: first.id, attempt: 1), result: nil)],
                                             worker: "w1").count == 1)
            let second = try await store.submitOne(newJob("second", target: target))
            #expect(second.target == target, "accepted once the holder succeeded")

            // Cancelled and failed holders free the target too; a retry needs it free again.
            _ = try await store.cancel(id: second.id)
            let third = try await store.submitOne(newJob("third", target: target))
            #expect(await storeError { _ = try await store.retry(id: second.id) } == .targetBusy(target: target, jobID: third.id))
            #expect(try await store.existing(second.id).state == .cancelled, "the refused retry changed nothing")
            _ = try await store.claimOne("w2")
            #expect(try await store.fail(LeasedJob(id: third.id, attempt: 1), worker: "w2",
                                         decision: AttemptDecision(message: "bad", code: "input_unreadable", retryAfter: nil)))
            #expect(try await store.retry(id: second.id)?.state == .queued)
        }
    }

    @Test("an idempotency key returns its job, whatever its state, instead of queueing another",
          arguments: StoreKind.allCases)
    func idempotencyKeyReturnsTheSameJob(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let target = "/srv/video/upload-42.flv"
            let first = try await store.submitOne(newJob("original", target: target, key: "upload-42"))
            #expect(try await store.job(key: "upload-42") == first)
            #expect(try await store.job(key: "upload-43") == nil)

            // The upload handler retries its submit: same key, same target, at every stage of the job.
            func resubmit() async throws -> Submitted {
                let again = try await store.submit([newJob("retried", target: target, key: "upload-42")])
                try #require(again.count == 1)
                return again[0]
            }
            var again = try await resubmit()
            #expect(!again.isNew && again.job.id == first.id && again.job.payload == first.payload, "queued: \(again)")
            _ = try await store.claimOne("w1")
            again = try await resubmit()
            #expect(!again.isNew && again.job.id == first.id && again.job.state == .running)
            _ = try await store.complete([JobCompletion(job: LeasedJob(id: first.id, attempt: 1), result: "{}")], worker: "w1")
            again = try await resubmit()
            #expect(!again.isNew && again.job.id == first.id && again.job.state == .succeeded)
            #expect(try await store.allJobs().count == 1, "never a second job")

            // A key among new jobs: the others are queued, the keyed one is found.
            let mixed = try await store.submit([newJob("new-1"), newJob("again", key: "upload-42"), newJob("new-2", key: "other")])
            #expect(mixed.map(\.isNew) == [true, false, true])
            #expect(mixed[1].job.id == first.id)
            #expect(try await store.history(first.id) == ["queued", "running", "succeeded"], "found jobs get no events")

            let cancelled = try await store.submitOne(newJob(key: "upload-44"))
            _ = try await store.cancel(id: cancelled.id)
            let found = try await store.submit([newJob(key: "upload-44")])
            #expect(found.first?.isNew == false && found.first?.job.id == cancelled.id && found.first?.job.state == .cancelled)
        }
    }

    @Test("submitters racing for one target from four store instances: exactly one wins", arguments: StoreKind.allCases)
    func racingSubmittersForOneTarget(_ kind: StoreKind) async throws {
        try await withTestDatabase(kind) { database in
            let stores = [try await database.open(), try await database.open(), try await database.open(),
                          try await database.open()]
            for round in 0..<3 {
                let target = "/out/raced-\(round).mp4"
                let outcomes = await withTaskGroup(of: Result<Job, any Error>.self) { group in
                    for attempt in 0..<16 {
                        group.addTask {
                            await Result { try await stores[attempt % stores.count].submitOne(newJob("racer-\(attempt)", target: target)) }
                        }
                    }
                    return await group.reduce(into: []) { $0.append($1) }
                }
                let winners = outcomes.compactMap { try? $0.get() }
                try #require(winners.count == 1, "round \(round): \(winners.count) submits won: \(outcomes)")
                for case .failure(let error) in outcomes {
                    #expect(error as? JobStoreError == .targetBusy(target: target, jobID: winners[0].id), "\(error)")
                }
                #expect(try await stores[0].allJobs().filter { $0.target == target }.count == 1)
            }
        }
    }

    @Test("submitters racing with one key and one target from four store instances all get the same job",
          arguments: StoreKind.allCases)
    func racingSubmittersWithOneKey(_ kind: StoreKind) async throws {
        try await withTestDatabase(kind) { database in
            let stores = [try await database.open(), try await database.open(), try await database.open(),
                          try await database.open()]
            for round in 0..<8 {
                let outcomes = await withTaskGroup(of: Result<Submitted, any Error>.self) { group in
                    for attempt in 0..<16 {
                        group.addTask {
                            await Result {
                                try await stores[attempt % stores.count].submit([newJob("racer", target: "/out/k\(round).mp4", key: "k\(round)")])[0]
                            }
                        }
                    }
                    return await group.reduce(into: []) { $0.append($1) }
                }
                let submitted = outcomes.compactMap { try? $0.get() }
                #expect(submitted.count == outcomes.count, "round \(round): every retried submit gets the job: \(outcomes)")
                #expect(Set(submitted.map(\.job.id)).count == 1 && submitted.filter(\.isNew).count == 1, "\(submitted)")
            }
        }
    }
}
