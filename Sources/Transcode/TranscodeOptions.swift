/// What the output should look like and the limits that protect the box.
/// Defaults are the ones documented in the README and `vqueue transcode --help`.
public struct TranscodeOptions: Sendable, Equatable, Codable {
    /// Video bitrate in bits per second; nil means constant quality (`crf`).
    public var videoBitrate: Int?
    /// The pixel rate (pixels per second) `videoBitrate` was chosen for, when
    /// it came from a preset: an output with fewer pixels per second gets
    /// the bit rate scaled down in proportion, never up (a 180x320 upload
    /// under `--preset 720p` gets a bit rate for 180x320, not for 1280x720).
    /// nil (a bit rate given explicitly) is used as given.
    public var videoBitratePixelRate: Int?
    /// x264 constant rate factor, used when no bitrate is given.
    public var crf: Double
    /// x264 speed/size trade-off (`ultrafast` … `veryslow`).
    public var x264Preset: X264Preset
    /// Scale down to at most this height (never up), keeping the aspect ratio.
    public var maxHeight: Int?
    /// AAC bitrate in bits per second.
    public var audioBitrate: Int
    /// Whether the output carries the input's audio.
    public var includeAudio: Bool
    /// Threads for decoding and encoding each; 0 lets libav pick per core.
    public var threads: Int
    /// A picture larger than this many pixels is refused before decoding.
    public var maxPixels: Int
    /// Wall-clock limit for the whole transcode, in seconds.
    public var timeLimit: Double?
    /// Accept an input that decodes to much less than its container claims.
    public var allowPartial: Bool
    /// Bytes of memory the transcoding process may use (`MemoryLimit`); nil
    /// is no limit. A process applies it to itself before opening anything.
    public var maxMemory: Int?
    /// HLS: the rungs asked for (`HLSLadder` text); nil is `HLSLadder.standard`.
    public var ladder: String?
    /// HLS: seconds per segment; nil is `defaultSegmentSeconds`.
    public var segmentSeconds: Double?
    /// HLS: the segments' container; nil is fMP4 (CMAF).
    public var hlsSegmentType: HLSSegmentType?
    /// Write a poster image; nil is on for HLS and off for single files.
    public var poster: Bool?
    /// Write a storyboard (a thumbnail grid and its WebVTT track).
    public var storyboard: Bool?

    public static let defaultSegmentSeconds = 4.0
    public static let defaultMaxPixels = 8192 * 4320
    /// libav's own ceiling for a decoder's `max_pixels` (INT_MAX).
    public static let largestMaxPixels = Int(Int32.max)
    /// The longest time limit taken, in seconds (ten years): past it a
    /// deadline cannot be represented, and no transcode needs it.
    public static let longestTimeLimit = 10 * 365 * 86_400.0
    /// A preset's bit rate is never scaled below this (bits per second).
    public static let smallestScaledBitrate = 32_000

    /// The video bit rate for an output of `width`x`height` at `framesPerSecond`.
    public func videoBitrate(width: Int, height: Int, framesPerSecond: Double?) -> Int? {
        guard let videoBitrate, let reference = videoBitratePixelRate, reference > 0 else { return videoBitrate }
        let rate = framesPerSecond.flatMap { $0.isFinite && $0 > 0 ? $0 : nil } ?? 30
        let share = min(1, Double(width * height) * rate / Double(reference))
        let scaled = (Double(videoBitrate) * share).rounded()
        // Compared in Double first: Int(Double(Int.max)) would trap.
        guard scaled < Double(videoBitrate) else { return videoBitrate }
        return max(Self.smallestScaledBitrate, Int(scaled))
    }

    public init(videoBitrate: Int? = nil, crf: Double = 23, x264Preset: X264Preset = .veryfast,
                maxHeight: Int? = nil, audioBitrate: Int = 128_000, includeAudio: Bool = true,
                threads: Int = 0, maxPixels: Int = TranscodeOptions.defaultMaxPixels,
                timeLimit: Double? = nil, allowPartial: Bool = false, maxMemory: Int? = nil) {
        self.videoBitrate = videoBitrate
        self.crf = crf
        self.x264Preset = x264Preset
        self.maxHeight = maxHeight
        self.audioBitrate = audioBitrate
        self.includeAudio = includeAudio
        self.threads = threads
        self.maxPixels = maxPixels
        self.timeLimit = timeLimit
        self.allowPartial = allowPartial
        self.maxMemory = maxMemory
    }
}

/// What an HLS rendition's segments are.
public enum HLSSegmentType: String, Sendable, Codable, CaseIterable {
    /// Fragmented MP4 (CMAF): `init.mp4` and `seg<N>.m4s`.
    case fmp4
    /// MPEG-TS: `seg<N>.ts`.
    case ts
}
