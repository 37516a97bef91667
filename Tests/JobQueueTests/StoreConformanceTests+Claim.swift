import Foundation
import Testing
@testable import JobQueue

// MARK: - Claiming

extension StoreConformanceTests {
    @Test("claim takes the highest priority first, then the oldest", arguments: StoreKind.allCases)
    func claimOrder(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let priorities = [0, 5, 0, 10, 5, -3, 10]
            let jobs = try await store.submit(priorities.enumerated().map { newJob("p\($0.offset)", priority: $0.element) }).map(\.job)
            let expected = jobs.sorted { ($0.priority, -$0.id) > ($1.priority, -$1.id) }.map(\.id)

            let firstThree = try await store.claim(worker: "w1", queues: [], limit: 3, leaseSeconds: longLease)
            #expect(firstThree.map(\.id) == Array(expected.prefix(3)), "one claim returns its jobs in claim order")
            var rest: [Int64] = []
            while let job = try await store.claim(worker: "w2", queues: [], limit: 1, leaseSeconds: longLease).first {
                rest.append(job.id)
            }
            #expect(rest == Array(expected.dropFirst(3)), "one at a time, in the same order")
        }
    }

    @Test("claim takes only the named queues, at most `limit` jobs", arguments: StoreKind.allCases)
    func claimQueuesAndLimit(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let jobs = try await store.submit([newJob("a1", queue: "a"), newJob("b1", queue: "b"), newJob("c1", queue: "c"),
                                               newJob("a2", queue: "a"), newJob("b2", queue: "b", priority: 9)]).map(\.job)
            #expect(try await store.claim(worker: "w", queues: ["a"], limit: 0, leaseSeconds: longLease).isEmpty)
            let fromA = try await store.claim(worker: "w", queues: ["a"], limit: 1, leaseSeconds: longLease)
            #expect(fromA.map(\.id) == [jobs[0].id])
            let fromAB = try await store.claim(worker: "w", queues: ["a", "b"], limit: 10, leaseSeconds: longLease)
            #expect(fromAB.map(\.id) == [jobs[4].id, jobs[1].id, jobs[3].id])
            #expect(try await store.claim(worker: "w", queues: ["a", "b", "nope"], limit: 10, leaseSeconds: longLease).isEmpty)
            let any = try await store.claim(worker: "w", queues: [], limit: 10, leaseSeconds: longLease)
            #expect(any.map(\.id) == [jobs[2].id], "no queue named: every queue")
        }
    }

    @Test("a claim leases the job to the worker and starts a new attempt", arguments: StoreKind.allCases)
    func claimLeasesAndCountsAttempts(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let job = try await store.submitOne(newJob())
            let before = try await store.now()
            let claimed = try await store.claimOne("w1", lease: 60)
            let after = try await store.now()
            #expect(claimed.id == job.id && claimed.state == .running && claimed.attempts == 1 && claimed.attemptsUsed == 1)
            #expect(claimed.leaseOwner == "w1" && claimed.progress == 0 && claimed.publishing == nil)
            let expires = try #require(claimed.leaseExpiresAt)
            #expect(expires >= before + 59 && expires <= after + 61, "lease of 60 s on the store's clock: \(expires - before)")
            #expect(try #require(claimed.startedAt) >= before - 1)
            #expect(try await store.existing(job.id) == claimed)

            let events = try await store.jobEvents(job.id)
            #expect(events.map(\.to) == ["queued", "running"])
            #expect(events.last?.from == "queued" && events.last?.worker == "w1")

            // A retried attempt is the next number.
            #expect(try await store.fail(claimed.lease, worker: "w1",
                                         decision: AttemptDecision(message: "flaky", code: "io_error", retryAfter: 0)))
            let second = try await store.claimOne("w2")
            #expect(second.attempts == 2 && second.attemptsUsed == 2 && second.leaseOwner == "w2")
            #expect(try await store.history(job.id) == ["queued", "running", "queued", "running"])
        }
    }

    @Test("a job waiting for its retry time is not claimed before it", arguments: StoreKind.allCases)
    func notDueIsNotClaimed(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let later = try await store.submitOne(newJob("later", priority: 10))
            let first = try await store.claimOne("w1")
            #expect(first.id == later.id)
            let now = try await store.now()
            #expect(try await store.fail(first.lease, worker: "w1",
                                         decision: AttemptDecision(message: "try later", code: "io_error", retryAfter: 60)))
            let waiting = try await store.existing(later.id)
            #expect(waiting.state == .queued && waiting.isRetrying && waiting.runAt >= now + 59, "run_at: \(waiting.runAt - now)")
            let other = try await store.submitOne(newJob("now"))
            let claimed = try await store.claim(worker: "w1", queues: [], limit: 10, leaseSeconds: longLease)
            #expect(claimed.map(\.id) == [other.id], "the higher-priority job is not due yet")
        }
    }

    @Test("two store instances claiming at once never get the same job", arguments: StoreKind.allCases)
    func concurrentClaimsNeverShareAJob(_ kind: StoreKind) async throws {
        try await withTestDatabase(kind) { database in
            let stores = [try await database.open(), try await database.open()]
            let count = 120
            _ = try await stores[0].submit((0..<count).map { newJob("j\($0)") })
            let claims = try await withThrowingTaskGroup(of: [Job].self) { group in
                for claimer in 0..<8 {
                    group.addTask {
                        var mine: [Job] = []
                        while true {
                            let claimed = try await stores[claimer % 2].claim(worker: "w\(claimer)", queues: [], limit: 3,
                                                                              leaseSeconds: longLease)
                            #expect(claimed.count <= 3, "a claim takes at most its limit")
                            if claimed.isEmpty { return mine }
                            mine += claimed
                        }
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let ids = claims.flatMap { $0.map(\.id) }
            #expect(ids.count == count && Set(ids).count == count, "\(ids.count) claims of \(Set(ids).count) jobs")
            let jobs = try await stores[1].allJobs()
            #expect(jobs.allSatisfy { $0.state == .running && $0.attempts == 1 })
            for (claimer, claimed) in claims.enumerated() {
                for job in claimed {
                    #expect(jobs.first { $0.id == job.id }?.leaseOwner == job.leaseOwner, "claimer \(claimer)")
                }
            }
        }
    }
}

// MARK: - Attempt numbers

extension StoreConformanceTests {
    @Test("cancel, retry, claim: the attempt number is never reused, and the cancelled attempt's lease blocks the claim until its worker settles it",
          arguments: StoreKind.allCases)
    func cancelRetryNeverReusesAnAttemptNumber(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let job = try await store.submitOne(newJob(maxAttempts: 3))
            let first = try await store.claimOne("w1")
            #expect(first.attempts == 1)

            let cancelled = try #require(try await store.cancel(id: job.id))
            #expect(cancelled.state == .cancelled && cancelled.finishedAt != nil)
            #expect(cancelled.leaseExpiresAt != nil, "the cancelled attempt may still run: its lease is kept")
            #expect(try await store.leasesLost(worker: "w1", jobs: [first.lease]) == [first.lease])
            #expect(try await store.complete([JobCompletion(job: first.lease, result: nil)], worker: "w1").isEmpty,
                    "the cancelled attempt cannot succeed")
            #expect(try await store.retry(id: job.id)?.state == .queued)
            let retried = try await store.existing(job.id)
            #expect(retried.attemptsUsed == 0 && retried.attempts == 1 && !retried.isRetrying)
            #expect(retried.error == nil && retried.finishedAt == nil && retried.startedAt == nil)

            #expect(try await store.claim(worker: "w2", queues: [], limit: 1, leaseSeconds: longLease).isEmpty,
                    "not claimed while the cancelled attempt may still run")
            // Another worker's or attempt's settlement does not count.
            try await store.settleStopped([first.lease], worker: "w2")
            try await store.settleStopped([LeasedJob(id: job.id, attempt: 2)], worker: "w1")
            #expect(try await store.claim(worker: "w2", queues: [], limit: 1, leaseSeconds: longLease).isEmpty)

            try await store.settleStopped([first.lease], worker: "w1")
            #expect(try await store.existing(job.id).leaseExpiresAt == nil)
            let second = try await store.claimOne("w2")
            #expect(second.attempts == 2 && second.attemptsUsed == 1, "attempt \(second.attempts), used \(second.attemptsUsed)")
            #expect(try await store.complete([JobCompletion(job: first.lease, result: nil)], worker: "w1").isEmpty,
                    "the old attempt's lease names that attempt forever")
            #expect(try await store.history(job.id) == ["queued", "running", "cancelled", "queued", "running"])
        }
    }

    @Test("a cancelled attempt whose worker died blocks its retry until the lease expires, rescue reports it abandoned and it is cleared",
          arguments: StoreKind.allCases)
    func abandonedCancelledAttempt(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let job = try await store.submitOne(newJob())
            let first = try await store.claimOne("dead", lease: shortLease)
            _ = try await store.cancel(id: job.id)
            _ = try await store.retry(id: job.id)
            await outlast(lease: shortLease)
            #expect(try await store.claim(worker: "w2", queues: [], limit: 1, leaseSeconds: longLease).isEmpty,
                    "an expired lease still blocks until it is cleared")

            let report = try await store.rescue(retry: noBackoff)
            #expect(report.abandoned.map(\.id) == [job.id] && report.rescued.isEmpty && report.publications.isEmpty)
            #expect(report.abandoned.first?.lease == first.lease, "reported with the abandoned attempt's number")
            #expect(report.abandoned.first?.state == .queued)
            try await store.clearAbandoned(first.lease)
            #expect(try await store.rescue(retry: noBackoff).abandoned.isEmpty, "cleared once")

            let second = try await store.claimOne("w2")
            #expect(second.attempts == 2 && second.attemptsUsed == 1)
            try await store.clearAbandoned(second.lease)
            #expect(try await store.existing(job.id).leaseExpiresAt != nil, "clearAbandoned never touches a running attempt")
        }
    }

    @Test("an abandoned cancelled attempt of a job left cancelled is reported and cleared too", arguments: StoreKind.allCases)
    func abandonedCancelledJob(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let job = try await store.submitOne(newJob())
            let attempt = try await store.claimOne("dead", lease: shortLease)
            _ = try await store.cancel(id: job.id)
            await outlast(lease: shortLease)
            let report = try await store.rescue(retry: noBackoff)
            #expect(report.abandoned.map(\.id) == [job.id] && report.abandoned.first?.state == .cancelled)
            try await store.clearAbandoned(attempt.lease)
            let after = try await store.existing(job.id)
            #expect(after.state == .cancelled && after.leaseExpiresAt == nil)
            #expect(try await store.history(job.id) == ["queued", "running", "cancelled"], "rescue changed no state")
        }
    }
}
