import Foundation
import Testing
import JobQueue
import Transcode
import TranscodeJobs
@testable import vqueue

@Suite("A job as status and list show it: wholes and their parts")
struct JobReportTests {
    func job(_ id: Int64, _ state: JobState, parent: Int64? = nil) -> Job {
        var job = Job(id: id, kind: "transcode", payload: #"{"input":"/in/long.mov","output":"/out/long.mp4"}"#,
                      queue: "default", priority: 0, state: state, attempts: 0, maxAttempts: 3, runAt: 0, submittedAt: 0)
        job.parentID = parent
        return job
    }

    @Test("a part names its whole in the line and in the JSON; a job that is not a part has parent_id null")
    func partNamesItsWhole() throws {
        let part = JobReport(job(12, .queued, parent: 10))
        #expect(part.line.hasPrefix("job 12 queued (part of job 10)"), "\(part.line)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(JobReport.json(part).utf8)) as? [String: Any])
        #expect(json["parent_id"] as? Int == 10)
        let plain = try #require(try JSONSerialization.jsonObject(with: Data(JobReport.json(JobReport(job(13, .queued))).utf8))
                                 as? [String: Any])
        #expect(plain["parent_id"] is NSNull)
    }

    @Test("a waiting whole is not finished: state waiting, status exit code 3")
    func waitingIsUnfinished() throws {
        let whole = JobReport(job(10, .waiting))
        #expect(whole.line.hasPrefix("job 10 waiting,"), "\(whole.line)")
        #expect(whole.exitCode == 3)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(JobReport.json(whole).utf8)) as? [String: Any])
        #expect(json["state"] as? String == "waiting" && json["progress"] as? Double == 0)
    }

    func splitJob(_ id: Int64, _ state: JobState, step: SplitStep, parent: Int64? = nil) throws -> Job {
        var job = job(id, state, parent: parent)
        job.payload = try TranscodeJob(input: "/in/long.mov", output: "/out/long.mp4", options: TranscodeOptions(), overwrite: false,
                                       split: step).encoded()
        return job
    }

    @Test("a split job's part says what it is and whose: the audio of job 10")
    func partSaysWhatItIs() throws {
        let audio = JobReport(try splitJob(16, .running, step: .audio(seconds: 40), parent: 10))
        #expect(audio.line.contains("(the audio of job 10)"), "\(audio.line)")
    }

    @Test("a waiting whole shows one progress figure, its parts' fps together and an ETA from their pace; JSON counts its parts")
    func wholeShowsItsParts() throws {
        var summary = BatchSummary(id: 10, counts: [.succeeded: 2, .running: 1, .queued: 1], retrying: 0, totalWeight: 40,
                                   doneWeight: 20, firstStart: Date().timeIntervalSince1970 - 10)
        summary.fps = 300
        let whole = JobReport(try splitJob(10, .waiting, step: .stitch(chunks: 3, audio: true)), parts: summary)
        // Half the parts' media seconds done; the stitch still to come.
        #expect(abs(whole.progress - 0.5 * (1 - JobReport.stitchShare)) < 1e-9)
        #expect(whole.fps == 300)
        let eta = try #require(whole.eta)
        #expect(eta > 8 && eta < 12, "10 s for half, so about 10 s left: \(eta)")
        #expect(whole.line.hasPrefix("job 10 waiting for its parts (2 of 4 done) 48% 300 fps ETA 0:1"), "\(whole.line)")
        #expect(whole.exitCode == 3)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(JobReport.json(whole).utf8)) as? [String: Any])
        let parts = try #require(json["parts"] as? [String: Int])
        #expect(parts == ["total": 4, "queued": 1, "running": 1, "succeeded": 2, "failed": 0, "cancelled": 0])
        #expect(json["fps"] as? Double == 300)

        let done = JobReport(try splitJob(10, .succeeded, step: .stitch(chunks: 3, audio: true)), parts: summary)
        #expect(done.progress == 1 && done.fps == nil && done.eta == nil)
    }
}
