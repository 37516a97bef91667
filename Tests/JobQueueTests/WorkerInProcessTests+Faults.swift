import Foundation
import Testing
@testable import JobQueue

// MARK: - Dead workers, unhealthy boxes, store outages

extension WorkerInProcessTests {
    @Test("a worker killed between recording its publication and recording success: a second worker finishes the publication, and the job succeeds exactly once",
          arguments: StoreKind.allCases)
    func publicationOfADeadWorkerIsFinished(_ kind: StoreKind) async throws {
        try await withTestDatabase(kind) { database in
            let store = try await database.open()
            // The first worker "dies" the moment its result is in place: its store hangs from
            // then on, so it neither records success nor renews its lease.
            let (dyingStore, dyingExecutor) = try await database.openControllable()
            let published = Flag()
            let first = ScriptedHandler { job in
                .publish(token: "/out/.video.job\(job.id)-\(job.attempts).part", result: #"{"bytes":1}"#) {
                    published.set()
                    dyingExecutor.mode = .stuck
                }
            }
            let dying = WorkerUnderTest.start(store: dyingStore, handler: first, name: "dying")
            let job = try await store.submitOne(newJob(target: "/out/video.mp4"))
            await eventually("the first worker has put its result in place") { published.isSet }
            let publishing = try await store.existing(job.id)
            #expect(publishing.state == .running && publishing.publishing == "/out/.video.job\(job.id)-1.part")
            #expect(try await store.cancel(id: job.id)?.state == .running, "past cancelling")
            try await store.runOut(publishing.lease, of: dying.id)

            let second = ScriptedHandler { _ in .succeed(result: "not run again") }
            let heir = WorkerUnderTest.start(store: try await database.open(), handler: second,
                                             configuration: WorkerUnderTest.configuration(leaseSeconds: 3), name: "heir")
            await eventually("the second worker records success") { try await store.existing(job.id).state == .succeeded }
            let done = try await store.existing(job.id)
            #expect(done.leaseOwner == heir.id && done.attempts == 1 && done.result == #"{"bytes":1}"# && done.publishing == nil)
            #expect(second.recovered.map(\.job) == [LeasedJob(id: job.id, attempt: 1)])
            #expect(second.recovered.map(\.token) == ["/out/.video.job\(job.id)-1.part"])
            #expect(second.started.isEmpty && first.started == [LeasedJob(id: job.id, attempt: 1)], "never encoded twice")
            await eventually("the second worker logs that it finished the publication") {
                heir.log.contains("finished the publication of worker \(dying.id)")
            }

            // The first worker comes back: its late success is refused.
            dyingExecutor.mode = .normal
            await eventually("the first worker learns it lost the job") { dying.log.contains("taken over meanwhile") }
            #expect(try await store.history(job.id) == ["queued", "running", "succeeded"], "succeeded exactly once")
            #expect(try await store.existing(job.id).leaseOwner == heir.id)
            try await dying.stop()
            try await heir.stop()
        }
    }

