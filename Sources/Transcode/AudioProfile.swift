import CLibAV

/// Web audio: AAC-LC stereo at 44.1 or 48 kHz; surround is downmixed by
/// libswresample's standard matrix.
struct AudioProfile: StreamProfile {
    let mediaType = AVMEDIA_TYPE_AUDIO
    let filterChain: String
    let outputSampleRate: Int32
    private let bitrate: Int

    init(stream: UnsafeMutablePointer<AVStream>, options: TranscodeOptions) {
        bitrate = options.audioBitrate
        outputSampleRate = Self.outputSampleRate(for: stream.pointee.codecpar!.pointee.sample_rate)
        filterChain = "aformat=sample_fmts=fltp:sample_rates=\(outputSampleRate):channel_layouts=stereo"
    }

    /// 44.1 kHz for the CD family (22050, 11025, 88200…), 48 kHz otherwise.
    static func outputSampleRate(for input: Int32) -> Int32 {
        input > 0 && input % 11025 == 0 ? 44100 : 48000
    }

    /// Audio is stamped in samples (see `FrameClock`).
    func sourceTimeBase(for shape: FrameShape) -> AVRational {
        AVRational(num: 1, den: max(shape.sampleRate, 1))
    }

    func sourceArguments(for shape: FrameShape) -> String {
        var layout = AVChannelLayout()
        if shape.channelMask == 0 || av_channel_layout_from_mask(&layout, shape.channelMask) < 0 {
            av_channel_layout_default(&layout, max(shape.channels, 1))
        }
        var buffer = [CChar](repeating: 0, count: 64)
        av_channel_layout_describe(&layout, &buffer, buffer.count)
        let format = av_get_sample_fmt_name(AVSampleFormat(shape.format)).map { String(cString: $0) } ?? "fltp"
        return "time_base=\(sourceTimeBase(for: shape).text):sample_rate=\(shape.sampleRate):sample_fmt=\(format)"
            + ":channel_layout=\(String(cBuffer: buffer))"
    }

    func makeEncoder(for graph: FilterGraph, globalHeader: Bool) throws(TranscodeError) -> StreamEncoder {
        let rate = graph.outputSampleRate
        return try StreamEncoder(codecName: "aac", options: [:], globalHeader: globalHeader) { ctx in
            ctx.pointee.sample_fmt = AV_SAMPLE_FMT_FLTP
            ctx.pointee.sample_rate = rate
            ctx.pointee.ch_layout = vq_stereo_layout()
            ctx.pointee.bit_rate = Int64(bitrate)
            ctx.pointee.time_base = AVRational(num: 1, den: rate)
        }
    }

    func adapt(_ graph: FilterGraph, to encoder: StreamEncoder) {
        graph.setOutputFrameSize(encoder.context.pointee.frame_size)
    }

    func prepare(_ frame: UnsafeMutablePointer<AVFrame>, timeBase: AVRational) {}
}
