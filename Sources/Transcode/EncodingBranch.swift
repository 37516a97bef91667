import CLibAV

/// One output stream made from decoded frames: a filter graph (rebuilt when
/// the decoded frames change shape) into an encoder, whose packets go to
/// `deliver`. A decoded stream feeds one branch per output it makes: a
/// single file has one, an HLS ladder one per rung, all from one decode.
final class EncodingBranch {
    typealias Delivery = (UnsafeMutablePointer<AVPacket>, AVRational) throws(TranscodeError) -> Void

    let profile: any StreamProfile
    let encoder: StreamEncoder
    private var graph: FilterGraph
    private let threads: Int
    private let isVideo: Bool
    private let deliver: Delivery
    private let filtered: OwnedFrame
    private let packet: OwnedPacket
    /// What else looks at this branch's pictures (a poster, a storyboard).
    var observers: [any FrameObserver] = []
    /// Video: the picture waiting for the next one, which says how long it
    /// lasts; and those lengths by timestamp, until their packets come out.
    /// A packet then carries how long its picture really lasts, which a
    /// muxer may add up (the HLS muxer's segment lengths): with variable
    /// frame rate the nominal rate would be wrong.
    private let held: OwnedFrame
    private var holding = false
    private var lengths: [Int64: Int64] = [:]

    init(profile: any StreamProfile, shape: FrameShape, threads: Int, globalHeader: Bool,
         deliver: @escaping Delivery) throws(TranscodeError) {
        self.profile = profile
        self.threads = threads
        self.deliver = deliver
        isVideo = profile.mediaType == AVMEDIA_TYPE_VIDEO
        filtered = try OwnedFrame()
        held = try OwnedFrame()
        packet = try OwnedPacket()
        graph = try FilterGraph(kind: profile.mediaType, sourceArguments: profile.sourceArguments(for: shape),
                                chain: profile.filterChain, threads: threads)
        encoder = try profile.makeEncoder(for: graph, globalHeader: globalHeader)
        profile.adapt(graph, to: encoder)
    }

    /// The encoded pictures' size (video).
    var outputWidth: Int32 { encoder.context.pointee.width }
    var outputHeight: Int32 { encoder.context.pointee.height }

    /// Seconds one encoded video frame lasts, from the encoder's frame rate
    /// (0 when it has none: variable frame rate).
    var outputFrameDuration: Double {
        let rate = encoder.context.pointee.framerate
        return rate.num > 0 && rate.den > 0 ? Double(rate.den) / Double(rate.num) : 0
    }

    /// Filters and encodes one stamped frame, taking its data.
    func push(_ frame: UnsafeMutablePointer<AVFrame>) throws(TranscodeError) {
        try graph.push(frame)
        try drainGraph()
    }

    /// The decoded frames changed shape: flush what the old graph holds into
    /// the encoder, then build one for the new shape that still ends in the
    /// encoder's size and format.
    func reshape(to shape: FrameShape) throws(TranscodeError) {
        try graph.push(nil)
        try drainGraph()
        graph = try FilterGraph(kind: profile.mediaType, sourceArguments: profile.sourceArguments(for: shape),
                                chain: profile.filterChain, threads: threads)
        profile.adapt(graph, to: encoder)
    }

    /// Drains the graph and the encoder to the end.
    func finish() throws(TranscodeError) {
        try graph.push(nil)
        try drainGraph()
        if holding {
            // The last picture lasts what the stream said, or a frame.
            let rate = encoder.context.pointee.framerate
            let nominal = rate.num > 0 && rate.den > 0
                ? max(1, av_rescale_q(1, AVRational(num: rate.den, den: rate.num), encoder.context.pointee.time_base)) : 1
            try sendHeld(lasting: held.pointer.pointee.pkt_duration > 0 ? held.pointer.pointee.pkt_duration : nominal)
        }
        try encoder.send(nil)
        try drainEncoder()
    }

    private func drainGraph() throws(TranscodeError) {
        while try graph.pull(into: filtered.pointer) {
            profile.prepare(filtered.pointer, timeBase: graph.outputTimeBase)
            defer { av_frame_unref(filtered.pointer) }
            for observer in observers { try observer.observe(filtered.pointer, timeBase: graph.outputTimeBase) }
            guard isVideo else {
                try encoder.send(filtered.pointer)
                try drainEncoder()
                continue
            }
            if holding { try sendHeld(lasting: max(1, filtered.pointer.pointee.pts - held.pointer.pointee.pts)) }
            guard av_frame_ref(held.pointer, filtered.pointer) >= 0 else { throw MemoryLimit.outOfMemory("holding a picture") }
            holding = true
        }
    }

    /// Encodes the held picture, noting how long it lasts.
    private func sendHeld(lasting length: Int64) throws(TranscodeError) {
        lengths[held.pointer.pointee.pts] = length
        try encoder.send(held.pointer)
        av_frame_unref(held.pointer)
        holding = false
        try drainEncoder()
    }

    private func drainEncoder() throws(TranscodeError) {
        let encoderTimeBase = encoder.context.pointee.time_base
        while try encoder.receive(into: packet.pointer) {
            if isVideo, let length = lengths.removeValue(forKey: packet.pointer.pointee.pts) {
                packet.pointer.pointee.duration = length
            } else if packet.pointer.pointee.duration <= 0 && isVideo {
                let rate = encoder.context.pointee.framerate
                if rate.num > 0 && rate.den > 0 {
                    packet.pointer.pointee.duration = max(1, av_rescale_q(1, AVRational(num: rate.den, den: rate.num), encoderTimeBase))
                }
            }
            try deliver(packet.pointer, encoderTimeBase)
        }
    }
}

/// Something that looks at a branch's filtered pictures as they go to the
/// encoder, without changing them (it may keep a reference).
protocol FrameObserver: AnyObject {
    func observe(_ frame: UnsafeMutablePointer<AVFrame>, timeBase: AVRational) throws(TranscodeError)
}
