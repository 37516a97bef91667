import CLibAV

/// The last step of a split transcode: a long video's chunks
/// (`ChunkEncode`, in order) and its audio, encoded once whole, joined into
/// one output without re-encoding: a single file, or an HLS ladder's folder
/// (the chunks hold one stream per rung; each rung's are joined into its
/// rendition, cut into segments where one transcode's would be). The chunks
/// must have been encoded alike (the same codec, size, time base and
/// SPS/PPS, rung by rung: checked, a mismatch fails rather than making a
/// file a player chokes on) and must follow one another in time.
/// Presentation times are the chunks' own (the source's); decoding times
/// are derived anew across the joins, as one encoder would have given
/// them: the i-th packet gets the i-th smallest presentation time, less the
/// one delay that keeps every packet's decoding time at or before its
/// presentation. The still pictures asked for (`SplitStills`) are made from
/// what the chunks kept (`ChunkStills`).
///
/// Written to a descriptor the caller created (it is taken: a file, or a
/// ladder's folder), checked the way every output is (`OutputCheck`,
/// `HLSLadderCheck`); publishing is the caller's.
public struct Stitch: Sendable {
    public let chunks: [TranscodeSource]
    /// A file holding the audio stream (AAC), or nil for none.
    public let audio: TranscodeSource?
    public let container: OutputContainer
    public let output: Int32
    /// The HLS segments' length and type.
    public let options: TranscodeOptions
    public let stills: Stills?

    /// The still pictures to make: what was asked, each chunk's share (in
    /// order) and, for a single file, the folder its companions go to (a
    /// descriptor the caller created, taken) with the name the storyboard's
    /// grid is published under (its track points at it).
    public struct Stills: Sendable {
        public var plan: SplitStills
        public var parts: [TranscodeSource]
        public var companions: Int32?
        public var storyboardName: String

        public init(plan: SplitStills, parts: [TranscodeSource], companions: Int32?, storyboardName: String) {
            self.plan = plan
            self.parts = parts
            self.companions = companions
            self.storyboardName = storyboardName
        }
    }

    public init(chunks: [TranscodeSource], audio: TranscodeSource?, container: OutputContainer, output: Int32,
                options: TranscodeOptions = TranscodeOptions(), stills: Stills? = nil) {
        self.chunks = chunks
        self.audio = audio
        self.container = container
        self.output = output
        self.options = options
        self.stills = stills
    }