    @Test("a dead worker's publication that turns out lost is run again by the worker that found it",
          arguments: StoreKind.allCases)
    func lostPublicationOfADeadWorkerRunsAgain(_ kind: StoreKind) async throws {
        try await withTestDatabase(kind) { database in
            let store = try await database.open()
            let (dyingStore, dyingExecutor) = try await database.openControllable()
            let first = ScriptedHandler { job in
                .publish(token: "token-\(job.attempts)", result: nil) { dyingExecutor.mode = .stuck }
            }
            let dying = WorkerUnderTest.start(store: dyingStore, handler: first, name: "dying")
            let job = try await store.submitOne(newJob(maxAttempts: 3))
            await eventually("the first worker dies publishing") { dyingExecutor.stuckCalls > 0 }
            try await store.runOut(LeasedJob(id: job.id, attempt: 1), of: dying.id)

            let second = ScriptedHandler { _ in .succeed(result: "encoded again") }
            second.setPublicationsInPlace(false)
            let heir = WorkerUnderTest.start(store: try await database.open(), handler: second,
                                             configuration: WorkerUnderTest.configuration(leaseSeconds: 3), name: "heir")
            await eventually("the job runs again and succeeds") { try await store.existing(job.id).state == .succeeded }
            #expect(second.recovered.map(\.token) == ["token-1"])
            #expect(second.started == [LeasedJob(id: job.id, attempt: 2)])
            #expect(second.discarded.contains(LeasedJob(id: job.id, attempt: 1)), "the lost attempt's leftovers removed")
            let done = try await store.existing(job.id)
            #expect(done.attempts == 2 && done.attemptsUsed == 2 && done.result == "encoded again" && done.leaseOwner == heir.id)
            let requeued = try #require(try await store.jobEvents(job.id).first { $0.from == "running" && $0.to == "queued" })
            #expect(requeued.errorCode == "lost_lease" && requeued.detail?.contains("died while putting the result in place") == true)
            #expect(try await store.history(job.id) == ["queued", "running", "queued", "running", "succeeded"])

            dyingExecutor.mode = .normal
            try await dying.stop()
            try await heir.stop()
        }
    }

    @Test("a worker cut off from the store for longer than its lease loses its job to another worker, and stops its attempt when it is back",
          arguments: StoreKind.allCases)
    func leaseLostDuringAnOutage(_ kind: StoreKind) async throws {
        try await withTestDatabase(kind) { database in
            let store = try await database.open()
            let lease = 1.0
            let (cutOffStore, cutOff) = try await database.openControllable()
            let first = ScriptedHandler { _ in .blockUntilCancelled }
            let isolated = WorkerUnderTest.start(store: cutOffStore, handler: first,
                                                 configuration: WorkerUnderTest.configuration(leaseSeconds: lease), name: "isolated")
            let job = try await store.submitOne(newJob(maxAttempts: 3))
            await eventually("the first worker runs the job") { first.started.count == 1 }
            cutOff.mode = .failing

            let second = ScriptedHandler { _ in .succeed(result: nil) }
            let other = WorkerUnderTest.start(store: try await database.open(), handler: second,
                                              configuration: WorkerUnderTest.configuration(leaseSeconds: 3), name: "other")
            await eventually("the other worker rescues and runs the job") { try await store.existing(job.id).state == .succeeded }
            // (On a loaded machine the first worker may also have missed a renewal before it was
            // cut off, and run the job again itself first: what follows holds either way.)
            let done = try await store.existing(job.id)
            #expect(done.leaseOwner == other.id && second.started.count == 1)
            let requeues = try await store.jobEvents(job.id).filter { $0.from == "running" && $0.to == "queued" }
            #expect(requeues.last?.errorCode == "lost_lease" && requeues.last?.worker == isolated.id)
            await eventually("the cut-off worker is marked gone") {
                try await store.workerEvents(isolated.id).map(\.to).contains("offline")
            }
            let cutOffAttempt = try #require(first.started.last)
            #expect(!first.cancelled.contains(cutOffAttempt), "its attempt runs on while it cannot tell")

            cutOff.mode = .normal
            await eventually("back, it stops its attempt") {
                first.cancelled.contains(cutOffAttempt) && first.discarded.contains(cutOffAttempt)
            }
            await eventually("and says why") { isolated.log.contains("lease lost (the job is succeeded elsewhere); stopped") }
            await eventually("and is online again") { try await store.workerEvents(isolated.id).last?.to == "online" }
            let history = try await store.history(job.id)
            #expect(history.filter { $0 == "succeeded" }.count == 1 && history.suffix(2) == ["running", "succeeded"], "\(history)")
            #expect(try await store.existing(job.id).leaseOwner == other.id)
            try await isolated.stop()
            try await other.stop()
        }
    }

