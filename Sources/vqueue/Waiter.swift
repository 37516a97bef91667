import Foundation
import JobQueue
import Transcode

/// Follows something until it finishes (`status --wait`, `submit --wait`),
/// drawing one progress bar on a terminal, and saying once on stderr when
/// nothing will finish it (no live worker takes its jobs).
struct Waiter<Subject: Sendable> {
    /// What the bar shows of a subject that is under way.
    struct Shown {
        var fraction: Double
        var fps: Double?
        var eta: Double?
        /// Work done so far in media seconds: the speed shown is how fast
        /// this grows, measured here.
        var mediaDone: Double
        /// Words after the bar ("3 of 10 done").
        var note: String?
    }

    /// The subject as it stands now, or nil if it does not exist.
    let fetch: () async throws -> Subject?
    let isFinished: (Subject) -> Bool
    /// What to draw, when under way.
    let progress: (Subject) -> Shown?
    /// Why nothing will finish the subject as things stand, or nil.
    let unserved: (Subject) async throws -> String?
    var timeout: Double?

    /// How often the waiter asks whether a worker serves the subject.
    static var servedCheckInterval: Double { 5 }

    /// The subject at the end (finished, or when the timeout ran out).
    func wait() async throws -> Subject? {
        let display = ProgressDisplay(json: false)
        let deadline = timeout.map { Date().timeIntervalSince1970 + $0 }
        var drewBar = false
        var speed = SpeedGauge()
        var saidUnserved = false
        var nextServedCheck = 0.0
        while true {
            guard let subject = try await fetch() else { return nil }
            let now = Date().timeIntervalSince1970
            if isFinished(subject) || deadline.map({ now >= $0 }) == true {
                if drewBar { StandardError.write("\n") }
                return subject
            }
            if !saidUnserved && now >= nextServedCheck {
                nextServedCheck = now + Self.servedCheckInterval
                if let reason = try await unserved(subject) {
                    StandardError.write((drewBar ? "\r\u{1B}[2K" : "") + "vqueue: \(reason)\n")
                    saidUnserved = true
                }
            }
            if let shown = progress(subject) {
                speed.add(mediaDone: shown.mediaDone, at: now)
                if display.mode == .bar {
                    display.show(TranscodeProgress(frames: 0, totalFrames: nil, percent: shown.fraction * 100,
                                                   fps: shown.fps ?? 0, speed: speed.speed ?? 0, eta: shown.eta, done: false),
                                 note: shown.note)
                    drewBar = true
                }
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }
}

/// Media seconds done per second of waiting, over the last few seconds.
struct SpeedGauge {
    static let window = 5.0
    private var samples: [(at: Double, done: Double)] = []

    mutating func add(mediaDone: Double, at time: Double) {
        if let last = samples.last, mediaDone < last.done { samples.removeAll() }   // a retry starts over
        samples.append((time, mediaDone))
        while let first = samples.first, time - first.at > Self.window, samples.count > 2 { samples.removeFirst() }
    }

    /// Nil until a second has passed between samples.
    var speed: Double? {
        guard let first = samples.first, let last = samples.last, last.at - first.at >= 1 else { return nil }
        return max(0, (last.done - first.done) / (last.at - first.at))
    }
}