    /// Joins the parts; `progress` hears of each chunk joined.
    public func run(progress: (TranscodeProgress) -> Void = { _ in },
                    isCancelled: () -> Bool = { false }) throws(TranscodeError) -> OutputFacts {
        LibAVLogging.ensureConfigured()
        guard !chunks.isEmpty else { throw .nothingDecoded }
        let started = ContinuousClock.now
        // The first chunk stays open to the end: the others are compared with it, and the output's
        // streams copy its parameters. The others are opened one at a time (a two-hour video
        // has hundreds).
        let opened = try Self.open(chunks[0])
        defer { withExtendedLifetime(opened) {} }
        let firsts = opened.streams.map(\.pointee)
        if !container.isFolder && firsts.count != 1 {
            throw .outputCheckFailed("chunk 0 holds \(firsts.count) video streams, not the one of a single file; nothing was joined")
        }
        for (number, chunk) in chunks.enumerated().dropFirst() {
            let other = try Self.open(chunk)
            let difference: String? = withExtendedLifetime(other) {
                guard other.streams.count == firsts.count else {
                    return "\(other.streams.count) video streams, not \(firsts.count)"
                }
                return zip(other.streams, firsts).lazy.compactMap { Self.difference($0.pointee, from: $1) }.first
            }
            if let difference {
                throw .outputCheckFailed("chunk \(number) was not encoded as chunk 0 was (\(difference)); nothing was joined")
            }
        }
        let times = try Self.presentationTimes(chunks, streams: firsts.count)
        var decoding: [[Int64]] = []
        for stream in times { decoding.append(try Self.decodingTimes(stream)) }
        let writer: Writer = container.isFolder ? .ladder(try FolderWriter(inheritedDescriptor: output))
            : .file(try OutputFile(inheritedDescriptor: output))
        let sound = try audio.map { (source) throws(TranscodeError) in try Self.open(source, audio: true) }
        // Each rung's rendition is named by its picture's short side, as a transcode's ladder names them.
        let names = firsts.map { "\(min($0.codecpar.pointee.width, $0.codecpar.pointee.height))p" }
        let muxer = try makeMuxer(writer, names: names + (sound == nil ? [] : [LadderTranscode.audioFolder]), rungs: firsts.count)
        for first in firsts {
            _ = try muxer.addStream(copying: first.codecpar, timeBase: first.time_base, frameRate: first.avg_frame_rate)
        }
        let soundStream = sound.map { $0.streams[0] }
        let soundIndex = try soundStream.map { (stream) throws(TranscodeError) in
            try muxer.addStream(copying: stream.pointee.codecpar, timeBase: stream.pointee.time_base, frameRate: AVRational(num: 0, den: 1))
        }
        try muxer.writeHeader()

        let packet = try OwnedPacket()
        let audioPacket = try OwnedPacket()
        var audioSpan = Span()
        var audioPending = try sound.map { (input) throws(TranscodeError) in try Self.next(input, into: audioPacket) != nil } ?? false
        func writeAudio() throws(TranscodeError) {
            guard let soundStream, let soundIndex, let sound else { return }
            audioSpan.add(audioPacket.pointer.pointee, timeBase: soundStream.pointee.time_base)
            try muxer.write(audioPacket.pointer, stream: soundIndex, from: soundStream.pointee.time_base)
            audioPending = try Self.next(sound, into: audioPacket) != nil
        }
        var written = [Int](repeating: 0, count: firsts.count)
        for (number, chunk) in chunks.enumerated() {
            progress(Self.report(joined: number, of: chunks.count, frames: written[written.count - 1], since: started))
            let input = number == 0 ? opened : try Self.open(chunk)
            while let stream = try Self.next(input, into: packet) {
                if isCancelled() { throw .cancelled }
                packet.pointer.pointee.dts = decoding[stream][written[stream]]
                written[stream] += 1
                let timeBase = firsts[stream].time_base
                let dts = Double(packet.pointer.pointee.dts) * av_q2d(timeBase)
                // The audio up to this picture first: the muxer interleaves what it is given in order.
                while audioPending, let soundStream,
                      Double(audioPacket.pointer.pointee.dts) * av_q2d(soundStream.pointee.time_base) <= dts {
                    try writeAudio()
                }
                try muxer.write(packet.pointer, stream: Int32(stream), from: timeBase)
            }
        }
        while audioPending { try writeAudio() }
        try muxer.finish()

        let start = Double(times[0].map(\.pts).min() ?? 0) * av_q2d(firsts[0].time_base)
        let end = Double(times[0].map { $0.pts + $0.duration }.max() ?? 0) * av_q2d(firsts[0].time_base)
        let frameDuration = { (stream: AVStream) in stream.avg_frame_rate.num > 0 ? 1 / av_q2d(stream.avg_frame_rate) : 0 }
        switch writer {
        case .file(let file):
            let top = firsts[0].codecpar.pointee
            var facts = try OutputCheck.verify(descriptor: file.descriptor, expecting: OutputExpectation(
                width: Int(top.width), height: Int(top.height), hasAudio: sound != nil,
                duration: end - start, frameDuration: frameDuration(firsts[0]) > 0 ? frameDuration(firsts[0]) : 0.04))
            if let stills, let companions = stills.companions {
                let folder = try FolderWriter(inheritedDescriptor: companions)
                _ = try makeStills(into: folder, duration: facts.end ?? facts.duration, storyboardName: stills.storyboardName)
                let sizes = folder.listing(of: ".")
                facts.companions = sizes.keys.sorted().map { WrittenFile(path: $0, size: sizes[$0] ?? 0) }
            }
            return facts
        case .ladder(let folder):
            let extras = try makeStills(into: folder, duration: end - start, storyboardName: StillPictures.storyboardName)
            let rungs = firsts.map { stream in
                let parameters = stream.codecpar.pointee
                return RungEncoding(name: "\(min(parameters.width, parameters.height))p", width: Int(parameters.width),
                                    height: Int(parameters.height), frameDuration: frameDuration(stream),
                                    codecs: CodecName.h264(extradata: parameters.extradata, size: parameters.extradata_size))
            }
            let rate = firsts[firsts.count - 1].avg_frame_rate
            return try HLSLadderCheck(folder: folder, type: options.hlsSegmentType ?? .fmp4).checkAndIndex(
                rungs: rungs, videoDuration: end - start, audioDuration: sound == nil ? nil : audioSpan.seconds,
                sourceFrameRate: rate.num > 0 && rate.den > 0 ? av_q2d(rate) : nil, extras: extras)
        }
    }

