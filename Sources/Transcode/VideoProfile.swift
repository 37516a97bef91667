import CLibAV
import Foundation

/// Web video: H.264 High profile, 8-bit 4:2:0, square pixels, even
/// dimensions, upright and progressive, whatever came in.
struct VideoProfile: StreamProfile {
    let mediaType = AVMEDIA_TYPE_VIDEO
    let filterChain: String
    let outputWidth: Int
    let outputHeight: Int
    private let timeBase: AVRational
    private let frameRate: AVRational
    private let options: TranscodeOptions

    /// Capped CRF for an HLS rung (x264's VBV maxrate), else nil.
    private let maxBitrate: Int?
    /// Where an HLS rung must have IDR frames, else nil.
    private let keyframes: KeyframeSchedule?
    /// One chunk of a split transcode (`ChunkEncode`): an average bit rate is
    /// held to closely (x264's `ratetol` 0.1 rather than 1), since a short
    /// chunk's one-pass ABR otherwise lands some percent under its target
    /// and every chunk does (measured on 10 s chunks of the bench clip at
    /// 400k, 1M, 2500k: 6.5, 3.7, 2.6 % under; held closely, 2, 1.2, 0.9 %).
    var isChunk = false

    /// A single file's video: the upright size, scaled down to
    /// `options.maxHeight`.
    init(stream: UnsafeMutablePointer<AVStream>, options: TranscodeOptions) {
        let par = stream.pointee.codecpar!.pointee
        let (width, height) = Self.outputSize(
            width: Int(par.width), height: Int(par.height),
            sampleAspect: par.sample_aspect_ratio, rotation: DisplayRotation(stream: stream), maxHeight: options.maxHeight)
        self.init(stream: stream, options: options, width: width, height: height, maxBitrate: nil, keyframes: nil)
    }

    /// One rung of an HLS ladder: `width`x`height`, at most `maxBitrate`,
    /// with an IDR frame where `keyframes` says.
    init(stream: UnsafeMutablePointer<AVStream>, options: TranscodeOptions, width: Int, height: Int,
         maxBitrate: Int?, keyframes: KeyframeSchedule?) {
        let par = stream.pointee.codecpar!.pointee
        self.options = options
        self.maxBitrate = maxBitrate
        self.keyframes = keyframes
        timeBase = stream.pointee.time_base
        frameRate = av_guess_frame_rate(nil, stream, nil)
        outputWidth = width
        outputHeight = height

        var filters: [String] = []
        // yadif only touches frames flagged interlaced, so a stream that does
        // not say it is progressive gets it at the cost of one frame of delay.
        if par.field_order != AV_FIELD_PROGRESSIVE {
            filters.append("yadif=mode=send_frame:parity=auto:deint=interlaced")
        }
        if let turn = DisplayRotation(stream: stream).filter { filters.append(turn) }
        filters.append("scale=\(outputWidth):\(outputHeight):flags=bicubic")
        filters.append("setsar=1")
        filters.append("format=yuv420p")
        filterChain = filters.joined(separator: ",")
    }

    /// The upright display size with square pixels, scaled down to
    /// `maxHeight` if taller, rounded to even numbers (4:2:0 needs them).
    static func outputSize(width: Int, height: Int, sampleAspect: AVRational,
                           rotation: DisplayRotation, maxHeight: Int?) -> (Int, Int) {
        let aspect = sampleAspect.num > 0 && sampleAspect.den > 0 ? Double(sampleAspect.num) / Double(sampleAspect.den) : 1
        var displayWidth = Double(width) * aspect
        var displayHeight = Double(height)
        if rotation.swapsDimensions { swap(&displayWidth, &displayHeight) }
        if let maxHeight, displayHeight > Double(maxHeight) {
            displayWidth *= Double(maxHeight) / displayHeight
            displayHeight = Double(maxHeight)
        }
        func even(_ value: Double) -> Int { max(2, Int((value / 2).rounded()) * 2) }
        return (even(displayWidth), even(displayHeight))
    }

    func sourceTimeBase(for shape: FrameShape) -> AVRational { timeBase }

    func sourceArguments(for shape: FrameShape) -> String {
        let aspect = shape.sampleAspect.num > 0 ? shape.sampleAspect : AVRational(num: 1, den: 1)
        var arguments = "video_size=\(shape.width)x\(shape.height):pix_fmt=\(shape.format)"
            + ":time_base=\(timeBase.text):pixel_aspect=\(aspect.text)"
        if frameRate.num > 0 && frameRate.den > 0 { arguments += ":frame_rate=\(frameRate.text)" }
        return arguments
    }

    func makeEncoder(for graph: FilterGraph, globalHeader: Bool) throws(TranscodeError) -> StreamEncoder {
        // CABAC always: without it (ultrafast turns it off) x264 writes
        // Constrained Baseline, which is not the Main/High we promise.
        var privateOptions = ["preset": options.x264Preset.rawValue, "profile": "high", "coder": "cabac"]
        if options.videoBitrate == nil || maxBitrate != nil {
            privateOptions["crf"] = String(options.crf)
        }
        // An HLS rung's forced keyframes must be IDR frames, where a player
        // can start and switch.
        if keyframes != nil { privateOptions["forced-idr"] = "1" }
        if isChunk && options.videoBitrate != nil && maxBitrate == nil { privateOptions["x264-params"] = "ratetol=0.1" }
        let frameRate = graph.outputFrameRate
        return try StreamEncoder(codecName: "libx264", options: privateOptions, globalHeader: globalHeader) { ctx in
            ctx.pointee.width = graph.outputWidth
            ctx.pointee.height = graph.outputHeight
            ctx.pointee.pix_fmt = AV_PIX_FMT_YUV420P
            ctx.pointee.sample_aspect_ratio = AVRational(num: 1, den: 1)
            ctx.pointee.time_base = graph.outputTimeBase
            if frameRate.num > 0 && frameRate.den > 0 { ctx.pointee.framerate = frameRate }
            ctx.pointee.field_order = AV_FIELD_PROGRESSIVE
            ctx.pointee.thread_count = Int32(options.threads)
            let framesPerSecond = frameRate.num > 0 && frameRate.den > 0 ? Double(frameRate.num) / Double(frameRate.den) : nil
            if let maxBitrate {
                ctx.pointee.rc_max_rate = Int64(maxBitrate)
                ctx.pointee.rc_buffer_size = Int32(clamping: 2 * maxBitrate)
            } else if let bitrate = options.videoBitrate(width: Int(graph.outputWidth), height: Int(graph.outputHeight),
                                                         framesPerSecond: framesPerSecond) {
                ctx.pointee.bit_rate = Int64(bitrate)
            }
        }
    }

    func adapt(_ graph: FilterGraph, to encoder: StreamEncoder) {}

    func prepare(_ frame: UnsafeMutablePointer<AVFrame>, timeBase: AVRational) {
        // Left as decoded, the source's frame types would force x264 to put
        // keyframes where the source had them.
        frame.pointee.pict_type = AV_PICTURE_TYPE_NONE
        if let keyframes, keyframes.isBoundary(at: Double(frame.pointee.pts) * av_q2d(timeBase)) {
            frame.pointee.pict_type = AV_PICTURE_TYPE_I
        }
    }
}
