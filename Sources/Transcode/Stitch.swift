import CLibAV

/// The last step of a split transcode: a long video's chunks
/// (`ChunkEncode`, in order) and its audio, encoded once whole, joined into
/// one output without re-encoding. The chunks must have been encoded alike
/// (the same codec, size, time base and SPS/PPS: checked, a mismatch
/// fails rather than making a file a player chokes on) and must follow one
/// another in time. Presentation times are the chunks' own (the source's);
/// decoding times are derived anew across the joins, as one encoder would
/// have given them: the i-th packet gets the i-th smallest presentation
/// time, less the one delay that keeps every packet's decoding time at or
/// before its presentation.
///
/// Written to a descriptor the caller created (it is taken), checked the
/// way every output is (`OutputCheck`); publishing is the caller's.
public struct Stitch: Sendable {
    public let chunks: [TranscodeSource]
    /// A file holding the audio stream (AAC), or nil for none.
    public let audio: TranscodeSource?
    public let container: OutputContainer
    public let output: Int32

    public init(chunks: [TranscodeSource], audio: TranscodeSource?, container: OutputContainer, output: Int32) {
        self.chunks = chunks
        self.audio = audio
        self.container = container
        self.output = output
    }

    /// Joins the parts; `progress` hears of each chunk joined.
    public func run(progress: (TranscodeProgress) -> Void = { _ in },
                    isCancelled: () -> Bool = { false }) throws(TranscodeError) -> OutputFacts {
        LibAVLogging.ensureConfigured()
        guard !chunks.isEmpty else { throw .nothingDecoded }
        let started = ContinuousClock.now
        // The first chunk stays open to the end: the others are compared with it, and the output's
        // stream copies its parameters. The others are opened one at a time (a two-hour video
        // has hundreds).
        let opened = try Self.open(chunks[0], AVMEDIA_TYPE_VIDEO)
        defer { withExtendedLifetime(opened) {} }
        let first = opened.stream.pointee
        for (number, chunk) in chunks.enumerated().dropFirst() {
            let other = try Self.open(chunk, AVMEDIA_TYPE_VIDEO)
            if let difference = withExtendedLifetime(other, { Self.difference(other.stream.pointee, from: first) }) {
                throw .outputCheckFailed("chunk \(number) was not encoded as chunk 0 was (\(difference)); nothing was joined")
            }
        }
        let timeBase = first.time_base
        let (width, height) = (Int(first.codecpar.pointee.width), Int(first.codecpar.pointee.height))
        let frameDuration = first.avg_frame_rate.num > 0 ? 1 / av_q2d(first.avg_frame_rate) : 0.04
        let times = try Self.presentationTimes(chunks)
        let decoding = try Self.decodingTimes(times)

        let file = try OutputFile(inheritedDescriptor: output)
        let muxer = try Muxer(path: file.writingPath, container: container)
        let video = try muxer.addStream(copying: first.codecpar, timeBase: timeBase, frameRate: first.avg_frame_rate)
        let sound = try audio.map { (source) throws(TranscodeError) in try Self.open(source, AVMEDIA_TYPE_AUDIO) }
        let soundIndex = try sound.map { (input) throws(TranscodeError) in
            try muxer.addStream(copying: input.stream.pointee.codecpar, timeBase: input.stream.pointee.time_base,
                                frameRate: AVRational(num: 0, den: 1))
        }
        try muxer.writeHeader()

        let packet = try OwnedPacket()
        let audioPacket = try OwnedPacket()
        var audioPending = try sound.map { (input) throws(TranscodeError) in try Self.next(input, into: audioPacket) } ?? false
        var written = 0
        for (number, chunk) in chunks.enumerated() {
            progress(Self.report(joined: number, of: chunks.count, frames: written, since: started))
            let input = number == 0 ? opened : try Self.open(chunk, AVMEDIA_TYPE_VIDEO)
            while try Self.next(input, into: packet) {
                if isCancelled() { throw .cancelled }
                packet.pointer.pointee.dts = decoding[written]
                written += 1
                let dts = Double(packet.pointer.pointee.dts) * av_q2d(timeBase)
                // The audio up to this picture first: the muxer interleaves what it is given in order.
                while audioPending, let sound, let soundIndex,
                      Double(audioPacket.pointer.pointee.dts) * av_q2d(sound.stream.pointee.time_base) <= dts {
                    try muxer.write(audioPacket.pointer, stream: soundIndex, from: sound.stream.pointee.time_base)
                    audioPending = try Self.next(sound, into: audioPacket)
                }
                try muxer.write(packet.pointer, stream: video, from: timeBase)
            }
        }
        while audioPending, let sound, let soundIndex {
            try muxer.write(audioPacket.pointer, stream: soundIndex, from: sound.stream.pointee.time_base)
            audioPending = try Self.next(sound, into: audioPacket)
        }
        try muxer.finish()

        let start = Double(times.map(\.pts).min() ?? 0) * av_q2d(timeBase)
        let end = Double(times.map { $0.pts + $0.duration }.max() ?? 0) * av_q2d(timeBase)
        return try OutputCheck.verify(descriptor: file.descriptor, expecting: OutputExpectation(
            width: width, height: height, hasAudio: sound != nil,
            duration: end - start, frameDuration: frameDuration))
    }

