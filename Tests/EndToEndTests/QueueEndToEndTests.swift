import Foundation
import Testing

@Suite("The queue, end to end: submit, worker, status")
struct QueueEndToEndTests {
    /// Uploads a web site might queue, each to another container.
    static let uploads: [(input: String, output: String)] = [
        ("old_camera.avi", "old_camera.flv"),
        ("rotated_90.mp4", "rotated_90.mp4"),
        ("surround_51.mkv", "surround_51.mkv"),
        ("vfr.mkv", "vfr.mp4"),
        ("video_only.mp4", "video_only.flv"),
    ]

    @Test("submitted uploads are transcoded by a draining worker; status reports each end with its exit code",
          .timeLimit(.minutes(30)), arguments: TestQueue.Store.allCases)
    func submitWorkStatus(_ store: TestQueue.Store) async throws {
        try await withTemporaryDirectory { directory in
            // VQUEUE_DB here; every other queue test passes --db.
            let queue = try await TestQueue.make(in: directory, store: store, selection: .environment)
            let outputs = directory.appendingPathComponent("out", isDirectory: true)
            try FileManager.default.createDirectory(at: outputs, withIntermediateDirectories: false)

            var good: [(id: Int64, input: URL, output: URL)] = []
            for upload in Self.uploads {
                let input = Locations.fixture(upload.input), output = outputs.appendingPathComponent(upload.output)
                good.append((try await queue.submit(input, output), input, output))
            }
            let truncated = try await queue.submit(Locations.fixture("truncated_30pct.mp4"),
                                                   outputs.appendingPathComponent("truncated.mp4"))
            let cancelled = try await queue.submit(Locations.fixture("one_frame.mp4"),
                                                   outputs.appendingPathComponent("cancelled.mp4"))

            // Queued: exit 3, every field there, the times not yet known.
            let queuedRun = try await queue.run("status", [String(good[0].id), "--json"])
            #expect(queuedRun.exitCode == 3, "\(queuedRun)")
            let queued = try expectStatusObject(queuedRun)
            #expect(queued.state == "queued" && queued.attempts == 0 && queued.progress == 0 && !queued.retrying)
            #expect(queued.maxAttempts == 3)
            #expect(queued.input == good[0].input.path && queued.output == good[0].output.path, "\(queued)")
            #expect(queued.startedAt == nil && queued.finishedAt == nil && queued.worker == nil && queued.error == nil,
                    "\(queuedRun)")

            let cancel = try await queue.run("cancel", [String(cancelled)])
            #expect(cancel.exitCode == 0, "\(cancel)")

            let worker = try await withProcessSlot {
                try await queue.startWorker(["--drain", "--concurrency", "2"]).wait(timeout: .seconds(200))
            }
            #expect(worker.exitCode == 0, "\(worker)")
            expectCleanWorkerLog(worker)
            for line in worker.stderrLines {
                let stamp = line.split(separator: " ").first.map(String.init) ?? ""
                #expect(QueueTime.isWellFormed(stamp), "a worker log line starts with its time: \(line)")
            }

            for job in good {
                let run = try await queue.run("status", [String(job.id), "--json"])
                #expect(run.exitCode == 0, "\(run)")
                let status = try expectStatusObject(run)
                #expect(status.state == "succeeded" && status.attempts == 1 && status.progress == 1 && status.error == nil,
                        "\(run)")
                #expect(status.input == job.input.path && status.output == job.output.path, "\(status)")
                #expect(status.worker?.isEmpty == false, "\(status)")
                let submitted = try #require(QueueTime.parse(status.submittedAt), "\(status)")
                let started = try #require(QueueTime.parse(status.startedAt), "\(status)")
                let finished = try #require(QueueTime.parse(status.finishedAt), "\(status)")
                #expect(submitted <= started && started <= finished, "\(status)")
                #expect(worker.stderrLines.contains { $0.contains("job \(job.id) running") }, "no log of job \(job.id) starting")
                #expect(worker.stderrLines.contains { $0.contains("job \(job.id) succeeded") }, "no log of job \(job.id) ending")
                #expect(try await queue.stateHistory(job.id) == ["queued", "running", "succeeded"])
                try await expectWebProfile(job.output, from: job.input)
            }

            // The human line: one line, the state, exit 0.
            let line = try await queue.run("status", [String(good[0].id)])
            #expect(line.exitCode == 0 && line.stdoutLines.count == 1 && line.stdoutText.contains("succeeded"), "\(line)")

            // Failed (a truncated upload: permanent, not retried): exit 1, the reason in `error`, and a
            // line that reads as final.
            let failedRun = try await queue.run("status", [String(truncated), "--json"])
            #expect(failedRun.exitCode == 1, "\(failedRun)")
            let failed = try expectStatusObject(failedRun)
            #expect(failed.state == "failed" && failed.attempts == 1, "a permanent failure is not retried: \(failed)")
            #expect(failed.error?.localizedCaseInsensitiveContains("truncated") == true, "\(failed)")
            #expect(failed.errorCode?.isEmpty == false, "a failure carries a stable code: \(failed)")
            #expect(QueueTime.parse(failed.finishedAt) != nil, "\(failed)")
            #expect(worker.stderrLines.contains { $0.contains("job \(truncated) failed") }, "\(worker)")
            let failedLine = try await queue.run("status", [String(truncated)])
            #expect(failedLine.stdoutText.contains("failed after 1 attempt (not retried: "), "reads as final: \(failedLine)")