    @Test("a job whose folder stays missing after the box is healthy again is left to others, and this worker takes other jobs; once the folder is back the job runs here",
          arguments: StoreKind.allCases)
    func aJobWhoseFolderStaysMissingIsLeftAlone(_ kind: StoreKind) async throws {
        try await withTestDatabase(kind) { database in
            let store = try await database.open()
            let handler = ScriptedHandler { job in
                job.payload.contains("gone") && job.attempts == 1 ? .unavailableHere("/srv/gone does not exist") : .succeed(result: nil)
            }
            let worker = WorkerUnderTest.start(store: try await database.open(), handler: handler)
            let gone = try await store.submitOne(newJob("gone", priority: 10))
            await eventually("the job goes back, its folder missing") { try await store.existing(gone.id).errorCode == "worker_unhealthy" }

            // The folder is no longer the box's problem, but it is still missing.
            handler.setFoldersStillMissing(true)
            handler.setHealthProblem(nil)
            let other = try await store.submitOne(newJob("other"))
            await eventually("the worker takes another job") { try await store.existing(other.id).state == .succeeded }
            try await Task.sleep(for: .seconds(2))
            #expect(try await store.existing(gone.id).state == .queued, "not claimed again while its folder is missing")
            #expect(handler.started.filter { $0.id == gone.id }.count == 1)

            handler.setFoldersStillMissing(false)
            await eventually("the job runs here once its folder is back") { try await store.existing(gone.id).state == .succeeded }
            try await worker.stop()
        }
    }

    @Test("a job that cannot run on this box goes back uncounted, and the worker is unhealthy until the box heals",
          arguments: StoreKind.allCases)
    func unavailableHereMakesTheWorkerUnhealthy(_ kind: StoreKind) async throws {
        try await withTestDatabase(kind) { database in
            let store = try await database.open()
            let reason = "input folder /srv/in is missing"
            let handler = ScriptedHandler { job in job.attempts == 1 ? .unavailableHere(reason) : .succeed(result: nil) }
            let worker = WorkerUnderTest.start(store: try await database.open(), handler: handler)
            let job = try await store.submitOne(newJob(maxAttempts: 1))

            await eventually("the worker shows as unhealthy") {
                try await store.workers().first { $0.id == worker.id }?.unhealthyReason == reason
            }
            let record = try await store.workerNamed(worker.id)
            #expect(record.state(at: try await store.now()) == .unhealthy)
            let back = try await store.existing(job.id)
            #expect(back.state == .queued && back.attempts == 1 && back.attemptsUsed == 0 && back.errorCode == "worker_unhealthy")
            #expect(back.error?.contains(reason) == true)
            #expect(handler.discarded == [LeasedJob(id: job.id, attempt: 1)])
            let unhealthy = try await store.workerEvents(worker.id).last
            #expect(unhealthy?.to == "unhealthy" && unhealthy?.detail == reason)
            #expect(worker.log.contains("is unhealthy, taking no jobs: \(reason)"))

            // Due again after a second, but not taken while the box is unhealthy.
            try await Task.sleep(for: .seconds(3))
            #expect(try await store.existing(job.id).state == .queued)
            #expect(handler.started.count == 1)

            handler.setHealthProblem(nil)
            await eventually("the job runs once the box is healthy") { try await store.existing(job.id).state == .succeeded }
            #expect(try await store.existing(job.id).attempts == 2)
            #expect(try await store.workerNamed(worker.id).state(at: try await store.now()) == .alive)
            #expect(try await store.workerEvents(worker.id).map(\.to) == ["online", "unhealthy", "healthy"])
            try await worker.stop()
        }
    }

