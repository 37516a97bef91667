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
    /// A folder output's files (an HLS ladder's), by their paths inside it;
    /// nil for a single file.
    public var files: [WrittenFile]?
    /// An HLS ladder's renditions, video rungs smallest first; nil for a
    /// single file.
    public var renditions: [RenditionFacts]?
    /// A single file's companions (`CompanionFile`: its poster, its
    /// storyboard), by their names beside it; nil when it has none.
    public var companions: [WrittenFile]?
    /// Where the latest packet ends on the file's own clock, which a player
    /// shows (`duration` plus where the earliest packet starts); not in JSON.
    var end: Double?

    enum CodingKeys: String, CodingKey {
        case size, width, height, duration, frames, files, renditions, companions
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

/// One file of a folder output, or a companion of a single file.
public struct WrittenFile: Codable, Sendable, Equatable {
    /// Inside the output folder: `360p/seg0.m4s`; a companion's name beside
    /// its single file: `out.poster.jpg`.
    public var path: String
    public var size: Int64

    public init(path: String, size: Int64) {
        self.path = path
        self.size = size
    }
}

/// One rendition of an HLS ladder, as the check read it.
public struct RenditionFacts: Codable, Sendable, Equatable {
    /// Its folder: `360p`, or `audio`.
    public var name: String
    /// Nil for the audio rendition.
    public var width: Int?
    public var height: Int?
    /// Bits per second: the highest segment's and over the whole (audio
    /// included for a video rung, as the master playlist says).
    public var bandwidth: Int
    public var averageBandwidth: Int
    public var segments: Int
    public var bytes: Int64
    public var codecs: String

    enum CodingKeys: String, CodingKey {
        case name, width, height, bandwidth, segments, bytes, codecs
        case averageBandwidth = "average_bandwidth"
    }
}
