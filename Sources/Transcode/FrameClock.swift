import CLibAV

/// Gives decoded frames the timestamps the filters and encoder need, in the
/// filter graph's input time base, and tracks how far decoding got.
///
/// Video keeps its own timestamps (variable frame rate survives), only made
/// strictly increasing as x264 requires. Audio is counted in samples: a
/// container's millisecond timestamps would otherwise jitter by a sample
/// or two, and the resampler and AAC encoder see that as time running
/// backwards. Real gaps in the audio are kept.
struct FrameClock {
    let streamTimeBase: AVRational
    let isVideo: Bool
    /// Video frame length in the stream's time base, for frames with none.
    let defaultVideoDuration: Int64
    private var next: Int64?
    private var lastVideoPts: Int64?
    private var nextSeconds = 0.0

    init(stream: UnsafeMutablePointer<AVStream>, isVideo: Bool) {
        streamTimeBase = stream.pointee.time_base
        self.isVideo = isVideo
        let rate = av_guess_frame_rate(nil, stream, nil)
        defaultVideoDuration = rate.num > 0 && rate.den > 0
            ? max(1, av_rescale_q(1, AVRational(num: rate.den, den: rate.num), streamTimeBase)) : 1
    }

    /// Where decoding has got to, in seconds from the start.
    var position: Double { nextSeconds }

    /// Sets `frame.pts` in `timeBase` (the filter source's).
    mutating func stamp(_ frame: UnsafeMutablePointer<AVFrame>, in timeBase: AVRational) {
        let best = frame.pointee.best_effort_timestamp
        var pts: Int64
        var duration: Int64
        if isVideo {
            pts = best == vq_nopts_value() ? (next ?? 0) : best
            if let last = lastVideoPts, pts <= last { pts = last + 1 }
            lastVideoPts = pts
            duration = frame.pointee.pkt_duration > 0 ? frame.pointee.pkt_duration : defaultVideoDuration
        } else {
            let samples = Int64(frame.pointee.nb_samples)
            let jitter = max(1, av_rescale_q(1, streamTimeBase, timeBase)) + 1
            pts = best == vq_nopts_value() ? (next ?? 0) : av_rescale_q(best, streamTimeBase, timeBase)
            if let next, pts < next + jitter { pts = next }
            duration = samples
        }
        frame.pointee.pts = pts
        next = pts + duration
        nextSeconds = max(nextSeconds, Double(pts + duration) * av_q2d(timeBase))
    }
}
