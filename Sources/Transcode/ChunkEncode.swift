import CLibAV

/// One chunk of a split transcode (`ChunkPlan.Chunk`): exactly the source
/// pictures whose presentation time is in [start, end), scaled and encoded
/// as the whole video would be (`VideoProfile`, the same options for every
/// chunk, so every chunk has the same SPS and PPS), into a chunk file the
/// stitch step joins. The chunk's encoder is new, so its first picture is
/// an IDR and its GOPs are closed (x264's default); the pictures keep the
/// source's times, exactly. The file is NUT (libav's own container, which
/// keeps any time base as it is), written to a descriptor the caller
/// created. No audio: a split job's audio is encoded once, whole.
public struct ChunkEncode: Sendable {
    public let source: TranscodeSource
    public let chunk: ChunkPlan.Chunk
    public let options: TranscodeOptions
    /// A file open for writing, created by the caller; the encode takes it
    /// (it is closed when the encode ends).
    public let output: Int32

    public init(source: TranscodeSource, chunk: ChunkPlan.Chunk, options: TranscodeOptions, output: Int32) {
        self.source = source
        self.chunk = chunk
        self.options = options
        self.output = output
    }

    /// What a chunk holds, checked after it was written.
    public struct Summary: Sendable, Equatable {
        public var frames: Int
        /// The first and last pictures' presentation times (seconds).
        public var first: Double
        public var last: Double
    }

    /// Encodes the chunk. Throws `outputCheckFailed` when the pictures
    /// encoded are not the plan's (a seek that landed past the chunk's start,
    /// a source whose pictures differ from its index).
    public func run(progress: (TranscodeProgress) -> Void = { _ in },
                    isCancelled: () -> Bool = { false }) throws(TranscodeError) -> Summary {
        LibAVLogging.ensureConfigured()
        let input = try source.open()
        let media = try InputMedia(file: input, maxPixels: options.maxPixels)
        guard let video = media.bestStream(AVMEDIA_TYPE_VIDEO),
              video.pointee.disposition & AV_DISPOSITION_ATTACHED_PIC == 0 else { throw .noVideoStream }
        let file = try OutputFile(inheritedDescriptor: output)
        // The source's times as they are: no shift to make the first B-frame
        // delayed decoding time non-negative (NUT keeps presentation times).
        let muxer = try Muxer(path: file.writingPath, format: "nut", describedAs: "chunk",
                              options: ["avoid_negative_ts": "disabled"])
        var profile = VideoProfile(stream: video, options: options)
        profile.isChunk = true
        let pipeline = try StreamTranscoder(stream: video, profile: profile,
                                            muxer: muxer, options: options)
        pipeline.window = (chunk.start, chunk.end)
        try muxer.writeHeader()

        let offset = av_rescale_q(media.startTime, vq_time_base_q(), video.pointee.time_base)
        let packet = try OwnedPacket()
        var pending = try positionAtKeyframe(media, video, offset: offset, holding: packet)
        let rate = video.pointee.avg_frame_rate
        let length = chunk.end.map { $0 - chunk.start }
            ?? Double(chunk.frames) / (rate.num > 0 && rate.den > 0 ? av_q2d(rate) : 25)
        let clock = ContinuousClock()
        let meter = ProgressMeter(duration: length, frameRate: rate, frameCount: Int64(chunk.frames), clock: clock, started: clock.now)
        while !pipeline.passedWindow {
            if isCancelled() { throw .cancelled }
            if let report = meter.tick(frames: pipeline.frameCount, at: (pipeline.lastTime ?? chunk.start) - chunk.start) {
                progress(report)
            }
            if !pending {
                guard av_read_frame(media.context, packet.pointer) >= 0 else {
                    try media.checkReadError()
                    break
                }
            }
            pending = false
            defer { av_packet_unref(packet.pointer) }
            guard packet.pointer.pointee.stream_index == video.pointee.index else { continue }
            if packet.pointer.pointee.pts != vq_nopts_value() { packet.pointer.pointee.pts -= offset }
            if packet.pointer.pointee.dts != vq_nopts_value() { packet.pointer.pointee.dts -= offset }
            try pipeline.feed(packet.pointer)
        }
        try pipeline.feed(nil)
        try muxer.finish()

        guard let first = pipeline.firstTime, let last = pipeline.lastTime else { throw .nothingDecoded }
        let summary = Summary(frames: pipeline.frameCount, first: first, last: last)
        guard summary.frames == chunk.frames, first == chunk.start, chunk.end.map({ last < $0 }) ?? true else {
            throw .outputCheckFailed("chunk \(chunk.index) holds \(summary.frames) pictures from \(first) s to \(last) s; "
                                     + "its plan says \(chunk.frames) from \(chunk.start) s")
        }
        return summary
    }

    /// Moves the reader to the chunk's keyframe (`seekFrom`) or a keyframe
    /// before it, so that no picture of the chunk is missed: true when
    /// `packet` holds that keyframe's packet, to be fed first. A seek lands
    /// where the container can: exactly on a keyframe in MP4 or MKV, only
    /// near a time in MPEG-TS or a file without an index, often after the
    /// keyframe wanted. Each landing is judged by the first keyframe read
    /// after it; one past `seekFrom` is tried again from 1, 4 and 16 s
    /// earlier, then the file is read from its start (the pictures before
    /// the chunk are decoded and dropped).
    private func positionAtKeyframe(_ media: InputMedia, _ video: UnsafeMutablePointer<AVStream>, offset: Int64,
                                    holding packet: OwnedPacket) throws(TranscodeError) -> Bool {
        let timeBase = av_q2d(video.pointee.time_base)
        var moved = false
        for backoff in [0.0, 1, 4, 16] {
            let target = chunk.seekFrom - backoff
            guard target > 0 else { break }
            let stamp = Int64((target / timeBase).rounded(.down)) + offset
            moved = true
            guard avformat_seek_file(media.context, video.pointee.index, Int64.min, stamp, stamp, 0) >= 0 else { continue }
            while av_read_frame(media.context, packet.pointer) >= 0 {
                let read = packet.pointer.pointee
                guard read.stream_index == video.pointee.index, read.flags & AV_PKT_FLAG_KEY != 0 else {
                    av_packet_unref(packet.pointer)
                    continue
                }
                let time = read.pts != vq_nopts_value() ? read.pts : read.dts
                if time != vq_nopts_value(), Double(time - offset) * timeBase <= chunk.seekFrom + 1e-9 { return true }
                av_packet_unref(packet.pointer)
                break
            }
            try media.checkReadError()
        }
        // From the start (where a reader not moved still is): every packet is fed, the window
        // drops what is before the chunk.
        if moved { avformat_seek_file(media.context, video.pointee.index, Int64.min, offset, offset, AVSEEK_FLAG_BACKWARD) }
        return false
    }
}
