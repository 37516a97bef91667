import CLibAV

/// One input stream turned into one output stream: decode, filter, encode,
/// hand packets to the muxer. Timestamps are cleaned on the way (missing
/// ones filled in, video kept strictly increasing for x264) but otherwise
/// kept, so variable frame rate survives.
final class StreamTranscoder {
    let inputIndex: Int32
    private let profile: any StreamProfile
    private let decoder: StreamDecoder
    private var graph: FilterGraph
    private var shape: FrameShape
    private let encoder: StreamEncoder
    private unowned let muxer: Muxer
    private let outputIndex: Int32
    private let isVideo: Bool
    private let threads: Int

    private let decoded: OwnedFrame
    private let filtered: OwnedFrame
    private let packet: OwnedPacket
    private var clock: FrameClock

    /// Frames decoded so far.
    private(set) var frameCount = 0
    /// Where the decoded media has got to, in seconds from the start.
    var decodedEnd: Double { clock.position }

    var corruptCount: Int { decoder.corruptCount }

    /// The encoded pictures' size (video).
    var outputWidth: Int32 { encoder.context.pointee.width }
    var outputHeight: Int32 { encoder.context.pointee.height }

    /// Seconds one encoded video frame lasts, from the encoder's frame rate
    /// (0 when it has none: variable frame rate).
    var outputFrameDuration: Double {
        let rate = encoder.context.pointee.framerate
        return rate.num > 0 && rate.den > 0 ? Double(rate.den) / Double(rate.num) : 0
    }

    init(stream: UnsafeMutablePointer<AVStream>, profile: any StreamProfile, muxer: Muxer,
         options: TranscodeOptions) throws(TranscodeError) {
        self.profile = profile
        self.muxer = muxer
        decoded = try OwnedFrame()
        filtered = try OwnedFrame()
        packet = try OwnedPacket()
        inputIndex = stream.pointee.index
        isVideo = profile.mediaType == AVMEDIA_TYPE_VIDEO
        threads = options.threads
        clock = FrameClock(stream: stream, isVideo: isVideo)
        decoder = try StreamDecoder(stream: stream, threads: options.threads, maxPixels: options.maxPixels)
        shape = FrameShape(parameters: stream.pointee.codecpar!)
        if isVideo && shape.format < 0 { shape.format = decoder.context.pointee.pix_fmt.rawValue }
        if !isVideo && shape.format < 0 { shape.format = decoder.context.pointee.sample_fmt.rawValue }
        if !isVideo && shape.channels == 0 { shape.channels = 2 }
        graph = try FilterGraph(kind: profile.mediaType, sourceArguments: profile.sourceArguments(for: shape),
                                chain: profile.filterChain, threads: threads)
        encoder = try profile.makeEncoder(for: graph, globalHeader: muxer.wantsGlobalHeader)
        profile.adapt(graph, to: encoder)
        outputIndex = try muxer.addStream(for: encoder)
    }

    /// Decodes one packet of this stream, or with nil drains everything
    /// through to the muxer.
    func feed(_ input: UnsafeMutablePointer<AVPacket>?) throws(TranscodeError) {
        try decoder.send(input)
        while try decoder.receive(into: decoded.pointer) {
            try filter(decoded.pointer)
        }
        if input == nil {
            try graph.push(nil)
            try drainGraph()
            try encoder.send(nil)
            try drainEncoder()
        }
    }

    private func filter(_ frame: UnsafeMutablePointer<AVFrame>) throws(TranscodeError) {
        let frameShape = FrameShape(frame: frame)
        if frameShape != shape {
            try rebuildGraph(for: frameShape)
        }
        clock.stamp(frame, in: profile.sourceTimeBase(for: shape))
        frameCount += 1
        try graph.push(frame)
        try drainGraph()
    }

    /// The decoder's output changed (size, format, layout): flush what the
    /// old graph holds into the encoder, then build one for the new shape
    /// that still ends in the encoder's size and format.
    private func rebuildGraph(for newShape: FrameShape) throws(TranscodeError) {
        try graph.push(nil)
        try drainGraph()
        graph = try FilterGraph(kind: profile.mediaType, sourceArguments: profile.sourceArguments(for: newShape),
                                chain: profile.filterChain, threads: threads)
        profile.adapt(graph, to: encoder)
        shape = newShape
    }

    private func drainGraph() throws(TranscodeError) {
        while try graph.pull(into: filtered.pointer) {
            profile.prepare(filtered.pointer)
            defer { av_frame_unref(filtered.pointer) }
            try encoder.send(filtered.pointer)
            try drainEncoder()
        }
    }

    private func drainEncoder() throws(TranscodeError) {
        let encoderTimeBase = encoder.context.pointee.time_base
        while try encoder.receive(into: packet.pointer) {
            if packet.pointer.pointee.duration <= 0 && isVideo {
                let rate = encoder.context.pointee.framerate
                if rate.num > 0 && rate.den > 0 {
                    packet.pointer.pointee.duration = max(1, av_rescale_q(1, AVRational(num: rate.den, den: rate.num), encoderTimeBase))
                }
            }
            try muxer.write(packet.pointer, stream: outputIndex, from: encoderTimeBase)
        }
    }
}