    /// How far the join has got, by chunks.
    private static func report(joined: Int, of count: Int, frames: Int, since started: ContinuousClock.Instant) -> TranscodeProgress {
        let elapsed = ContinuousClock.now - started
        let seconds = max(1e-6, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
        let fraction = Double(joined) / Double(max(count, 1))
        return TranscodeProgress(frames: frames, totalFrames: nil, percent: min(99.9, fraction * 100), fps: Double(frames) / seconds,
                                 speed: 0, eta: fraction > 0 ? seconds * (1 - fraction) / fraction : nil, done: false)
    }

    /// One input file and its stream of the type wanted.
    private struct Opened {
        let media: InputMedia
        let stream: UnsafeMutablePointer<AVStream>
    }

    private static func open(_ source: TranscodeSource, _ type: AVMediaType) throws(TranscodeError) -> Opened {
        let media: InputMedia
        do {
            media = try InputMedia(file: source.open(), maxPixels: Int(Int32.max))
        } catch .ioError(let doing, let message) {
            throw .ioError(doing, message)
        } catch {
            throw .outputCheckFailed("a part to join (\(source.name)) does not open: \(error)")
        }
        guard let stream = media.bestStream(type) else {
            throw .outputCheckFailed("a part to join (\(source.name)) has no \(type == AVMEDIA_TYPE_VIDEO ? "video" : "audio") stream")
        }
        return Opened(media: media, stream: stream)
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

    /// The next packet of the input's stream, or false at its end.
    private static func next(_ input: Opened, into packet: OwnedPacket) throws(TranscodeError) -> Bool {
        av_packet_unref(packet.pointer)
        while av_read_frame(input.media.context, packet.pointer) >= 0 {
            if packet.pointer.pointee.stream_index == input.stream.pointee.index { return true }
            av_packet_unref(packet.pointer)
        }
        try input.media.checkReadError()
        return false
    }

    /// Every video packet's presentation time and duration, in decoding
    /// order across the chunks (a first read, of the packets only, each
    /// chunk opened for it); each chunk after the last one's pictures.
    private static func presentationTimes(_ chunks: [TranscodeSource]) throws(TranscodeError) -> [(pts: Int64, duration: Int64)] {
        let packet = try OwnedPacket()
        var times: [(pts: Int64, duration: Int64)] = []
        var previousEnd = Int64.min
        for (number, source) in chunks.enumerated() {
            let input = try open(source, AVMEDIA_TYPE_VIDEO)
            var low = Int64.max, high = Int64.min
            while try next(input, into: packet) {
                let pts = packet.pointer.pointee.pts
                guard pts != vq_nopts_value() else { throw .outputCheckFailed("chunk \(number) has a picture without a time") }
                times.append((pts, max(0, packet.pointer.pointee.duration)))
                low = min(low, pts)
                high = max(high, pts)
            }
            guard low <= high else { throw .outputCheckFailed("chunk \(number) holds no picture") }
            guard low > previousEnd else { throw .outputCheckFailed("chunk \(number) starts before chunk \(number - 1) ends") }
            previousEnd = high
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
