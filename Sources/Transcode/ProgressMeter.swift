import CLibAV

/// Turns "frames decoded, media seconds reached" into progress reports, at
/// most about twice a second.
final class ProgressMeter {
    private let duration: Double?
    private let totalFrames: Int?
    private let clock: ContinuousClock
    private let started: ContinuousClock.Instant
    private var nextReport: ContinuousClock.Instant
    private static let interval = Duration.milliseconds(500)

    init(duration: Double?, frameRate: AVRational, frameCount: Int64, clock: ContinuousClock, started: ContinuousClock.Instant) {
        self.duration = duration
        self.clock = clock
        self.started = started
        nextReport = clock.now + Self.interval
        if frameCount > 0 {
            totalFrames = Int(frameCount)
        } else if let duration, frameRate.num > 0, frameRate.den > 0 {
            totalFrames = Int((duration * av_q2d(frameRate)).rounded())
        } else {
            totalFrames = nil
        }
    }

    var elapsed: Double {
        let span = clock.now - started
        return Double(span.components.seconds) + Double(span.components.attoseconds) / 1e18
    }

    /// A report if one is due.
    func tick(frames: Int, at position: Double) -> TranscodeProgress? {
        let now = clock.now
        guard now >= nextReport else { return nil }
        nextReport = now + Self.interval
        return report(frames: frames, at: position, done: false)
    }

    func final(frames: Int, at position: Double) -> TranscodeProgress {
        report(frames: frames, at: position, done: true)
    }

    private func report(frames: Int, at position: Double, done: Bool) -> TranscodeProgress {
        let seconds = max(elapsed, 1e-6)
        let speed = position / seconds
        var percent = 0.0
        var eta: Double? = nil
        if let duration, duration > 0 {
            percent = min(99.9, max(0, position / duration * 100))
            if speed > 0 { eta = max(0, (duration - position) / speed) }
        }
        if done {
            percent = 100
            eta = 0
        }
        return TranscodeProgress(frames: frames, totalFrames: done ? frames : totalFrames, percent: percent,
                                 fps: Double(frames) / seconds, speed: speed, eta: eta, done: done)
    }
}
