import CLibAV

/// What one kind of output stream needs from the generic decode → filter →
/// encode path: the filters, the encoder and the per-frame touch-ups. The
/// video and audio profiles are the only places that know H.264 or AAC.
protocol StreamProfile {
    var mediaType: AVMediaType { get }
    /// The filters between the source and the sink.
    var filterChain: String { get }
    /// The time base frames of `shape` are stamped in for the filters.
    func sourceTimeBase(for shape: FrameShape) -> AVRational
    /// The buffer source's parameters for frames of `shape`.
    func sourceArguments(for shape: FrameShape) -> String
    /// Opens the encoder for what `graph` puts out.
    func makeEncoder(for graph: FilterGraph, globalHeader: Bool) throws(TranscodeError) -> StreamEncoder
    /// Sets up a freshly built graph for `encoder` (e.g. AAC's frame size).
    func adapt(_ graph: FilterGraph, to encoder: StreamEncoder)
    /// Last changes to a filtered frame (stamped in `timeBase`) before it is
    /// encoded.
    func prepare(_ frame: UnsafeMutablePointer<AVFrame>, timeBase: AVRational)
}

/// The properties of decoded frames that a filter graph's source is built
/// for; when the decoder's output changes shape mid-stream the graph is
/// rebuilt (the encoder keeps going).
struct FrameShape: Equatable {
    var format: Int32
    var width: Int32 = 0
    var height: Int32 = 0
    var sampleAspect = AVRational(num: 0, den: 1)
    var sampleRate: Int32 = 0
    var channels: Int32 = 0
    /// The speaker mask when the layout names its speakers, else 0.
    var channelMask: UInt64 = 0

    init(frame: UnsafePointer<AVFrame>) {
        format = frame.pointee.format
        width = frame.pointee.width
        height = frame.pointee.height
        sampleAspect = frame.pointee.sample_aspect_ratio
        sampleRate = frame.pointee.sample_rate
        channels = frame.pointee.ch_layout.nb_channels
        channelMask = Self.mask(of: frame.pointee.ch_layout)
    }

    init(parameters par: UnsafePointer<AVCodecParameters>) {
        format = par.pointee.format
        width = par.pointee.width
        height = par.pointee.height
        sampleAspect = par.pointee.sample_aspect_ratio
        sampleRate = par.pointee.sample_rate
        channels = par.pointee.ch_layout.nb_channels
        channelMask = Self.mask(of: par.pointee.ch_layout)
    }

    private static func mask(of layout: AVChannelLayout) -> UInt64 {
        layout.order == AV_CHANNEL_ORDER_NATIVE ? layout.u.mask : 0
    }

    static func == (a: FrameShape, b: FrameShape) -> Bool {
        a.format == b.format && a.width == b.width && a.height == b.height
            && a.sampleAspect.num == b.sampleAspect.num && a.sampleAspect.den == b.sampleAspect.den
            && a.sampleRate == b.sampleRate && a.channels == b.channels && a.channelMask == b.channelMask
    }
}

extension AVRational {
    var text: String { "\(num)/\(den)" }
}