    /// Where the join goes.
    private enum Writer {
        case file(OutputFile)
        case ladder(FolderWriter)
    }

    /// The muxer: the single file's, or the ladder's HLS muxer with one
    /// rendition per rung and the audio (`names`, in that order).
    private func makeMuxer(_ writer: Writer, names: [String], rungs: Int) throws(TranscodeError) -> Muxer {
        switch writer {
        case .file(let file):
            return try Muxer(path: file.writingPath, container: container)
        case .ladder(let folder):
            for name in names { try folder.makeSubfolder(name) }
            return try LadderTranscode.muxer(in: folder, names: names, videoCount: rungs,
                                             segmentSeconds: options.segmentSeconds ?? TranscodeOptions.defaultSegmentSeconds,
                                             type: options.hlsSegmentType ?? .fmp4)
        }
    }

    /// The still pictures asked for, from the chunks' shares, into `folder`;
    /// the names written.
    private func makeStills(into folder: FolderWriter, duration: Double, storyboardName: String) throws(TranscodeError) -> [String] {
        guard let stills else { return [] }
        let pictures = try StillPictures.gathered(stills.plan)
        try ChunkStills.gather(stills.parts, into: pictures)
        return try pictures.write(into: folder, duration: duration, storyboardPublishedAs: storyboardName)
    }

    /// The first and last instants of the audio written.
    private struct Span {
        var start = Double.infinity
        var end = -Double.infinity
        var seconds: Double { end > start ? end - start : 0 }

        mutating func add(_ packet: AVPacket, timeBase: AVRational) {
            guard packet.pts != vq_nopts_value() else { return }
            let time = Double(packet.pts) * av_q2d(timeBase)
            start = min(start, time)
            end = max(end, time + Double(max(0, packet.duration)) * av_q2d(timeBase))
        }
    }

