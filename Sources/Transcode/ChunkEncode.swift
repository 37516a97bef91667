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
///
/// For an HLS ladder the chunk holds one stream per rung (smallest first),
/// each with IDR frames where the whole ladder's segments start
/// (`KeyframeSchedule`, counted from the whole video's first picture), so
/// the stitch's segments are cut where one transcode's would be. When the
/// job makes still pictures, the chunk keeps its share of them
/// (`ChunkStills`) in a second file.
public struct ChunkEncode: Sendable {
    public let source: TranscodeSource
    public let chunk: ChunkPlan.Chunk
    public let options: TranscodeOptions
    /// What the stitch will write: a single file's one video stream, or a
    /// ladder's rungs.
    public let container: OutputContainer
    /// A file open for writing, created by the caller; the encode takes it
    /// (it is closed when the encode ends).
    public let output: Int32
    /// The still pictures asked for, and the file (created by the caller,
    /// taken) their share goes to.
    public let stills: (plan: SplitStills, output: Int32)?

    public init(source: TranscodeSource, chunk: ChunkPlan.Chunk, options: TranscodeOptions, container: OutputContainer = .mp4,
                output: Int32, stills: (plan: SplitStills, output: Int32)? = nil) {
        self.source = source
        self.chunk = chunk
        self.options = options
        self.container = container
        self.output = output
        self.stills = stills
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
        let pipeline = try StreamTranscoder(stream: video, profiles: profiles(media, video), options: options,
                                            globalHeader: muxer.wantsGlobalHeader) { (index, packet, timeBase) throws(TranscodeError) in
            try muxer.write(packet, stream: Int32(index), from: timeBase)
        }
        for branch in pipeline.branches { _ = try muxer.addStream(for: branch.encoder) }
        pipeline.window = (chunk.start, chunk.end)
        let kept = try stills.map { (stills) throws(TranscodeError) in try ChunkStills(stills.plan, chunk: chunk) }
        // A ladder's stills are made from its top rung, as one transcode's are.
        kept?.watch(pipeline.branches[pipeline.branches.count - 1])
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
        if let kept, let stills { try kept.write(to: stills.output) }

        guard let first = pipeline.firstTime, let last = pipeline.lastTime else { throw .nothingDecoded }
        let summary = Summary(frames: pipeline.frameCount, first: first, last: last)
        guard summary.frames == chunk.frames, first == chunk.start, chunk.end.map({ last < $0 }) ?? true else {
            throw .outputCheckFailed("chunk \(chunk.index) holds \(summary.frames) pictures from \(first) s to \(last) s; "
                                     + "its plan says \(chunk.frames) from \(chunk.start) s")
        }
        return summary
    }

    /// The chunk's video as the whole's would be: one profile for a single
    /// file, one per rung for a ladder; every one marked as a chunk's.
    private func profiles(_ media: InputMedia, _ video: UnsafeMutablePointer<AVStream>) -> [any StreamProfile] {
        guard container.isFolder else {
            var profile = VideoProfile(stream: video, options: options)
            profile.isChunk = true
            return [profile]
        }
        let segmentSeconds = options.segmentSeconds ?? TranscodeOptions.defaultSegmentSeconds
        return LadderTranscode.rungs(media: media, video: video, options: options).map { rung in
            var profile = VideoProfile(stream: video, options: options, width: rung.width, height: rung.height,
                                       maxBitrate: rung.maxBitrate,
                                       keyframes: KeyframeSchedule(segmentSeconds: segmentSeconds, origin: chunk.origin ?? chunk.start))
            profile.isChunk = true
            return profile
        }
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
