import Foundation
import Testing
import JobQueue
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
}
