/// How far a transcode has got; reported about twice a second and encoded
/// as the `--progress-json` lines the worker reads.
public struct TranscodeProgress: Codable, Sendable, Equatable {
    public var frames: Int
    public var totalFrames: Int?
    /// 0…100.
    public var percent: Double
    /// Frames decoded per second of wall time.
    public var fps: Double
    /// Seconds of media per second of wall time.
    public var speed: Double
    /// Seconds left, when it can be told.
    public var eta: Double?
    public var done: Bool
    /// On the last report: what the checked output holds.
    public var output: OutputFacts?

    enum CodingKeys: String, CodingKey {
        case frames, percent, fps, speed, eta, done, output
        case totalFrames = "total_frames"
    }

    public init(frames: Int, totalFrames: Int?, percent: Double, fps: Double, speed: Double, eta: Double?, done: Bool) {
        self.frames = frames
        self.totalFrames = totalFrames
        self.percent = percent
        self.fps = fps
        self.speed = speed
        self.eta = eta
        self.done = done
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(frames, forKey: .frames)
        try c.encode(totalFrames, forKey: .totalFrames)
        try c.encode((percent * 10).rounded() / 10, forKey: .percent)
        try c.encode((fps * 10).rounded() / 10, forKey: .fps)
        try c.encode((speed * 100).rounded() / 100, forKey: .speed)
        try c.encode(eta.map { ($0 * 10).rounded() / 10 }, forKey: .eta)
        try c.encode(done, forKey: .done)
        try c.encodeIfPresent(output, forKey: .output)
    }
}

/// What a finished transcode did.
public struct TranscodeSummary: Sendable, Equatable {
    public var frames: Int
    /// Seconds of media decoded.
    public var decodedDuration: Double
    /// Seconds the container claimed, when it said.
    public var claimedDuration: Double?
    /// Damaged packets concealed or skipped.
    public var corruptPackets: Int
    public var wallSeconds: Double
    /// What the checked output holds.
    public var output: OutputFacts
}
