import Foundation
import JobQueue
import Transcode

/// Follows a job until it finishes (`status --wait`, `submit --wait`),
/// drawing a progress bar on a terminal.
struct JobWaiter {
    let store: any JobStore
    let id: Int64
    var timeout: Double?

    /// The job as it stands at the end (finished, or when the timeout ran out).
    func wait() async throws -> Job? {
        let display = ProgressDisplay(json: false)
        let deadline = timeout.map { Date().timeIntervalSince1970 + $0 }
        var drewBar = false
        while true {
            guard let job = try await store.job(id: id) else { return nil }
            if job.state.isFinished || deadline.map({ Date().timeIntervalSince1970 >= $0 }) == true {
                if drewBar { StandardError.write("\n") }
                return job
            }
            if display.mode == .bar && job.state == .running {
                let report = JobReport(job)
                display.show(TranscodeProgress(frames: 0, totalFrames: nil, percent: report.progress * 100,
                                               fps: job.fps ?? 0, speed: 0, eta: job.eta, done: false))
                drewBar = true
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }
}