            // Cancelled before any worker saw it: exit 2, never ran.
            let cancelledRun = try await queue.run("status", [String(cancelled), "--json"])
            #expect(cancelledRun.exitCode == 2, "\(cancelledRun)")
            let cancelledJob = try expectStatusObject(cancelledRun)
            #expect(cancelledJob.state == "cancelled" && cancelledJob.attempts == 0 && cancelledJob.startedAt == nil,
                    "\(cancelledJob)")
            #expect(try await queue.stateHistory(cancelled) == ["queued", "cancelled"])

            // No such job: exit 4, one line naming it.
            let missing = try await queue.run("status", ["9999", "--json"])
            expectJobRefusal(missing, job: 9999, exitCode: 4)

            #expect(Set(directoryListing(outputs)) == Set(Self.uploads.map(\.output)),
                    "only the successful outputs, no temporary file: \(directoryListing(outputs))")
        }
    }

    @Test("cancel: a queued job is cancelled at once and never runs; a finished or missing job is refused",
          .timeLimit(.minutes(30)), arguments: TestQueue.Store.allCases)
    func cancelQueued(_ store: TestQueue.Store) async throws {
        try await withTemporaryDirectory { directory in
            let queue = try await TestQueue.make(in: directory, store: store)
            let output = directory.appendingPathComponent("never.mp4")
            let id = try await queue.submit(Locations.fixture("one_frame.mp4"), output)
            let done = try await queue.submit(Locations.fixture("one_frame.mp4"), directory.appendingPathComponent("done.mp4"))

            let cancel = try await queue.run("cancel", [String(id)])
            #expect(cancel.exitCode == 0 && cancel.stderr.isEmpty, "\(cancel)")
            let (job, statusRun) = try await queue.status(id)
            #expect(statusRun.exitCode == 2 && job.state == "cancelled", "\(statusRun)")
            #expect(QueueTime.parse(job.finishedAt) != nil && job.startedAt == nil, "\(job)")

            let worker = try await queue.startWorker(["--drain"]).wait(timeout: .seconds(60))
            #expect(worker.exitCode == 0, "\(worker)")
            expectCleanWorkerLog(worker)
            #expect(!worker.stderrText.contains("job \(id) "), "the cancelled job ran: \(worker)")
            #expect(try await queue.stateHistory(id) == ["queued", "cancelled"])
            #expect(!FileManager.default.fileExists(atPath: output.path))

            #expect(try await queue.job(done).state == "succeeded")
            let finished = try await queue.run("cancel", [String(done)])
            expectJobRefusal(finished, job: done, exitCode: 1)
            #expect(try await queue.job(done).state == "succeeded", "cancel must not touch a finished job")
            let missing = try await queue.run("cancel", ["4242"])
            expectJobRefusal(missing, job: 4242, exitCode: 4)
        }
    }

    @Test("retry puts a failed job back in the queue; list --state failed finds it", .timeLimit(.minutes(30)),
          arguments: TestQueue.Store.allCases)
    func retryFailed(_ store: TestQueue.Store) async throws {
        try await withTemporaryDirectory { directory in
            let queue = try await TestQueue.make(in: directory, store: store)
            let input = directory.appendingPathComponent("upload.mp4")
            let output = directory.appendingPathComponent("upload.flv")
            try FileManager.default.copyItem(at: Locations.fixture(Fixture.small), to: input)
            let fine = try await queue.submit(Locations.fixture("one_frame.mp4"), directory.appendingPathComponent("fine.mp4"))
            let id = try await queue.submit(input, output)
            // The upload is damaged after it was queued: the job fails for good.
            try FileManager.default.removeItem(at: input)
            try FileManager.default.copyItem(at: Locations.fixture("text_file.avi"), to: input)

            let first = try await queue.startWorker(["--drain"]).wait(timeout: .seconds(120))
            #expect(first.exitCode == 0, "\(first)")
            let (failed, failedRun) = try await queue.status(id)
            #expect(failedRun.exitCode == 1 && failed.state == "failed" && failed.error != nil, "\(failedRun)")

            let failedList = try await queue.list(state: "failed")
            #expect(failedList.map(\.id) == [id], "list --state failed: \(failedList.map(\.id))")
            #expect(try await queue.list(state: "succeeded").map(\.id) == [fine])
            #expect(Set(try await queue.list().map(\.id)) == [fine, id])

            // The upload is fixed; retry queues the job again with fresh attempts.
            try FileManager.default.removeItem(at: input)
            try FileManager.default.copyItem(at: Locations.fixture(Fixture.small), to: input)
            let retry = try await queue.run("retry", [String(id)])
            #expect(retry.exitCode == 0 && retry.stderr.isEmpty, "\(retry)")
            let (requeued, requeuedRun) = try await queue.status(id)
            #expect(requeuedRun.exitCode == 3, "\(requeuedRun)")
            #expect(requeued.state == "queued" && requeued.attempts == 0 && requeued.error == nil
                    && requeued.finishedAt == nil, "\(requeued)")
            #expect(try await queue.list(state: "failed").isEmpty)

            // Only failed or cancelled jobs can be retried.
            expectJobRefusal(try await queue.run("retry", [String(fine)]), job: fine, exitCode: 1)
            expectJobRefusal(try await queue.run("retry", ["4242"]), job: 4242, exitCode: 4)

            let second = try await queue.startWorker(["--drain"]).wait(timeout: .seconds(120))
            #expect(second.exitCode == 0, "\(second)")
            expectCleanWorkerLog(second)
            let (done, doneRun) = try await queue.status(id)
            #expect(doneRun.exitCode == 0 && done.state == "succeeded" && done.attempts == 1, "\(doneRun)")
            #expect(try await queue.stateHistory(id) == ["queued", "running", "failed", "queued", "running", "succeeded"])
            try await expectWebProfile(output, from: input)
        }
    }

    /// Awkward names, given relative to the submitter's folder (with `--` so a leading dash is a name).
    static let awkwardNames: [(input: String, output: String)] = [
        ("my holiday video.mp4", "my holiday video (web).flv"),
        ("it's \"quoted\".mp4", "it's \"quoted\" out.mp4"),
        ("$(touch pwned).mp4", "$(touch pwned) `touch pwned`; out.mkv"),
        ("-in.mp4", "-out.mp4"),
        ("vidéo 日本.mp4", "vidéo 日本 → web.mp4"),
    ]

    @Test("file names with spaces, quotes, $(...), a leading dash and non-ASCII are only names",
          .timeLimit(.minutes(30)), arguments: TestQueue.Store.allCases)
    func awkwardFileNames(_ store: TestQueue.Store) async throws {
        try await withTemporaryDirectory { directory in
            let queue = try await TestQueue.make(in: directory, store: store)
            let media = directory.appendingPathComponent("media", isDirectory: true)
            try FileManager.default.createDirectory(at: media, withIntermediateDirectories: false)
            var jobs: [(id: Int64, input: URL, output: URL)] = []
            for name in Self.awkwardNames {
                let input = media.appendingPathComponent(name.input), output = media.appendingPathComponent(name.output)
                try FileManager.default.copyItem(at: Locations.fixture(Fixture.small), to: input)
                let id = try await queue.submit(name.input, name.output, in: media)
                jobs.append((id, input, output))
            }

            let worker = try await withProcessSlot {
                try await queue.startWorker(["--drain"], in: media).wait(timeout: .seconds(200))
            }
            #expect(worker.exitCode == 0, "\(worker)")
            expectCleanWorkerLog(worker)

            for job in jobs {
                let (status, run) = try await queue.status(job.id)
                #expect(run.exitCode == 0 && status.state == "succeeded", "\(run)")
                #expect(status.input == job.input.path && status.output == job.output.path,
                        "stored paths must be the names, made absolute: \(status)")
                try await expectWebProfile(job.output, from: job.input)
            }
            let expected = Set(Self.awkwardNames.flatMap { [$0.input, $0.output] })
            #expect(Set(directoryListing(media)) == expected, "\(directoryListing(media))")
            for place in [directory, media, Locations.packageRoot,
                          URL(fileURLWithPath: FileManager.default.currentDirectoryPath)] {
                #expect(!FileManager.default.fileExists(atPath: place.appendingPathComponent("pwned").path),
                        "a shell ran a file name in \(place.path)")
            }
        }
    }
}

