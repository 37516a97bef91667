import Foundation
import Testing
@testable import JobQueue

// MARK: - Workers

extension StoreConformanceTests {
    @Test("a registered worker is alive, with an online event", arguments: StoreKind.allCases)
    func registerWorker(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let before = try await store.now()
            try await store.registerWorker(WorkerRecord(id: "box:1:ab", host: "box", pid: 1, concurrency: 4,
                                                        queues: ["fast", "slow"], leaseSeconds: 20))
            let worker = try await store.workerNamed("box:1:ab")
            #expect(worker.host == "box" && worker.pid == 1 && worker.concurrency == 4 && worker.queues == ["fast", "slow"])
            #expect(worker.leaseSeconds == 20 && worker.startedAt >= before - 1 && worker.heartbeatAt >= before - 1)
            #expect(worker.state(at: try await store.now()) == .alive && worker.runningJobs == 0)
            #expect(worker.stopRequested == .none && worker.unhealthyReason == nil && worker.jobsDone == 0)
            let events = try await store.workerEvents("box:1:ab")
            #expect(events.map(\.to) == ["online"] && events[0].jobID == nil)
            #expect(events[0].detail == "pid 1 on box, concurrency 4")

            _ = try await store.submit([newJob(), newJob()])
            _ = try await store.claim(worker: "box:1:ab", queues: [], limit: 2, leaseSeconds: longLease)
            #expect(try await store.workerNamed("box:1:ab").runningJobs == 2)
        }
    }

    @Test("a silent worker is marked gone once, with an offline event, and is back online when heard from",
          arguments: StoreKind.allCases)
    func silentWorkersGoAndComeBack(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            try await store.registerWorker(workerRecord("quiet", leaseSeconds: shortLease))
            try await store.registerWorker(workerRecord("chatty", leaseSeconds: longLease))
            await outlast(lease: shortLease)
            let silent = try await store.markSilentWorkers()
            #expect(silent.map(\.id) == ["quiet"] && silent[0].goneAt != nil)
            #expect(try await store.markSilentWorkers().isEmpty, "marked once")
            #expect(try await store.workerNamed("quiet").state(at: try await store.now()) == .gone)
            #expect(try await store.workerNamed("chatty").state(at: try await store.now()) == .alive)
            let offline = try #require(try await store.workerEvents("quiet").last)
            #expect(offline.to == "offline" && offline.detail?.hasPrefix("no heartbeat for") == true)

            try await store.heartbeat(worker: "quiet", jobs: [], leaseSeconds: shortLease)
            let back = try await store.workerNamed("quiet")
            #expect(back.goneAt == nil && back.state(at: back.heartbeatAt) == .alive)
            let online = try #require(try await store.workerEvents("quiet").last)
            #expect(online.to == "online" && online.detail?.hasPrefix("heard from again") == true, "\(online)")
            try await store.heartbeat(worker: "quiet", jobs: [], leaseSeconds: shortLease)
            #expect(try await store.workerEvents("quiet").map(\.to) == ["online", "offline", "online"])
        }
    }

    @Test("lateRenewal: a live worker silent for over half its lease and not yet for all of it (5 s past half at most)",
          arguments: StoreKind.allCases)
    func lateRenewals(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            try await store.registerWorker(workerRecord("w", leaseSeconds: 20))
            /// Sets w's last heartbeat `ago` seconds back (on the database's clock), then asks.
            func late(silentFor ago: Double) async throws -> Bool {
                try await store.write { db in
                    _ = try db.execute("UPDATE workers SET heartbeat_at = vqueue_now() - ? WHERE id = 'w'", ago)
                }
                return try await store.lateRenewal()
            }
            #expect(try await late(silentFor: 0) == false, "just renewed")
            #expect(try await late(silentFor: 7) == false, "within half its lease")
            #expect(try await late(silentFor: 12) == true, "late: over half its lease")
            #expect(try await late(silentFor: 16) == false, "over 5 s past half its lease: no longer waited for")
            try await store.registerWorker(workerRecord("short", leaseSeconds: 4))
            try await store.write { db in _ = try db.execute("UPDATE workers SET heartbeat_at = vqueue_now() - 3 WHERE id = 'short'") }
            #expect(try await store.lateRenewal() == true, "a 4 s lease silent for 3 s")
            try await store.write { db in _ = try db.execute("UPDATE workers SET heartbeat_at = vqueue_now() - 5 WHERE id = 'short'") }
            #expect(try await store.lateRenewal() == false, "its lease is over: it is gone, not late")
            try await store.write { db in _ = try db.execute("UPDATE workers SET heartbeat_at = vqueue_now() - 3 WHERE id = 'short'") }
            try await store.workerStopped(id: "short")
            #expect(try await store.lateRenewal() == false, "a stopped worker renews nothing")
        }
    }

    @Test("setHealth records unhealthy with its reason and healthy again, an event each change", arguments: StoreKind.allCases)
    func healthChanges(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            try await store.registerWorker(workerRecord("w"))
            try await store.setHealth(worker: "w", problem: nil)
            try await store.setHealth(worker: "w", problem: "input folder /srv/in is missing")
            var worker = try await store.workerNamed("w")
            #expect(worker.state(at: try await store.now()) == .unhealthy)
            #expect(worker.unhealthyReason == "input folder /srv/in is missing" && worker.unhealthyAt != nil)
            try await store.setHealth(worker: "w", problem: "input folder /srv/in is missing")
            try await store.setHealth(worker: "w", problem: "output folder /srv/out is missing")
            try await store.setHealth(worker: "w", problem: nil)
            try await store.setHealth(worker: "w", problem: nil)
            worker = try await store.workerNamed("w")
            #expect(worker.state(at: try await store.now()) == .alive && worker.unhealthyReason == nil && worker.unhealthyAt == nil)
            let events = try await store.workerEvents("w")
            #expect(events.map(\.to) == ["online", "unhealthy", "unhealthy", "healthy"], "one event per change")
            #expect(events.map(\.detail) == ["pid 4242 on test-host, concurrency 2", "input folder /srv/in is missing",
                                             "output folder /srv/out is missing", "taking jobs again"])
        }
    }

    @Test("workerStopping and workerStopped are recorded once each, with events", arguments: StoreKind.allCases)
    func stoppingAndStopped(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            try await store.registerWorker(workerRecord("w"))
            try await store.workerStopping(id: "w", reason: "stopping after its 1 running job(s)")
            try await store.workerStopping(id: "w", reason: "stopping now")
            #expect(try await store.workerNamed("w").state(at: try await store.now()) == .stopping)
            try await store.workerStopped(id: "w")
            let worker = try await store.workerNamed("w")
            #expect(worker.state(at: try await store.now()) == .stopped && worker.stoppingAt != nil && worker.stoppedAt != nil)
            let events = try await store.workerEvents("w")
            #expect(events.map(\.to) == ["online", "stopping", "stopped"])
            #expect(events[1].detail == "stopping after its 1 running job(s)")
        }
    }

    @Test("stop requests reach live workers only, and only ever harden", arguments: StoreKind.allCases)
    func stopRequests(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            for id in ["a", "b", "stopped"] { try await store.registerWorker(workerRecord(id)) }
            try await store.registerWorker(workerRecord("gone", leaseSeconds: 0.05))
            try await store.workerStopped(id: "stopped")
            try await Task.sleep(for: .milliseconds(300))
            #expect(try await store.stopRequest(worker: "a") == ShutdownRequest.Level.none)

            #expect(try await store.requestStop(worker: "a", level: .graceful) == ["a"])
            #expect(try await store.stopRequest(worker: "a") == .graceful)
            #expect(try await store.stopRequest(worker: "b") == ShutdownRequest.Level.none)
            #expect(try await store.workerNamed("a").state(at: try await store.now()) == .stopping)
            #expect(try await store.requestStop(worker: "stopped", level: .graceful).isEmpty)
            #expect(try await store.requestStop(worker: "gone", level: .graceful).isEmpty, "not heard from within its lease")
            #expect(try await store.requestStop(worker: "nobody", level: .immediate).isEmpty)

            #expect(try await store.requestStop(worker: nil, level: .immediate) == ["a", "b"])
            #expect(try await store.stopRequest(worker: "a") == .immediate)
            #expect(try await store.requestStop(worker: "a", level: .graceful) == ["a"])
            #expect(try await store.stopRequest(worker: "a") == .immediate, "a request never softens")
            #expect(try await store.stopRequest(worker: "stopped") == ShutdownRequest.Level.none)
        }
    }
}

