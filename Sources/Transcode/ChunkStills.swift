import CLibAV

/// A chunk's share of a split transcode's still pictures (`SplitStills`):
/// the poster's candidates among its pictures, sampled as `PosterPicker`
/// samples a whole video (every half second of the whole's first 30 s,
/// counted from its first picture) with the best one kept, and the
/// storyboard's thumbnails that fall among its pictures, taken as
/// `Storyboard` takes them. Written when the chunk is done to a NUT file of
/// raw pictures beside the chunk (`SplitStep.stillsName`): the poster's
/// candidate as it was encoded, in a stream titled `poster`; the
/// thumbnails already at a thumbnail's size (scaled as `Storyboard` scales
/// them, nothing else changed), in one titled `storyboard`;
/// an empty file when the chunk has neither. The stitch reads every
/// chunk's in order (`gather`) and makes the pictures from them: the same
/// poster and the same storyboard as one transcode's.
final class ChunkStills {
    static let posterTitle = "poster"
    static let storyboardTitle = "storyboard"

    private let poster: PosterPicker?
    private let storyboard: Storyboard?

    init(_ stills: SplitStills, chunk: ChunkPlan.Chunk) throws(TranscodeError) {
        let origin = chunk.origin ?? chunk.start
        poster = stills.poster ? try PosterPicker(origin: origin, after: chunk.after) : nil
        storyboard = stills.storyboardInterval.map { Storyboard(interval: $0, origin: origin, after: chunk.after) }
    }

    /// From now on, looks at every picture `branch` encodes (the top rung's
    /// for a ladder, as a whole transcode's stills do).
    func watch(_ branch: EncodingBranch) {
        let observers: [(any FrameObserver)?] = [poster, storyboard]
        branch.observers = observers.compactMap { $0 }
    }

    /// Writes what was kept to `output`, a file the caller created (it is
    /// taken).
    func write(to output: Int32) throws(TranscodeError) {
        let file = try OutputFile(inheritedDescriptor: output)
        let chosen = poster?.chosen
        let thumbnails = storyboard?.thumbnails ?? []
        guard chosen != nil || !thumbnails.isEmpty else { return }
        let muxer = try Muxer(path: file.writingPath, format: "nut", describedAs: "still pictures", options: [:])
        let posterStream = try chosen.map { (picture) throws(TranscodeError) in
            try RawPictures(muxer: muxer, title: Self.posterTitle, like: picture.frame, timeBase: picture.timeBase)
        }
        var storyboardStream: RawPictures?
        if let first = thumbnails.first?.pointer, let storyboard {
            let tile = Storyboard.tile(of: first)
            storyboardStream = try RawPictures(muxer: muxer, title: Self.storyboardTitle, width: tile.width, height: tile.height,
                                               format: AVPixelFormat(rawValue: first.pointee.format), timeBase: storyboard.timeBase)
        }
        try muxer.writeHeader()
        if let chosen, let posterStream { try posterStream.write(chosen.frame) }
        if let storyboardStream, let storyboard, let first = thumbnails.first?.pointer {
            try JPEGEncoder.filter(thumbnails.map(\.pointer), timeBase: storyboard.timeBase, chain: Storyboard.tile(of: first).chain,
                                   forJPEG: false) {
                (thumbnail) throws(TranscodeError) in try storyboardStream.write(thumbnail)
            }
        }
        try posterStream?.finish()
        try storyboardStream?.finish()
        try muxer.finish()
    }

    /// Gives `stills` what every chunk kept (`parts`, the chunks' files in
    /// order): the poster's candidates to compete, the thumbnails in turn.
    static func gather(_ parts: [TranscodeSource], into stills: StillPictures) throws(TranscodeError) {
        let packet = try OwnedPacket()
        let frame = try OwnedFrame()
        for part in parts {
            let bytes = try part.open()
            guard bytes.size > 0 else { continue }
            let media: InputMedia
            do {
                media = try InputMedia(file: bytes, maxPixels: Int(Int32.max))
            } catch {
                throw .outputCheckFailed("a chunk's still pictures (\(part.name)) do not open: \(error)")
            }
            var decoders: [Int32: (StreamDecoder, AVRational, isPoster: Bool)] = [:]
            for stream in media.streams {
                let title = av_dict_get(stream.pointee.metadata, "title", nil, 0).map { String(cString: $0.pointee.value) }
                guard title == posterTitle || title == storyboardTitle else { continue }
                decoders[stream.pointee.index] = (try StreamDecoder(stream: stream, threads: 1, maxPixels: Int(Int32.max)),
                                                  stream.pointee.time_base, title == posterTitle)
            }
            func drain(_ decoder: (StreamDecoder, AVRational, isPoster: Bool)) throws(TranscodeError) {
                while try decoder.0.receive(into: frame.pointer) {
                    defer { av_frame_unref(frame.pointer) }
                    if decoder.isPoster {
                        try stills.considerPoster(frame.pointer, timeBase: decoder.1)
                    } else {
                        try stills.addThumbnail(frame.pointer, timeBase: decoder.1)
                    }
                }
            }
            while av_read_frame(media.context, packet.pointer) >= 0 {
                defer { av_packet_unref(packet.pointer) }
                guard let decoder = decoders[packet.pointer.pointee.stream_index] else { continue }
                try decoder.0.send(packet.pointer)
                try drain(decoder)
            }
            try media.checkReadError()
            for decoder in decoders.values {
                try decoder.0.send(nil)
                try drain(decoder)
            }
        }
    }
}

/// One stream of raw pictures in a NUT file (libavcodec's rawvideo
/// encoder: the pictures exactly, with their times).
private final class RawPictures {
    private let muxer: Muxer
    private let encoder: StreamEncoder
    private let index: Int32
    private let packet: OwnedPacket

    init(muxer: Muxer, title: String, width: Int, height: Int, format: AVPixelFormat, timeBase: AVRational,
         aspect: AVRational = AVRational(num: 1, den: 1)) throws(TranscodeError) {
        self.muxer = muxer
        encoder = try StreamEncoder(codecName: "rawvideo", options: [:], globalHeader: muxer.wantsGlobalHeader) { context in
            context.pointee.width = Int32(width)
            context.pointee.height = Int32(height)
            context.pointee.pix_fmt = format
            context.pointee.time_base = timeBase
            context.pointee.sample_aspect_ratio = aspect
        }
        index = try muxer.addStream(for: encoder, title: title)
        packet = try OwnedPacket()
    }

    convenience init(muxer: Muxer, title: String, like frame: UnsafeMutablePointer<AVFrame>,
                     timeBase: AVRational) throws(TranscodeError) {
        try self.init(muxer: muxer, title: title, width: Int(frame.pointee.width), height: Int(frame.pointee.height),
                      format: AVPixelFormat(rawValue: frame.pointee.format), timeBase: timeBase,
                      aspect: frame.pointee.sample_aspect_ratio)
    }

    func write(_ frame: UnsafeMutablePointer<AVFrame>) throws(TranscodeError) {
        try encoder.send(frame)
        try drain()
    }

    func finish() throws(TranscodeError) {
        try encoder.send(nil)
        try drain()
    }

    private func drain() throws(TranscodeError) {
        while try encoder.receive(into: packet.pointer) {
            defer { av_packet_unref(packet.pointer) }
            try muxer.write(packet.pointer, stream: index, from: encoder.context.pointee.time_base)
        }
    }
}