    /// How far the join has got, by chunks.
    private static func report(joined: Int, of count: Int, frames: Int, since started: ContinuousClock.Instant) -> TranscodeProgress {
        let elapsed = ContinuousClock.now - started
        let seconds = max(1e-6, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
        let fraction = Double(joined) / Double(max(count, 1))
        return TranscodeProgress(frames: frames, totalFrames: nil, percent: min(99.9, fraction * 100), fps: Double(frames) / seconds,
                                 speed: 0, eta: fraction > 0 ? seconds * (1 - fraction) / fraction : nil, done: false)
    }

    /// One input file and its streams of the type wanted: a chunk's video
    /// streams (H.264, a rung each, in order), or the audio part's audio.
    private struct Opened {
        let media: InputMedia
        let streams: [UnsafeMutablePointer<AVStream>]

        /// The index in `streams` of the stream `index`, if it is one.
        func position(of index: Int32) -> Int? { streams.firstIndex { $0.pointee.index == index } }
    }

    private static func open(_ source: TranscodeSource, audio: Bool = false) throws(TranscodeError) -> Opened {
        let media: InputMedia
        do {
            media = try InputMedia(file: source.open(), maxPixels: Int(Int32.max))
        } catch .ioError(let doing, let message) {
            throw .ioError(doing, message)
        } catch {
            throw .outputCheckFailed("a part to join (\(source.name)) does not open: \(error)")
        }
        let type = audio ? AVMEDIA_TYPE_AUDIO : AVMEDIA_TYPE_VIDEO
        let streams = audio ? media.bestStream(type).map { [$0] } ?? []
            : media.streams.filter { $0.pointee.codecpar.pointee.codec_type == type }
        guard !streams.isEmpty else {
            throw .outputCheckFailed("a part to join (\(source.name)) has no \(audio ? "audio" : "video") stream")
        }
        return Opened(media: media, streams: streams)
    }

    /// What makes a chunk's stream unlike the first's, if anything.
    private static func difference(_ stream: AVStream, from first: AVStream) -> String? {
        let a = stream.codecpar.pointee, b = first.codecpar.pointee
        if a.codec_id != b.codec_id { return "another codec" }
        if a.width != b.width || a.height != b.height { return "\(a.width)x\(a.height), not \(b.width)x\(b.height)" }
        if av_cmp_q(stream.time_base, first.time_base) != 0 { return "another time base" }
        let headers = { (p: AVCodecParameters) in Array(UnsafeBufferPointer(start: p.extradata, count: Int(p.extradata_size))) }
        if headers(a) != headers(b) { return "its SPS/PPS differ" }
        return nil
    }

    /// The next packet of one of the input's streams, and that stream's
    /// place among them; nil at the end.
    @discardableResult
    private static func next(_ input: Opened, into packet: OwnedPacket) throws(TranscodeError) -> Int? {
        av_packet_unref(packet.pointer)
        while av_read_frame(input.media.context, packet.pointer) >= 0 {
            if let position = input.position(of: packet.pointer.pointee.stream_index) { return position }
            av_packet_unref(packet.pointer)
        }
        try input.media.checkReadError()
        return nil
    }

    /// Every video packet's presentation time and duration, stream by
    /// stream, in decoding order across the chunks (a first read, of the
    /// packets only, each chunk opened for it); each chunk after the last
    /// one's pictures.
    private static func presentationTimes(_ chunks: [TranscodeSource],
                                          streams: Int) throws(TranscodeError) -> [[(pts: Int64, duration: Int64)]] {
        let packet = try OwnedPacket()
        var times = [[(pts: Int64, duration: Int64)]](repeating: [], count: streams)
        var previousEnd = [Int64](repeating: Int64.min, count: streams)
        for (number, source) in chunks.enumerated() {
            let input = try open(source)
            var low = [Int64](repeating: Int64.max, count: streams), high = [Int64](repeating: Int64.min, count: streams)
            while let stream = try next(input, into: packet) {
                let pts = packet.pointer.pointee.pts
                guard pts != vq_nopts_value() else { throw .outputCheckFailed("chunk \(number) has a picture without a time") }
                times[stream].append((pts, max(0, packet.pointer.pointee.duration)))
                low[stream] = min(low[stream], pts)
                high[stream] = max(high[stream], pts)
            }
            for stream in 0..<streams {
                guard low[stream] <= high[stream] else { throw .outputCheckFailed("chunk \(number) holds no picture") }
                guard low[stream] > previousEnd[stream] else {
                    throw .outputCheckFailed("chunk \(number) starts before chunk \(number - 1) ends")
                }
                previousEnd[stream] = high[stream]
            }
        }
        return times
    }

    /// Decoding times for packets with these presentation times (in
    /// decoding order): the i-th smallest presentation time, less the
    /// smallest delay that puts none after its packet's presentation.
    static func decodingTimes(_ times: [(pts: Int64, duration: Int64)]) throws(TranscodeError) -> [Int64] {
        let sorted = times.map(\.pts).sorted()
        if zip(sorted, sorted.dropFirst()).contains(where: { $0 == $1 }) {
            throw .outputCheckFailed("two pictures of the chunks have the same time")
        }
        var delay: Int64 = 0
        for (index, time) in times.enumerated() { delay = max(delay, sorted[index] - time.pts) }
        return sorted.map { $0 - delay }
    }
}