// MARK: - Monitoring

extension StoreConformanceTests {
    @Test("batchSummary counts a batch's jobs and weighs its progress", arguments: StoreKind.allCases)
    func batchSummaryCountsAndWeighs(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let (batchID, jobs) = try await store.submitBatch([newJob("done", weight: 1), newJob("running", weight: 2),
                                                               newJob("retrying", weight: 3), newJob("queued", weight: 4),
                                                               newJob("failed", weight: 10)])
            var summary = try #require(try await store.batchSummary(id: batchID))
            #expect(summary.total == 5 && summary.firstStart == nil && !summary.isFinished && summary.progress == 0)
            let claimed = try await store.claim(worker: "w", queues: [], limit: 5, leaseSeconds: longLease)
            try #require(claimed.map(\.id) == jobs.map(\.id))
            let (done, running, retrying, released, failing) = (claimed[0], claimed[1], claimed[2], claimed[3], claimed[4])
            _ = try await store.complete([JobCompletion(job: done.lease, result: nil)], worker: "w")
            try await store.recordProgress([running.lease: JobProgress(fraction: 0.5)])
            _ = try await store.fail(retrying.lease, worker: "w", decision: AttemptDecision(message: "x", code: "io_error", retryAfter: 60))
            try await store.release([released.lease], worker: "w", reason: "stop", code: "worker_stopped", delay: 0)
            _ = try await store.fail(failing.lease, worker: "w", decision: AttemptDecision(message: "x", code: "truncated", retryAfter: nil))

            summary = try #require(try await store.batchSummary(id: batchID))
            #expect(summary.counts == [.succeeded: 1, .running: 1, .queued: 2, .failed: 1])
            #expect(summary.retrying == 1, "the released job is queued but not retrying")
            #expect(summary.totalWeight == 20 && summary.doneWeight == 1 + 2 * 0.5 + 10)
            let firstStart = try #require(summary.firstStart)
            #expect(firstStart <= (try await store.existing(jobs[4].id).startedAt ?? 0))
            #expect(!summary.isFinished)
            #expect(try await store.batchSummary(id: batchID + 7) == nil)
        }
    }

    @Test("queue depths, unfinished and finished counts", arguments: StoreKind.allCases)
    func depthsAndCounts(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            #expect(try await store.queueDepths().isEmpty)
            #expect(try await store.unfinishedCount() == 0)
            let since = try await store.now()
            _ = try await store.submit([newJob(queue: "b"), newJob(queue: "a", priority: 1), newJob(queue: "a"), newJob(queue: "a"),
                                        newJob(queue: "a", priority: 1), newJob(queue: "c")])
            let c = try await store.claimOne("w", queues: ["c"])
            #expect(try await store.queueDepths() == [QueueDepth(queue: "a", priority: 1, count: 2),
                                                      QueueDepth(queue: "a", priority: 0, count: 2),
                                                      QueueDepth(queue: "b", priority: 0, count: 1)])
            #expect(try await store.unfinishedCount() == 6, "queued and running")
            _ = try await store.complete([JobCompletion(job: c.lease, result: nil)], worker: "w")
            let b = try await store.claimOne("w", queues: ["b"])
            _ = try await store.fail(b.lease, worker: "w", decision: AttemptDecision(message: "x", code: "truncated", retryAfter: nil))
            let a = try await store.claimOne("w", queues: ["a"])
            _ = try await store.fail(a.lease, worker: "w", decision: AttemptDecision(message: "x", code: "io_error", retryAfter: 60))
            #expect(try await store.unfinishedCount() == 4, "a job waiting to retry is unfinished")
            #expect(try await store.unfinishedCount(queues: ["a"]) == 4)
            #expect(try await store.unfinishedCount(queues: ["b", "c"]) == 0, "the others' are all finished")
            #expect(try await store.unfinishedCount(queues: ["a", "z"]) == 4)
            #expect(try await store.unfinishedCount(queues: ["z"]) == 0)
            let counts = try await store.finishedCounts(since: since)
            #expect(counts.succeeded == 1 && counts.failed == 1)
            let later = try await store.finishedCounts(since: try await store.now() + 1)
            #expect(later.succeeded == 0 && later.failed == 0)
            #expect(try await store.jobs(state: .failed, limit: 10).map(\.id) == [b.id])
            #expect(try await store.jobs(state: .queued, limit: 2).count == 2)
            let newestFirst = try await store.jobs(state: nil, limit: 100).map(\.id)
            #expect(newestFirst == newestFirst.sorted(by: >) && newestFirst.count == 6)
        }
    }

    @Test("events come oldest first, after an id, for one job or all, up to a limit", arguments: StoreKind.allCases)
    func eventsInOrder(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            try await store.registerWorker(workerRecord("w"))
            let jobs = try await store.submit([newJob("a"), newJob("b")]).map(\.job)
            let a = try await store.claimOne("w")
            _ = try await store.complete([JobCompletion(job: a.lease, result: nil)], worker: "w")
            _ = try await store.cancel(id: jobs[1].id)

            let all = try await store.events(after: 0, job: nil, limit: 100)
            #expect(all.map(\.id) == all.map(\.id).sorted() && Set(all.map(\.id)).count == all.count)
            #expect(all.map { "\($0.kind):\($0.jobID.map(String.init) ?? "-"):\($0.to)" }
                    == ["worker:-:online", "job:\(jobs[0].id):queued", "job:\(jobs[1].id):queued", "job:\(jobs[0].id):running",
                        "job:\(jobs[0].id):succeeded", "job:\(jobs[1].id):cancelled"])
            #expect(zip(all, all.dropFirst()).allSatisfy { $0.at <= $1.at + 0.001 }, "times in order")
            #expect(try await store.events(after: all[2].id, job: nil, limit: 2) == Array(all[3...4]))
            #expect(try await store.events(after: all.last!.id, job: nil, limit: 100).isEmpty)
            #expect(try await store.events(after: 0, job: jobs[1].id, limit: 100).map(\.to) == ["queued", "cancelled"])
            #expect(try await store.events(after: all[2].id, job: jobs[1].id, limit: 100).map(\.to) == ["cancelled"])
            #expect(try await store.events(after: 0, job: jobs[1].id + 99, limit: 100).isEmpty)
        }
    }

    @Test("now() is the store's clock", arguments: StoreKind.allCases)
    func nowIsTheStoresClock(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let first = try await store.now()
            try await Task.sleep(for: .milliseconds(20))
            let second = try await store.now()
            #expect(second > first)
            #expect(abs(first - Date().timeIntervalSince1970) < 60, "the server runs on this box: its clock is ours")
            let job = try await store.submitOne(newJob())
            let third = try await store.now()
            #expect(job.submittedAt >= first && job.submittedAt <= third)
        }
    }

    @Test("changeToken moves when another store instance queues a job or records an event", arguments: StoreKind.allCases)
    func changeTokenMovesOnAnotherInstancesChange(_ kind: StoreKind) async throws {
        try await withTestDatabase(kind) { database in
            let watcher = try await database.open()
            let submitter = try await database.open()
            for change in StoreChange.allCases {
                // PostgreSQL: the first call starts listening, and counts once when it is.
                var token = try await watcher.changeToken(for: change)
                if kind == .postgres {
                    await eventually("the PostgreSQL listener is connected", timeout: .seconds(10)) {
                        (try? await watcher.changeToken(for: change)) ?? 0 > 0
                    }
                }
                try await Task.sleep(for: .milliseconds(300))
                token = try await watcher.changeToken(for: change)
                #expect(try await watcher.changeToken(for: change) == token, "still while nothing happens")
                _ = try await submitter.submit([newJob()])
                await eventually("the \(change) token moves", timeout: .seconds(5)) {
                    try await watcher.changeToken(for: change) != token
                }
            }
            // A retried job is queued again: that wakes idle workers too.
            let job = try await submitter.submitOne(newJob())
            _ = try await submitter.claim(worker: "w", queues: [], limit: 10, leaseSeconds: longLease)
            _ = try await submitter.cancel(id: job.id)
            try await submitter.settleStopped([LeasedJob(id: job.id, attempt: 1)], worker: "w")
            try await Task.sleep(for: .milliseconds(300))
            let token = try await watcher.changeToken(for: .jobQueued)
            _ = try await submitter.retry(id: job.id)
            await eventually("the jobQueued token moves on a retry", timeout: .seconds(5)) {
                try await watcher.changeToken(for: .jobQueued) != token
            }
        }
    }
}