    @Test("a store outage in the middle of a completion: the success is recorded once the store is back",
          arguments: StoreKind.allCases)
    func storeOutageDuringCompletion(_ kind: StoreKind) async throws {
        try await withTestDatabase(kind) { database in
            let store = try await database.open()
            let (workerStore, faults) = try await database.openControllable()
            // Every completion's write fails inside its transaction, as when the connection drops mid-commit.
            faults.failStatements(containing: "SET state = 'succeeded'", times: .max)
            let handler = ScriptedHandler { _ in .succeed(result: "done") }
            let worker = WorkerUnderTest.start(store: workerStore, handler: handler)
            let job = try await store.submitOne(newJob())

            await eventually("the completion has failed a few times") { faults.failedCalls >= 3 }
            #expect(worker.log.contains("cannot reach the queue database"), "\(worker.log.all)")
            // Then the database is down altogether for a while.
            faults.mode = .failing
            try await Task.sleep(for: .seconds(1))
            let meanwhile = try await store.existing(job.id)
            #expect(meanwhile.state == .running && meanwhile.attempts == 1, "nothing recorded while the store is down")

            faults.failStatements(containing: "", times: 0)
            faults.mode = .normal
            await eventually("the success is recorded") { try await store.existing(job.id).state == .succeeded }
            let done = try await store.existing(job.id)
            #expect(done.attempts == 1 && done.result == "done" && done.leaseOwner == worker.id)
            #expect(handler.started.count == 1, "the job ran once")
            #expect(try await store.history(job.id) == ["queued", "running", "succeeded"])
            await eventually("the worker logs that the store is back") { worker.log.contains("the queue database is back after") }
            try await worker.stop()
        }
    }

    @Test("a graceful stop while the store is down: the worker lets its job finish, waits out its lease for the store, then gives up",
          arguments: StoreKind.allCases)
    func gracefulStopDuringAnOutage(_ kind: StoreKind) async throws {
        try await withTestDatabase(kind) { database in
            let store = try await database.open()
            let (workerStore, down) = try await database.openControllable()
            let gate = Gate()
            let handler = ScriptedHandler { _ in .wait(gate, then: { .succeed(result: nil) }) }
            let worker = WorkerUnderTest.start(store: workerStore, handler: handler,
                                               configuration: WorkerUnderTest.configuration(leaseSeconds: 2))
            let job = try await store.submitOne(newJob())
            await eventually("the job runs") { handler.started.count == 1 }
            down.mode = .failing
            worker.shutdown.request(.graceful)
            await eventually("the worker says it is stopping") { worker.log.contains("stopping after its 1 running job(s)") }
            try await Task.sleep(for: .milliseconds(300))
            #expect(!worker.hasEnded, "its job is still running")
            gate.open()
            try await worker.ended()
            #expect(worker.log.contains("stopping without recording 1 result(s)"), "\(worker.log.all)")
            #expect(try await store.existing(job.id).state == .running, "left to its lease, for another worker to rescue")
            down.mode = .normal
        }
    }

    @Test("a stop request while a store call hangs is answered at once, and a forced one makes the worker return",
          arguments: StoreKind.allCases)
    func stopWhileTheStoreHangs(_ kind: StoreKind) async throws {
        try await withTestDatabase(kind) { database in
            let store = try await database.open()
            let (workerStore, hanging) = try await database.openControllable()
            let handler = ScriptedHandler { _ in .blockUntilCancelled }
            let worker = WorkerUnderTest.start(store: workerStore, handler: handler)
            let job = try await store.submitOne(newJob())
            await eventually("the job runs") { handler.started.count == 1 }

            hanging.mode = .stuck
            await eventually("a store call hangs") { hanging.stuckCalls > 0 }
            let asked = ContinuousClock.now
            worker.shutdown.request(.graceful)
            await eventually("the worker says it is stopping") { worker.log.contains("stopping after its 1 running job(s)") }
            let answered = ContinuousClock.now - asked
            #expect(answered < .seconds(1), "answered after \(answered)")

            worker.shutdown.request(.immediate)
            try await worker.ended(within: .seconds(30))
            #expect(worker.log.contains("stopping now"), "\(worker.log.all)")
            #expect(worker.log.contains("stopping without recording 1 result(s)"), "\(worker.log.all)")
            #expect(handler.cancelled == [LeasedJob(id: job.id, attempt: 1)], "its running attempt was stopped")
            // Nothing could be recorded: the job is left to its lease, for other workers to rescue.
            hanging.mode = .normal
            #expect(try await store.existing(job.id).state == .running)
        }
    }
}

