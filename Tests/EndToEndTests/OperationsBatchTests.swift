import Foundation
import Testing

/// `submit --out-dir`, `status --batch`, `cancel --batch`, `retry --batch`: tiny fixtures, one
/// `worker --drain` each, a database per test.
@Suite("Batches: one submit, one status, one cancel, one retry")
struct OperationsBatchTests {
    static let good = ["one_frame.mp4", "rotated_90.mp4", "video_only.mp4"]

    @Test("a batch prints its id then one job id per line and writes DIR/<name>.<format>", .timeLimit(.minutes(30)),
          arguments: TestQueue.Store.allCases)
    func batchSubmitAndFinish(_ store: TestQueue.Store) async throws {
        try await withTemporaryDirectory { directory in
            let queue = try await TestQueue.make(in: directory, store: store)
            let outDir = directory.appendingPathComponent("videos", isDirectory: true)
            try FileManager.default.createDirectory(at: outDir, withIntermediateDirectories: false)
            let inputs = Self.good.map(Locations.fixture)

            let (batch, jobs) = try await queue.submitBatchExpectingIDs(inputs, into: outDir)
            // In the order of the inputs (the jobs are queued longest first, so the ids need not increase).
            #expect(Set(jobs).count == 3, "job ids: \(jobs)")

            let listed = try await queue.list()
            #expect(Set(listed.map(\.id)) == Set(jobs), "list shows the batch's jobs: \(listed.map(\.id))")
            for (job, input) in zip(jobs, inputs) {
                let status = try await queue.job(job)
                let name = input.deletingPathExtension().lastPathComponent
                #expect(status.input == input.path, "\(status)")
                #expect(status.output == outDir.appendingPathComponent("\(name).mp4").path, "\(status)")
                #expect(status.state == "queued", "\(status)")
            }

            let (waiting, waitingRun) = try await queue.batchStatus(batch)
            #expect(waitingRun.exitCode == 3, "unfinished batch exits 3: \(waitingRun)")
            #expect(waiting?.count("queued") == 3 && waiting?.finished == false && waiting?.progress == 0,
                    "\(waitingRun)")
            let plain = try await queue.run("status", ["--batch", String(batch)])
            #expect(plain.exitCode == 3, "\(plain)")
            #expect(plain.stdoutLines.first?.contains("batch \(batch)") == true
                    && plain.stdoutLines.first?.contains("3 queued") == true, "\(plain)")
            expectNoControlCharacters(plain.stdout)

            // A waiting `status --batch --wait` returns when the worker has drained the batch.
            let waiter = try startVqueue(queue.commandLine("status", ["--batch", String(batch), "--wait", "--json"]))
            let worker = try await vqueue(queue.commandLine("worker", ["--drain", "--concurrency", "2"]))
            #expect(worker.exitCode == 0, "\(worker)")
            let waited = await waiter.wait(timeout: .seconds(30))
            #expect(waited.exitCode == 0, "status --batch --wait after the batch succeeded: \(waited)")
            expectNoControlCharacters(waited.stdout + waited.stderr)

