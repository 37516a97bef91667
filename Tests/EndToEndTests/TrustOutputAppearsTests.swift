import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A file that turns up at OUT after the submit (another upload, a person copying a file in) is
/// never replaced unless the job was submitted with `--overwrite`. Issue 9: the payload's
/// `overwrite` flag was never used at run time, so such a file was silently replaced.
@Suite("Trust: a file appearing at OUT while the job runs")
struct TrustOutputAppearsTests {
    static let precious = Data("someone else's file, appeared after the submit\n".utf8)

    @Test("a file created at OUT while the job runs: the job fails for good with output_exists, saying so, and the file is byte for byte untouched",
          .timeLimit(.minutes(30)), arguments: TestQueue.Store.allCases)
    func appearedOutputIsKept(_ store: TestQueue.Store) async throws {
        try await withTemporaryDirectory { directory in
            let scene = try await QueueScene(in: directory, store: store)
            let input = try await LongJob.sample(in: directory, seconds: 8)
            let output = scene.output("clip.mp4")

            let (job, statusLine, log) = try await withProcessSlot {
                let worker = try scene.queue.startWorker(["--concurrency", "1"])
                defer { killIfRunning(worker) }
                let id = try await scene.queue.submit(input, output, LongJob.options)
                _ = try await scene.queue.jobCaughtRunning(id, timeout: .seconds(300))
                try Self.precious.write(to: output, options: .withoutOverwriting)

                let job = try await scene.finished(id, timeout: .seconds(900))
                let statusLine = try await scene.queue.run("status", [String(id)])
                let log = await stopWorker(worker)
                #expect(log.exitCode == 0, "\(log)")
                return (job, statusLine, log)
            }

            #expect(job.state == "failed", "\(job); worker: \(log)")
            #expect(job.errorCode == "output_exists", "\(job)")
            #expect(job.attempts == 1, "a permanent failure is not retried: \(job)")
            let error = job.error ?? ""
            #expect(error.contains(output.path) && (error.contains("exists") || error.contains("appeared")),
                    "the error must say OUT appeared: \(error)")
            #expect(statusLine.exitCode == 1, "\(statusLine)")
            #expect(statusLine.stdoutLines.count == 1
                    && statusLine.stdoutText.contains("failed after 1 attempt (not retried:"),
                    "a permanent failure reads as final: \(statusLine)")
            let failedEvent = try await scene.queue.events(["--job", String(job.id)]).last
            #expect(failedEvent?.to == "failed" && failedEvent?.errorCode == "output_exists", "\(String(describing: failedEvent))")
            #expect(try await scene.queue.stateHistory(job.id) == ["queued", "running", "failed"])

            #expect((try? Data(contentsOf: output)) == Self.precious, "the file at OUT was changed")
            #expect(directoryListing(scene.outputs) == ["clip.mp4"], "no temporary file left: \(directoryListing(scene.outputs))")
            #expect(scene.noChildLeft(for: output))
        }
    }

    @Test("a symbolic link created at OUT while the job runs, pointing nowhere: the job fails for good with output_exists and the link is left as it is",
          .timeLimit(.minutes(30)), arguments: TestQueue.Store.allCases)
    func appearedLinkIsKept(_ store: TestQueue.Store) async throws {
        try await withTemporaryDirectory { directory in
            let scene = try await QueueScene(in: directory, store: store)
            let input = try await LongJob.sample(in: directory, seconds: 8)
            let output = scene.output("clip.mp4")
            // A name on its way (a dangling link is an entry at OUT all the same: a publish that
            // never replaces what is there, renameat2 with RENAME_NOREPLACE, refuses it).
            let target = directory.appendingPathComponent("elsewhere/not-yet.mp4").path

            let job = try await withProcessSlot {
                let worker = try scene.queue.startWorker(["--concurrency", "1"])
                defer { killIfRunning(worker) }
                let id = try await scene.queue.submit(input, output, LongJob.options)
                _ = try await scene.queue.jobCaughtRunning(id, timeout: .seconds(300))
                try FileManager.default.createSymbolicLink(atPath: output.path, withDestinationPath: target)
                let job = try await scene.finished(id, timeout: .seconds(900))
                let log = await stopWorker(worker)
                #expect(log.exitCode == 0, "\(log)")
                return job
            }

            #expect(job.state == "failed" && job.errorCode == "output_exists", "\(job)")
            #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: output.path)) == target,
                    "the link at OUT was replaced: \(directoryListing(scene.outputs))")
            #expect(directoryListing(scene.outputs) == ["clip.mp4"], "\(directoryListing(scene.outputs))")
        }
    }

    @Test("with --overwrite, a file created at OUT while the job runs is replaced by the transcode",
          .timeLimit(.minutes(30)), arguments: TestQueue.Store.allCases)
    func appearedOutputIsReplacedWithOverwrite(_ store: TestQueue.Store) async throws {
        try await withTemporaryDirectory { directory in
            let scene = try await QueueScene(in: directory, store: store)
            let input = try await LongJob.sample(in: directory, seconds: 8)
            let output = scene.output("clip.mp4")

            let job = try await withProcessSlot {
                let worker = try scene.queue.startWorker(["--concurrency", "1"])
                defer { killIfRunning(worker) }
                let id = try await scene.queue.submit(input, output, LongJob.options + ["--overwrite"])
                _ = try await scene.queue.jobCaughtRunning(id, timeout: .seconds(300))
                try Self.precious.write(to: output, options: .withoutOverwriting)
                let job = try await scene.finished(id, timeout: .seconds(900))
                let log = await stopWorker(worker)
                #expect(log.exitCode == 0, "\(log)")
                return job
            }

            #expect(job.state == "succeeded" && job.attempts == 1, "\(job)")
            #expect((try? Data(contentsOf: output)) != Self.precious, "the file at OUT was not replaced")
            #expect(directoryListing(scene.outputs) == ["clip.mp4"], "\(directoryListing(scene.outputs))")
            try await expectWebProfile(output, from: input)
        }
    }
}
