import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension QueueWorkerTests {
    @Suite("Many workers and submitters on one database")
    struct Load {
        static let workerCount = 4
        static let submitterCount = 4
        static let jobsPerSubmitter = 75

        @Test("4 workers and 4 submitters over 300 jobs: every job succeeds exactly once, none lost, never locked",
              .timeLimit(.minutes(30)), arguments: TestQueue.Store.allCases)
        func everyJobExactlyOnce(_ store: TestQueue.Store) async throws {
            try await withTemporaryDirectory { directory in
                let scene = try await QueueScene(in: directory, store: store)
                let input = Locations.fixture("one_frame.mp4")
                let total = Self.submitterCount * Self.jobsPerSubmitter

                let (submissions, workerLogs, elapsed) = try await withProcessSlot {
                    let started = ContinuousClock.now
                    // Every process meets a queue that does not exist yet (no SQLite file, an empty
                    // PostgreSQL database): creating its tables races too.
                    let workers = try (0..<Self.workerCount).map { _ in
                        try scene.queue.startWorker(["--concurrency", "2"])
                    }
                    defer { workers.forEach(killIfRunning) }

                    let submissions = try await withThrowingTaskGroup(of: [(String, ProcessResult)].self) { group in
                        for submitter in 0..<Self.submitterCount {
                            group.addTask {
                                var results: [(String, ProcessResult)] = []
                                for index in 0..<Self.jobsPerSubmitter {
                                    let name = "s\(submitter)-\(index).mp4"
                                    let result = try await scene.queue.run(
                                        "submit", ["--", input.path, scene.output(name).path])
                                    results.append((name, result))
                                }
                                return results
                            }
                        }
                        return try await group.reduce(into: []) { $0 += $1 }
                    }

                    let allDone = try await eventually(within: .seconds(150)) {
                        let done = try await scene.queue.query("SELECT COUNT(*) FROM jobs WHERE state = 'succeeded'")
                        return done == [String(total)]
                    }
                    #expect(allDone, "not every job succeeded within 150 s")
                    #expect(workers.allSatisfy { $0.isRunning }, "a worker died under load")
                    var logs: [ProcessResult] = []
                    for worker in workers { logs.append(await stopWorker(worker)) }
                    return (submissions, logs, ContinuousClock.now - started)
                }
                print("queue load: \(total) jobs through \(Self.workerCount) workers in \(elapsed)")

                // Every submit was acknowledged with an id of its own, without a word on stderr.
                #expect(submissions.count == total)
                for (name, result) in submissions {
                    #expect(result.exitCode == 0 && result.stderr.isEmpty && TestQueue.jobID(result) != nil,
                            "submit of \(name): \(result)")
                }
                let ids = submissions.compactMap { TestQueue.jobID($0.1) }
                #expect(Set(ids).count == total, "job ids must be distinct")

                // None lost, none doubled: the jobs table and the events the database itself recorded.
                let idList = ids.map(String.init).sorted().joined(separator: ",")
                #expect(try await scene.queue.query("SELECT COUNT(*) FROM jobs") == [String(total)])
                #expect(try await scene.queue.query("SELECT COUNT(*) FROM jobs WHERE id IN (\(idList))") == [String(total)])
                #expect(try await scene.queue.query("SELECT COUNT(*) FROM jobs WHERE state <> 'succeeded'") == ["0"])
                let doubled = try await scene.queue.query("""
                    SELECT CAST(job_id AS TEXT) || ':' || CAST(COUNT(*) AS TEXT) FROM events WHERE to_state = 'succeeded'
                    GROUP BY job_id HAVING COUNT(*) <> 1
                    """)
                #expect(doubled.isEmpty, "jobs that succeeded more than once: \(doubled)")
                #expect(try await scene.queue.query(
                    "SELECT COUNT(DISTINCT job_id) FROM events WHERE to_state = 'succeeded'") == [String(total)])
                let spread = try await scene.queue.query(
                    "SELECT COUNT(DISTINCT worker) FROM events WHERE to_state = 'succeeded'")
                #expect((Int(spread.first ?? "") ?? 0) >= 2, "the jobs should be spread over the workers: \(spread)")

                // Each output exactly where it was asked for, and no temporary file left.
                #expect(directoryListing(scene.outputs) == submissions.map(\.0).sorted(),
                        "unexpected files: \(Set(directoryListing(scene.outputs)).symmetricDifference(submissions.map(\.0)))")
                for log in workerLogs {
                    #expect(log.exitCode == 0, "\(log)")
                    expectCleanWorkerLog(log)
                }
                try await expectWebProfile(scene.output("s0-0.mp4"), from: input)
                try await expectWebProfile(scene.output("s3-74.mp4"), from: input)
            }
        }
    }
}
