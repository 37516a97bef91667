import ArgumentParser
import Transcode

/// The output options shared by `vqueue transcode` and `vqueue submit`
/// (one group, so the two can never drift apart).
struct TranscodeOptionGroup: ParsableArguments {
    @Option(name: [.customShort("b"), .long], help: ArgumentHelp(
        "Video bitrate in bits per second: 200000, 200k, 1.5M. Default: constant quality (--crf).",
        valueName: "rate"))
    var videoBitrate: BitRate?

    @Option(help: ArgumentHelp("x264 constant rate factor, 0 (lossless) to 51 (worst); used when no bitrate is given. Default: 23.",
                               valueName: "n"))
    var crf: Double?

    @Option(help: ArgumentHelp("x264 speed preset, fastest first. Default: veryfast.", valueName: "name"))
    var x264Preset: X264Preset?

    @Option(help: ArgumentHelp("Scale down to at most this height, keeping the aspect ratio (never scales up).",
                               valueName: "px"))
    var maxHeight: Int?

    @Option(help: ArgumentHelp("AAC bitrate: 96k, 128k… Default: 128k.", valueName: "rate"))
    var audioBitrate: BitRate?

    @Flag(help: "Leave the audio out.")
    var noAudio = false

    @Option(help: ArgumentHelp("Threads for decoding and for encoding; 0 picks one per core.", valueName: "n"))
    var threads: Int = 0

    @Option(help: ArgumentHelp("Refuse pictures larger than this many pixels, before decoding (35389440 is 8192x4320).",
                               valueName: "n"))
    var maxPixels: Int = TranscodeOptions.defaultMaxPixels

    @Option(help: ArgumentHelp("Give up after this long: 500ms, 30s, 10m, 2h (at most 3650d). Default: no limit.",
                               valueName: "duration"))
    var timeout: TimeSpan?

    @Option(help: ArgumentHelp("""
        Memory the transcode may use: 512M, 2G (32M to 1P). A transcode that needs more fails with \
        "exceeded the memory limit". Default: no limit.
        """, valueName: "size"))
    var maxMemory: ByteSize?

    @Option(help: ArgumentHelp("A web size: \(WebPreset.allCases.map(\.summary).joined(separator: "; ")). The video bit rate is for 16:9 at 30 fps: a smaller or slower output gets less in proportion. Options given explicitly win.",
                               valueName: "name"))
    var preset: WebPreset?

    @Flag(help: "Accept an input that decodes to much less than its container claims (a truncated upload).")
    var allowPartial = false

    @Option(help: ArgumentHelp("""
        HLS (OUT.hls): the rungs, from \(WebPreset.allCases.map(\.rawValue).joined(separator: ", ")), each the \
        short side of its picture; rungs larger than the source are dropped. Default: all.
        """, valueName: "rungs"))
    var ladder: String?

    @Option(help: ArgumentHelp("HLS: how long each segment lasts, every rung cut at the same instants: 2s, 4s, 6s (1s to 60s). Default: 4s.",
                               valueName: "duration"))
    var segment: TimeSpan?

    @Option(help: ArgumentHelp("HLS: the segments' format, fmp4 (CMAF) or ts (MPEG-TS). Default: fmp4.", valueName: "type"))
    var hlsSegmentType: HLSSegmentType?

    @Flag(inversion: .prefixedNo, help: """
        Write a poster, a telling picture from the first 30 s (not a black or faded \
        one): poster.jpg in an HLS folder, at the top rung's size (default: on); \
        beside a single file, at its size, OUT's stem with .poster.jpg (out.mp4: \
        out.poster.jpg; default: off).
        """)
    var poster: Bool?

    @Flag(help: """
        Write a storyboard for scrubbing previews: a grid of at most 100 thumbnails \
        and its WebVTT track, storyboard.jpg and storyboard.vtt in an HLS folder; \
        beside a single file out.mp4, out.storyboard.jpg and out.storyboard.vtt.
        """)
    var storyboard = false

    func validate() throws {
        if videoBitrate != nil && crf != nil {
            throw ValidationError("--video-bitrate and --crf exclude each other; give one.")
        }
        if let crf, !(0...51).contains(crf) {
            throw ValidationError("--crf must be between 0 and 51, not \(crf).")
        }
        if let maxHeight, maxHeight < 2 {
            throw ValidationError("--max-height must be at least 2 pixels.")
        }
        if threads < 0 || threads > 64 {
            throw ValidationError("--threads must be between 0 (auto) and 64.")
        }
        if maxPixels < 4 || maxPixels > TranscodeOptions.largestMaxPixels {
            throw ValidationError("--max-pixels must be between 4 and \(TranscodeOptions.largestMaxPixels) pixels.")
        }
        if let ladder {
            do {
                _ = try HLSLadder(parsing: ladder)
            } catch {
                throw ValidationError("--ladder: \(error).")
            }
        }
        if let segment, !(1...60).contains(segment.seconds) {
            throw ValidationError("--segment must be between 1s and 60s.")
        }
    }

    /// Refuses what does not go with `container`: the ladder's options for a
    /// single file (which takes --poster and --storyboard, written beside
    /// it); one video bit rate (or preset) for a ladder, whose rungs each
    /// have their own.
    func validate(for container: OutputContainer) throws {
        if container.isFolder {
            if videoBitrate != nil || preset != nil {
                throw ValidationError("an HLS ladder gives each rung its own bit rate: --video-bitrate and --preset do not apply "
                                      + "(choose the rungs with --ladder, the quality with --crf).")
            }
        } else if ladder != nil || segment != nil || hlsSegmentType != nil {
            throw ValidationError("--ladder, --segment and --hls-segment-type are for an HLS output (OUT.hls).")
        }
    }

    /// The transcoder's options: defaults, then the preset, then what was
    /// given explicitly.
    var options: TranscodeOptions {
        var options = TranscodeOptions()
        if let preset {
            options.maxHeight = preset.maxHeight
            options.videoBitrate = preset.videoBitrate
            options.videoBitratePixelRate = preset.pixelRate
            options.audioBitrate = preset.audioBitrate
        }
        if let videoBitrate {
            options.videoBitrate = videoBitrate.bitsPerSecond
            options.videoBitratePixelRate = nil
        }
        if let crf {
            options.crf = crf
            options.videoBitrate = nil
            options.videoBitratePixelRate = nil
        }
        if let x264Preset { options.x264Preset = x264Preset }
        if let maxHeight { options.maxHeight = maxHeight }
        if let audioBitrate { options.audioBitrate = audioBitrate.bitsPerSecond }
        options.includeAudio = !noAudio
        options.threads = threads
        options.maxPixels = maxPixels
        options.timeLimit = timeout?.seconds
        options.allowPartial = allowPartial
        options.maxMemory = maxMemory?.bytes
        options.ladder = ladder.flatMap { try? HLSLadder(parsing: $0).text }
        options.segmentSeconds = segment?.seconds
        options.hlsSegmentType = hlsSegmentType
        options.poster = poster
        options.storyboard = storyboard ? true : nil
        return options
    }
}
