/// What a finished output holds, as the check before publishing read it
/// from the file itself (not what the encoder meant to write): the base of
/// a job's `result`.
public struct OutputFacts: Codable, Sendable, Equatable {
    /// Bytes of the whole file.
    public var size: Int64
    public var width: Int
    public var height: Int
    /// Seconds from the earliest packet's start to the latest one's end.
    public var duration: Double
    /// Video frames (one packet each).
    public var frames: Int
    /// Bytes of video and of audio packets.
    public var videoBytes: Int64
    public var audioBytes: Int64?

    enum CodingKeys: String, CodingKey {
        case size, width, height, duration, frames
        case videoBytes = "video_bytes"
        case audioBytes = "audio_bytes"
    }

    /// Bits per second of video (of audio), over the whole duration.
    public var videoBitRate: Int { Self.bitRate(videoBytes, duration) }
    public var audioBitRate: Int? { audioBytes.map { Self.bitRate($0, duration) } }

    private static func bitRate(_ bytes: Int64, _ seconds: Double) -> Int {
        seconds > 0 ? Int((Double(bytes) * 8 / seconds).rounded()) : 0
    }
}
