import Foundation
import Testing
@testable import JobQueue

// MARK: - Migration from the first release

extension StoreConformanceTests {
    /// Makes, on the test's empty database, what the first release left: its schema
    /// (`FirstReleaseSchema`) and its rows (`FirstReleaseRows`), written by other means than the
    /// store under test (the sqlite3 program; a bare libpq connection).
    private func makeFirstReleaseDatabase(_ database: TestDatabase, now: Double) async throws {
        let rows = FirstReleaseRows.statements(now: now)
        switch database.kind {
        case .sqlite:
            let script = FirstReleaseSchema.sqlite + "\n" + rows.map { $0 + ";" }.joined(separator: "\n")
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
            process.arguments = ["-batch", "-bail", database.sqlitePath]
            let input = Pipe(), errors = Pipe()
            process.standardInput = input
            process.standardOutput = FileHandle.nullDevice
            process.standardError = errors
            try process.run()
            input.fileHandleForWriting.write(Data(script.utf8))
            try input.fileHandleForWriting.close()
            process.waitUntilExit()
            let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            try #require(process.terminationStatus == 0, "sqlite3 (Debian package sqlite3) failed: \(message)")
        case .postgres:
            let executor = PostgresExecutor(location: PostgresConnectionString(database.postgresURL), deadline: .seconds(30))
            try await executor.maintain { db in
                for statement in FirstReleaseSchema.postgres + rows { try db.execute(statement) }
            }
            await executor.close()
        }
    }

