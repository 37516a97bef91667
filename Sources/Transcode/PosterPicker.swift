import CLibAV

/// Picks the poster: the picture shown before playback. Not the first frame,
/// which is often black or fading in: pictures are sampled every half
/// second over the first 30 seconds, and the one with the most contrast
/// (the spread of its brightness) wins, once black, white and near-uniform
/// pictures are set aside. A video that is all black still gets a poster
/// (its liveliest picture).
final class PosterPicker: FrameObserver {
    static let sampleEvery = 0.5
    static let lookAtMost = 30.0

    private let best: OwnedFrame
    private var bestScore = -Double.infinity
    private var bestTimeBase = AVRational(num: 1, den: 1)
    private var nextSample = 0.0
    private var origin: Double?

    /// Samples from the first picture seen; a chunk of a split transcode
    /// (`ChunkStills`) counts from the whole video's first picture
    /// (`origin`), its first sample due after the picture before the chunk
    /// (`after`).
    init(origin: Double? = nil, after: Double? = nil) throws(TranscodeError) {
        best = try OwnedFrame()
        self.origin = origin
        if let origin, let after { nextSample = Self.sampleDue(after: after - origin) }
    }

    func observe(_ frame: UnsafeMutablePointer<AVFrame>, timeBase: AVRational) throws(TranscodeError) {
        let seconds = Double(frame.pointee.pts) * av_q2d(timeBase)
        let origin = origin ?? seconds
        self.origin = origin
        let at = seconds - origin
        guard at >= nextSample, at <= Self.lookAtMost else { return }
        nextSample = Self.sampleDue(after: at)
        try consider(frame, timeBase: timeBase)
    }

    /// The first sample time after `at` (seconds from the origin).
    private static func sampleDue(after at: Double) -> Double {
        (at / sampleEvery).rounded(.down) * sampleEvery + sampleEvery
    }

    /// The picture competes: it is kept if it beats every one before it
    /// (a stitch gives its chunks' best ones, in order).
    func consider(_ frame: UnsafeMutablePointer<AVFrame>, timeBase: AVRational) throws(TranscodeError) {
        let score = Self.score(frame)
        guard score > bestScore else { return }
        av_frame_unref(best.pointer)
        guard av_frame_ref(best.pointer, frame) >= 0 else { throw MemoryLimit.outOfMemory("keeping the poster picture") }
        bestScore = score
        bestTimeBase = timeBase
    }

    /// The picture chosen so far, nil when none was seen.
    var chosen: (frame: UnsafeMutablePointer<AVFrame>, timeBase: AVRational)? {
        bestScore > -Double.infinity ? (best.pointer, bestTimeBase) : nil
    }

    /// The chosen picture as JPEG, or nil when no picture was seen.
    func jpeg() throws(TranscodeError) -> [UInt8]? {
        guard bestScore > -Double.infinity else { return nil }
        var bytes: [UInt8]?
        try JPEGEncoder.filter([best.pointer], timeBase: bestTimeBase, chain: "") { (frame) throws(TranscodeError) in
            bytes = try JPEGEncoder.encode(frame)
        }
        return bytes
    }

    /// How good a poster the 8-bit 4:2:0 picture makes: the standard
    /// deviation of its brightness (sampled on a grid), far below any real
    /// picture's when it is black (mean under 24), white (over 235) or
    /// near-uniform (deviation under 12).
    static func score(_ frame: UnsafeMutablePointer<AVFrame>) -> Double {
        guard let luma = frame.pointee.data.0 else { return 0 }
        let width = Int(frame.pointee.width), height = Int(frame.pointee.height)
        let stride = Int(frame.pointee.linesize.0)
        let step = max(1, min(width, height) / 64)
        var sum = 0.0, squares = 0.0, count = 0.0
        for y in Swift.stride(from: 0, to: height, by: step) {
            let row = luma + y * stride
            for x in Swift.stride(from: 0, to: width, by: step) {
                let value = Double(row[x])
                sum += value
                squares += value * value
                count += 1
            }
        }
        guard count > 0 else { return 0 }
        let mean = sum / count
        let deviation = (max(0, squares / count - mean * mean)).squareRoot()
        let usable = mean >= 24 && mean <= 235 && deviation >= 12
        // A usable picture always beats an unusable one.
        return usable ? 1000 + deviation : deviation
    }
}
