import Foundation
import Testing
import JobQueue
import Transcode
import TranscodeJobs
@testable import vqueue

@Suite("submit --split auto: split only when it is worth it")
struct SplitSubmissionTests {
    func worker(_ id: String, concurrency: Int, queues: [String] = [], heartbeat: Double = 1000, stopped: Double? = nil) -> WorkerRecord {
        var worker = WorkerRecord(id: id, host: "box", pid: 1, concurrency: concurrency, queues: queues, leaseSeconds: 30)
        worker.heartbeatAt = heartbeat
        worker.stoppedAt = stopped
        return worker
    }

    @Test("an input over three chunks long and more than one live slot for its queue: split; else not")
    func worthSplitting() {
        let two = [worker("a", concurrency: 1), worker("b", concurrency: 1)]
        #expect(SplitSubmission.worthSplitting(duration: 91, length: 30, queue: "default", workers: two, now: 1001))
        // Three chunks or fewer: one box does it about as fast, without the join.
        #expect(!SplitSubmission.worthSplitting(duration: 90, length: 30, queue: "default", workers: two, now: 1001))
        #expect(!SplitSubmission.worthSplitting(duration: nil, length: 30, queue: "default", workers: two, now: 1001))
        // One slot in all: nothing runs beside anything.
        #expect(!SplitSubmission.worthSplitting(duration: 600, length: 30, queue: "default",
                                                workers: [worker("a", concurrency: 1)], now: 1001))
        #expect(SplitSubmission.worthSplitting(duration: 600, length: 30, queue: "default",
                                               workers: [worker("a", concurrency: 2)], now: 1001))
        // Workers that are stopped, silent past their lease, or take other queues do not count.
        let elsewhere = [worker("a", concurrency: 1), worker("b", concurrency: 4, stopped: 900),
                         worker("c", concurrency: 4, heartbeat: 100), worker("d", concurrency: 4, queues: ["hd"])]
        #expect(!SplitSubmission.worthSplitting(duration: 600, length: 30, queue: "default", workers: elsewhere, now: 1001))
        #expect(SplitSubmission.worthSplitting(duration: 600, length: 30, queue: "hd", workers: elsewhere, now: 1001))
    }
}

@Suite("retry of a split job")
struct SplitRetryTests {
    @Test("the retried whole's payload, checked again, is still the stitch (else it would transcode the input whole)")
    func retryKeepsTheStitch() throws {
        let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Fixtures/video_only.mp4").path
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("retry-\(UInt32.random(in: 0 ... .max)).mp4").path
        let whole = TranscodeJob(input: fixture, output: output, options: TranscodeOptions(), overwrite: false,
                                 split: .stitch(chunks: 4, audio: false))
        let job = Job(id: 1, kind: TranscodeJob.kind, payload: try whole.encoded(), queue: "default", priority: 0, state: .failed,
                      attempts: 1, maxAttempts: 3, runAt: 0, submittedAt: 0)
        let again = try #require(try RetryCommand.checkedAgain(job))
        #expect(TranscodeJob.decode(again)?.split == .stitch(chunks: 4, audio: false))
    }
}