// MARK: - Connections killed, the database file replaced

extension WorkerInProcessTests {
    @Test("a worker whose PostgreSQL connections are killed ten times over (pg_terminate_backend) finishes every job once, and stops")
    func workerRidesOutKilledConnections() async throws {
        try await withTestDatabase(.postgres) { database in
            let store = try await database.open()
            let handler = ScriptedHandler { _ in .work(.milliseconds(100), then: { .succeed(result: nil) }) }
            let worker = WorkerUnderTest.start(store: try await database.open(), handler: handler,
                                               configuration: WorkerUnderTest.configuration(leaseSeconds: 3))
            let jobs = try await store.submit((0..<20).map { newJob("j\($0)") }).map(\.job)
            // Ten times, a few tenths of a second apart: while jobs run, finish and are claimed.
            var killed = 0
            for _ in 0..<10 {
                killed += (try? await TestPostgresServer.terminateConnections(to: database.postgresName)) ?? 0
                try await Task.sleep(for: .milliseconds(300))
            }
            await eventually("every job ends", timeout: .seconds(60)) {
                try await store.unfinishedCount() == 0
            }
            #expect(killed >= 3, "connections were killed \(killed) times")
            // The test's own connection was killed too: its next call may only notice that.
            _ = try? await store.now()
            for job in jobs {
                let done = try await store.existing(job.id)
                #expect(done.state == .succeeded, "job \(job.id): \(done.state) \(done.error ?? "")")
                #expect(try await store.history(job.id).filter { $0 == "succeeded" }.count == 1)
            }
            #expect(Set(handler.started).count == handler.started.count, "no attempt run twice")
            // A kill between two calls is mended before the next (a new connection), unseen; one
            // that lands mid-call is an outage the worker reports, and reports over.
            await eventually("every outage the worker reported is over") {
                let lines = worker.log.all
                return lines.filter { $0.contains("cannot reach the queue database") }.count
                    == lines.filter { $0.contains("the queue database is back after") }.count
            }
            try await worker.stop()
        }
    }
}

// MARK: - The database file replaced

extension WorkerInProcessTests {
    @Test("a worker whose SQLite file is removed under it stops its jobs and throws, loudly")
    func sqliteFileRemovedUnderTheWorker() async throws {
        try await withTestDatabase(.sqlite) { database in
            let handler = ScriptedHandler { _ in .blockUntilCancelled }
            // The file is checked with each lease renewal: every second here.
            let worker = WorkerUnderTest.start(store: try await database.open(), handler: handler,
                                               configuration: WorkerUnderTest.configuration(leaseSeconds: 3))
            let store = try await database.open()
            _ = try await store.submitOne(newJob())
            await eventually("the job runs") { handler.started.count == 1 }

            try FileManager.default.moveItem(atPath: database.sqlitePath, toPath: database.sqlitePath + ".moved")
            let ended = try await value(of: Task { () -> (any Error)? in
                do {
                    try await worker.task.value
                    return nil
                } catch {
                    return error
                }
            }, within: .seconds(30), "the worker")
            let error = try #require(ended ?? nil, "run must throw, not return quietly")
            guard case .databaseReplaced(let reason) = error as? Worker.Failure else {
                Issue.record("expected Worker.Failure.databaseReplaced, got \(error)")
                return
            }
            #expect(reason.contains("removed"), "\(reason)")
            #expect(worker.log.contains("stopping its jobs and exiting"), "\(worker.log.all)")
            await eventually("its running attempt is stopped") { handler.cancelled.count == 1 }
        }
    }
}
