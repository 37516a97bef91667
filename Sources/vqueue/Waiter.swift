import Foundation
import JobQueue
import Transcode

/// Follows something until it finishes (`status --wait`, `submit --wait`),
/// drawing one progress bar on a terminal.
struct Waiter<Subject: Sendable> {
    /// The subject as it stands now, or nil if it does not exist.
    let fetch: () async throws -> Subject?
    let isFinished: (Subject) -> Bool
    /// Progress 0…1, fps and ETA to draw, when running.
    let progress: (Subject) -> (fraction: Double, fps: Double?, eta: Double?)?
    var timeout: Double?

    /// The subject at the end (finished, or when the timeout ran out).
    func wait() async throws -> Subject? {
        let display = ProgressDisplay(json: false)
        let deadline = timeout.map { Date().timeIntervalSince1970 + $0 }
        var drewBar = false
        while true {
            guard let subject = try await fetch() else { return nil }
            if isFinished(subject) || deadline.map({ Date().timeIntervalSince1970 >= $0 }) == true {
                if drewBar { StandardError.write("\n") }
                return subject
            }
            if display.mode == .bar, let shown = progress(subject) {
                display.show(TranscodeProgress(frames: 0, totalFrames: nil, percent: shown.fraction * 100,
                                               fps: shown.fps ?? 0, speed: 0, eta: shown.eta, done: false))
                drewBar = true
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }
}