            let (done, doneRun) = try await queue.batchStatus(batch)
            #expect(doneRun.exitCode == 0, "every job succeeded: \(doneRun)")
            let report = try #require(done, "\(doneRun)")
            #expect(report.count("succeeded") == 3 && report.finished && report.progress == 1 && report.failed.isEmpty,
                    "\(doneRun)")
            #expect(report.eta == nil, "a finished batch has no ETA: \(doneRun)")
            #expect(directoryListing(outDir) == ["one_frame.mp4", "rotated_90.mp4", "video_only.mp4"],
                    "\(directoryListing(outDir))")
        }
    }

    @Test("one bad input among good ones queues nothing and names it in one line", arguments: TestQueue.Store.allCases)
    func allOrNothing(_ store: TestQueue.Store) async throws {
        try await withTemporaryDirectory { directory in
            let queue = try await TestQueue.make(in: directory, store: store)
            let missing = directory.appendingPathComponent("never uploaded.mov")
            let inputs = [Locations.fixture("one_frame.mp4"), missing, Locations.fixture("rotated_90.mp4")]

            let result = try await queue.submitBatch(inputs, into: directory)
            #expect(result.exitCode != 0 && result.exitCode != nil, "\(result)")
            #expect(result.stdout.isEmpty, "no ids for a refused batch: \(result)")
            #expect(result.stderrLines.count == 1 && result.stderrLines.first?.contains("never uploaded.mov") == true,
                    "one line naming the bad input: \(result)")
            #expect(try await queue.run("list", ["--json"]).stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
                    == "[]")
            #expect(directoryListing(directory).allSatisfy { !$0.hasSuffix(".mp4") }, "\(directoryListing(directory))")
        }
    }

    @Test("an input whose output already exists refuses the whole batch", arguments: TestQueue.Store.allCases)
    func existingOutputRefusesBatch(_ store: TestQueue.Store) async throws {
        try await withTemporaryDirectory { directory in
            let queue = try await TestQueue.make(in: directory, store: store)
            let outDir = directory.appendingPathComponent("videos", isDirectory: true)
            try FileManager.default.createDirectory(at: outDir, withIntermediateDirectories: false)
            let taken = outDir.appendingPathComponent("rotated_90.mp4")
            try Data("keep me".utf8).write(to: taken)

            let result = try await queue.submitBatch(Self.good.map(Locations.fixture), into: outDir)
            #expect(result.exitCode == 1, "\(result)")
            #expect(result.stdout.isEmpty, "\(result)")
            #expect(result.stderrLines.count == 1 && result.stderrLines.first?.contains("rotated_90") == true, "\(result)")
            #expect(try await queue.list().isEmpty)
            #expect(try Data(contentsOf: taken) == Data("keep me".utf8))
        }
    }

    @Test("two inputs that would write the same output are refused before anything is queued",
          arguments: TestQueue.Store.allCases)
    func sameOutputRefused(_ store: TestQueue.Store) async throws {
        try await withTemporaryDirectory { directory in
            let queue = try await TestQueue.make(in: directory, store: store)
            let uploads = directory.appendingPathComponent("uploads", isDirectory: true)
            try FileManager.default.createDirectory(at: uploads, withIntermediateDirectories: false)
            let twin = uploads.appendingPathComponent("one_frame.mov")
            try FileManager.default.copyItem(at: Locations.fixture("one_frame.mp4"), to: twin)

            let result = try await queue.submitBatch([Locations.fixture("one_frame.mp4"), twin], into: directory)
            #expect(result.exitCode == 1, "\(result)")
            #expect(result.stdout.isEmpty, "\(result)")
            #expect(result.stderrLines.count == 1 && result.stderrLines.first?.contains("one_frame") == true, "\(result)")
            #expect(try await queue.list().isEmpty)
        }
    }

    @Test("submit --json prints the batch object with the documented fields", arguments: TestQueue.Store.allCases)
    func batchJSON(_ store: TestQueue.Store) async throws {
        try await withTemporaryDirectory { directory in
            let queue = try await TestQueue.make(in: directory, store: store)
            let result = try await queue.submitBatch(Self.good.map(Locations.fixture), into: directory, ["--json"])
            #expect(result.exitCode == 0 && result.stderr.isEmpty, "\(result)")
            let object = try #require(try JSONSerialization.jsonObject(with: result.stdout) as? [String: Any], "\(result)")
            for key in ["id", "jobs", "job_ids", "counts", "progress", "eta", "finished", "failed"] {
                #expect(object.keys.contains(key), "missing \(key): \(result.stdoutText)")
            }
            let batch = try JSONDecoder.snakeCase.decode(FarmBatch.self, from: result.stdout)
            #expect(batch.jobs == 3 && batch.jobIds.count == 3, "\(result)")
            #expect(batch.count("queued") == 3 && batch.count("retrying") == 0, "\(result)")
            #expect(batch.progress == 0 && batch.eta == nil && !batch.finished && batch.failed.isEmpty, "\(result)")
            #expect(Set(try await queue.list().map(\.id)) == Set(batch.jobIds))
            let (again, run) = try await queue.batchStatus(batch.id)
            #expect(run.exitCode == 3 && again.map { Set($0.jobIds) } == Set(batch.jobIds), "\(run)")
        }
    }

    @Test("a batch with a failed job exits 1, lists the failure, and retry --batch requeues only it",
          .timeLimit(.minutes(30)), arguments: TestQueue.Store.allCases)
    func failedJobAndRetry(_ store: TestQueue.Store) async throws {
        try await withTemporaryDirectory { directory in
            let queue = try await TestQueue.make(in: directory, store: store)
            let inputs = [Locations.fixture("one_frame.mp4"), Locations.fixture("truncated_30pct.mp4")]
            let (batch, jobs) = try await queue.submitBatchExpectingIDs(inputs, into: directory)
            let worker = try await vqueue(queue.commandLine("worker", ["--drain"]))
            #expect(worker.exitCode == 0, "\(worker)")

            let (finished, run) = try await queue.batchStatus(batch)
            #expect(run.exitCode == 1, "one job failed: \(run)")
            let report = try #require(finished, "\(run)")
            #expect(report.count("succeeded") == 1 && report.count("failed") == 1 && report.finished, "\(run)")
            #expect(report.progress == 1, "a finished batch is at 1: \(run)")
            let failure = try #require(report.failed.first, "\(run)")
            #expect(report.failed.count == 1 && failure.id == jobs[1], "\(run)")
            #expect(failure.input == inputs[1].path, "\(run)")
            #expect(failure.output == directory.appendingPathComponent("truncated_30pct.mp4").path, "\(run)")
            #expect(failure.error?.isEmpty == false, "the failure says why: \(run)")

            let plain = try await queue.run("status", ["--batch", String(batch)])
            #expect(plain.exitCode == 1, "\(plain)")
            #expect(plain.stdoutText.contains("job \(jobs[1])") && plain.stdoutText.contains(failure.error ?? "?"),
                    "the plain report lists the failed job and its error: \(plain)")

            let retry = try await queue.run("retry", ["--batch", String(batch)])
            #expect(retry.exitCode == 0, "\(retry)")
            let requeued = try await queue.job(jobs[1])
            #expect(requeued.state == "queued" && requeued.attempts == 0 && requeued.error == nil, "\(requeued)")
            #expect(try await queue.job(jobs[0]).state == "succeeded", "a succeeded job stays as it was")
            let (afterRetry, afterRun) = try await queue.batchStatus(batch)
            #expect(afterRun.exitCode == 3 && afterRetry?.count("queued") == 1 && afterRetry?.finished == false,
                    "\(afterRun)")
        }
    }

    @Test("cancel --batch cancels its unfinished jobs; the batch then exits 2", arguments: TestQueue.Store.allCases)
    func cancelBatch(_ store: TestQueue.Store) async throws {
        try await withTemporaryDirectory { directory in
            let queue = try await TestQueue.make(in: directory, store: store)
            let (batch, jobs) = try await queue.submitBatchExpectingIDs(Self.good.map(Locations.fixture), into: directory)
            let other = try await queue.submit(Locations.fixture("one_frame.mp4"), directory.appendingPathComponent("single.mp4"))

            let cancel = try await queue.run("cancel", ["--batch", String(batch)])
            #expect(cancel.exitCode == 0, "\(cancel)")
            for job in jobs {
                #expect(try await queue.job(job).state == "cancelled")
            }
            #expect(try await queue.job(other).state == "queued", "a job outside the batch is untouched")
            let (report, run) = try await queue.batchStatus(batch)
            #expect(run.exitCode == 2 && report?.count("cancelled") == 3 && report?.finished == true, "\(run)")
            // The cancellations are state changes like any other: the events say so.
            let events = try await queue.events()
            for job in jobs {
                #expect(events.contains { $0.job == job && $0.to == "cancelled" }, "no cancelled event for job \(job)")
            }
        }
    }

    @Test("status, cancel and retry of a batch that does not exist exit 4 in one line",
          arguments: TestQueue.Store.allCases)
    func noSuchBatch(_ store: TestQueue.Store) async throws {
        try await withTemporaryDirectory { directory in
            let queue = try await TestQueue.make(in: directory, store: store)
            _ = try await queue.submitBatchExpectingIDs([Locations.fixture("one_frame.mp4")], into: directory)
            for command in ["status", "cancel", "retry"] {
                let result = try await queue.run(command, ["--batch", "999"])
                #expect(result.exitCode == 4, "\(result)")
                #expect(result.stdout.isEmpty, "\(result)")
                #expect(result.stderrLines.count == 1 && result.stderrLines.first?.contains("999") == true, "\(result)")
            }
            let json = try await queue.run("status", ["--batch", "999", "--json"])
            #expect(json.exitCode == 4 && json.stdout.isEmpty, "\(json)")
        }
    }
}