    @Test("a database made by the first release is upgraded on open, read correctly, and keeps working",
          arguments: StoreKind.allCases)
    func firstReleaseDatabaseUpgrades(_ kind: StoreKind) async throws {
        try await withTestDatabase(kind) { database in
            let now = Date().timeIntervalSince1970
            try await makeFirstReleaseDatabase(database, now: now)
            let store = try await database.open()
            typealias Old = FirstReleaseRows.Job

            let version = try await store.read { db in try SchemaMigrator.version(db) }
            #expect(version == QueueSchema.steps.count, "upgraded to the last step")

            // Every job reads as the release left it.
            let jobs = try await store.allJobs()
            try #require(jobs.map(\.id) == Old.allCases.map(\.rawValue), "\(jobs.map(\.id))")
            func job(_ old: Old) -> Job { jobs[Int(old.rawValue) - 1] }
            for old in Old.allCases {
                let job = job(old)
                #expect(job.kind == "transcode" && job.payload.contains("\"output\"") && job.queue == "default" && job.maxAttempts == 3)
                #expect(job.attemptBase == 0 && job.target == nil && job.key == nil && job.publishing == nil && job.errorCode == nil)
                #expect(abs(job.submittedAt - now) < 400)
            }
            #expect(job(.queued).state == .queued && job(.queued).attempts == 0 && job(.queued).leaseOwner == nil)
            #expect(job(.running).state == .running && job(.running).attempts == 1 && job(.running).leaseOwner == FirstReleaseRows.worker)
            #expect(job(.running).progress == 0.4 && job(.running).fps == 25 && job(.running).eta == 60)
            #expect(abs((job(.running).leaseExpiresAt ?? 0) - (now - 170)) < 0.01, "the running job's lease is kept")
            #expect(job(.succeeded).state == .succeeded && job(.succeeded).result == #"{"duration":12.5}"# && job(.succeeded).progress == 1)
            #expect(job(.failed).state == .failed && job(.failed).attempts == 3 && job(.failed).attemptsUsed == 3)
            #expect(!job(.failed).failedWithoutRetry && job(.failed).error?.hasPrefix("poison:") == true)
            #expect(job(.cancelled).state == .cancelled && job(.cancelled).finishedAt != nil)
            #expect(job(.retrying).state == .queued && job(.retrying).isRetrying && job(.retrying).error == "the transcoder crashed (SIGSEGV)")
            for old in Old.allCases where job(old).state != .running {
                #expect(job(old).leaseExpiresAt == nil, "\(old): a job that is not running holds no lease")
            }
            #expect(try await store.batch(id: 1)?.map(\.id) == [Old.batchFirst.rawValue, Old.batchSecond.rawValue])
            let summary = try await store.batchSummary(id: 1)
            #expect(summary?.counts == [.queued: 2] && summary?.totalWeight == 3.5)
            for (old, history) in FirstReleaseRows.histories {
                #expect(try await store.history(old.rawValue) == history, "\(old)'s events")
            }

            let workers = try await store.workers()
            #expect(workers.map(\.id) == [FirstReleaseRows.worker, FirstReleaseRows.stoppedWorker])
            #expect(workers[0].runningJobs == 1 && workers[0].unhealthyReason == nil && workers[0].jobsDone == 1 && workers[0].jobsFailed == 1)
            #expect(workers[0].state(at: try await store.now()) == .gone, "not heard from for a minute, with a 30 s lease")
            #expect(workers[1].state(at: try await store.now()) == .stopped && workers[1].queues == ["fast", "slow"])

            // And it keeps working: the dead worker's job is rescued, queued jobs are claimed in
            // order under new attempt numbers, completed, and failed ones retried.
            let rescued = try await store.rescue(retry: noBackoff)
            #expect(rescued.rescued.map(\.id) == [Old.running.rawValue] && rescued.rescued.first?.errorCode == "lost_lease")
            #expect(rescued.abandoned.isEmpty && rescued.publications.isEmpty)
            #expect(try await store.markSilentWorkers().map(\.id) == [FirstReleaseRows.worker])
            try await store.registerWorker(workerRecord("new-box"))
            _ = try await store.retry(id: Old.failed.rawValue)
            let retried = try await store.existing(Old.failed.rawValue)
            #expect(retried.state == .queued && retried.attemptsUsed == 0 && retried.attempts == 3)

            let claimed = try await store.claim(worker: "new-box", queues: [], limit: 10, leaseSeconds: longLease)
            #expect(claimed.map(\.id) == [Old.queued, .running, .failed, .retrying, .batchFirst, .batchSecond].map(\.rawValue))
            #expect(claimed.map(\.attempts) == [1, 2, 4, 2, 1, 1], "attempt numbers go on from the release's")
            #expect(claimed.map(\.attemptsUsed) == [1, 2, 1, 2, 1, 1])
            let recorded = try await store.complete(claimed.map { JobCompletion(job: $0.lease, result: nil) }, worker: "new-box")
            #expect(recorded == Set(claimed.map(\.lease)))
            #expect(try await store.history(Old.queued.rawValue) == ["queued", "running", "succeeded"])
            #expect(try await store.history(Old.running.rawValue) == ["queued", "running", "queued", "running", "succeeded"])
            let last = try #require(try await store.jobEvents(Old.queued.rawValue).last)
            #expect(last.worker == "new-box" && last.from == "running" && last.to == "succeeded")
            #expect(try await store.workerNamed("new-box").jobsDone == claimed.count)

            // New rules on the old tables: one unfinished job per target, keys.
            let keyed = try await store.submitOne(newJob(target: "/out/new.flv", key: "upload-1"))
            #expect(await storeError { _ = try await store.submit([newJob(target: "/out/new.flv")]) }
                    == .targetBusy(target: "/out/new.flv", jobID: keyed.id))
            #expect(try await store.submit([newJob(key: "upload-1")]).first?.job.id == keyed.id)

            // Wholes and parts: the old table takes the new state, on this connection and on a store
            // opened before the upgrade was made by another (SQLite: each reads the wider CHECK).
            var whole = newJob("whole")
            whole.parts = [newJob("part")]
            for opened in [store, try await database.open()] {
                let waiting = try await opened.submitOne(whole)
                let parts = try await opened.parts(of: waiting.id)
                #expect(waiting.state == .waiting && parts.count == 1)
            }

            // The release's finished jobs are pruned like any others, with their events.
            #expect(try await store.prune(finishedBefore: now - 200, states: JobState.allCases) == 2)
            for old in [Old.succeeded, .cancelled] {
                #expect(try await store.job(id: old.rawValue) == nil)
                #expect(try await store.jobEvents(old.rawValue).isEmpty)
            }

            // Opening again finds nothing to do.
            let again = try await database.open()
            #expect(try await again.existing(keyed.id) == keyed)
            if kind == .sqlite {
                // The release made files that give no space back; a full compaction switches them.
                try await store.compact(full: true)
                let mode = try await store.read { db in try db.queryOne("PRAGMA auto_vacuum")?.values.first }
                #expect(mode == .integer(2))
            } else {
                let oldFunction = try await store.read { db in
                    try db.queryOne("SELECT to_regproc('vqueue_job_changed') IS NULL AS gone")?.int("gone")
                }
                #expect(oldFunction == 1, "the release's trigger function is gone")
            }
        }
    }

    @Test("stores opened at once on a first-release database upgrade it once", arguments: StoreKind.allCases)
    func concurrentOpensUpgradeOnce(_ kind: StoreKind) async throws {
        try await withTestDatabase(kind) { database in
            try await makeFirstReleaseDatabase(database, now: Date().timeIntervalSince1970)
            let stores = try await withThrowingTaskGroup(of: SQLJobStore.self) { group in
                for _ in 0..<6 { group.addTask { try await database.open() } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(stores.count == 6)
            for store in stores {
                #expect(try await store.read { db in try SchemaMigrator.version(db) } == QueueSchema.steps.count)
            }
            var whole = newJob("whole")
            whole.parts = [newJob("part")]
            for store in stores { #expect(try await store.submitOne(whole).state == .waiting, "every connection reads the wider CHECK") }
            let job = try await stores[0].submitOne(newJob())
            _ = try await stores[1].claimOne("w")
            _ = try await stores[2].claimOne("w")
            #expect(try await stores[3].history(job.id) == ["queued"], "one trigger per change")
            #expect(try await stores[3].history(FirstReleaseRows.Job.queued.rawValue) == ["queued", "running"])
        }
    }
}