/// The `status --json` object: one line of JSON on stdout, nothing on stderr, every documented field
/// present (null when not known), and its times ISO 8601 UTC with milliseconds.
func expectStatusObject(_ result: ProcessResult, sourceLocation: SourceLocation = #_sourceLocation) throws -> JobStatus {
    #expect(result.stdoutLines.count == 1, "one line of JSON: \(result)", sourceLocation: sourceLocation)
    #expect(result.stderr.isEmpty, "\(result)", sourceLocation: sourceLocation)
    let object = try #require(try JSONSerialization.jsonObject(with: result.stdout) as? [String: Any],
                              "not a JSON object: \(result)", sourceLocation: sourceLocation)
    let fields = ["id", "state", "progress", "input", "output", "attempts", "max_attempts", "error", "submitted_at",
                  "started_at", "finished_at", "worker", "retrying", "retry_at"]
    let missing = fields.filter { object[$0] == nil }
    #expect(missing.isEmpty, "fields missing (null must be written, not left out): \(missing)",
            sourceLocation: sourceLocation)
    for field in ["submitted_at", "started_at", "finished_at", "retry_at"] {
        guard let value = object[field], !(value is NSNull) else { continue }
        #expect((value as? String).map(QueueTime.isWellFormed) == true,
                "\(field) must be ISO 8601 UTC with milliseconds: \(value)", sourceLocation: sourceLocation)
    }
    #expect(object["submitted_at"] is String, "submitted_at is always known", sourceLocation: sourceLocation)
    return try JobStatus.decode(result.stdout)
}
