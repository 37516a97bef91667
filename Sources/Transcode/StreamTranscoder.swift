import CLibAV

/// One input stream decoded once and turned into one output stream per
/// branch (`EncodingBranch`: filter, encode, hand packets on). Timestamps
/// are cleaned on the way (missing ones filled in, video kept strictly
/// increasing for x264) but otherwise kept, so variable frame rate survives.
final class StreamTranscoder {
    let inputIndex: Int32
    private let decoder: StreamDecoder
    private(set) var branches: [EncodingBranch] = []
    /// With more than one branch (a ladder's rungs), each on its own thread.
    private var threads: [BranchThread] = []
    private var shape: FrameShape
    private let sourceTimeBase: (FrameShape) -> AVRational

    private let decoded: OwnedFrame
    private let copy: OwnedFrame
    private var clock: FrameClock

    /// Frames decoded so far (within `window`, when there is one).
    private(set) var frameCount = 0
    /// Only the pictures whose presentation time (seconds, from the input's
    /// start) is in [start, end) go on to the branches (a chunk of a split
    /// transcode, `ChunkEncode`); the others are decoded and dropped.
    var window: (start: Double, end: Double?)?
    /// A picture at or past the window's end has been decoded: the decoder
    /// gives pictures in presentation order, so every one the window wants
    /// has been handed on.
    private(set) var passedWindow = false
    /// The first and last presentation times handed on (seconds).
    private(set) var firstTime: Double?
    private(set) var lastTime: Double?
    /// Where the decoded media has got to, in seconds from the start.
    var decodedEnd: Double { clock.position }

    var corruptCount: Int { decoder.corruptCount }

    /// The first branch: a single file's only one.
    var primary: EncodingBranch { branches[0] }

    /// The stream, decoded, encoded by one branch per profile; each branch's
    /// packets go to `deliver` with the branch's index.
    init(stream: UnsafeMutablePointer<AVStream>, profiles: [any StreamProfile], options: TranscodeOptions,
         globalHeader: Bool,
         deliver: @escaping (Int, UnsafeMutablePointer<AVPacket>, AVRational) throws(TranscodeError) -> Void) throws(TranscodeError) {
        precondition(!profiles.isEmpty, "a stream is decoded for at least one output")
        decoded = try OwnedFrame()
        copy = try OwnedFrame()
        inputIndex = stream.pointee.index
        let isVideo = profiles[0].mediaType == AVMEDIA_TYPE_VIDEO
        clock = FrameClock(stream: stream, isVideo: isVideo)
        decoder = try StreamDecoder(stream: stream, threads: options.threads, maxPixels: options.maxPixels)
        shape = FrameShape(parameters: stream.pointee.codecpar!)
        if isVideo && shape.format < 0 { shape.format = decoder.context.pointee.pix_fmt.rawValue }
        if !isVideo && shape.format < 0 { shape.format = decoder.context.pointee.sample_fmt.rawValue }
        if !isVideo && shape.channels == 0 { shape.channels = 2 }
        let first = profiles[0]
        sourceTimeBase = { first.sourceTimeBase(for: $0) }
        for (index, profile) in profiles.enumerated() {
            branches.append(try EncodingBranch(profile: profile, shape: shape, threads: options.threads, globalHeader: globalHeader) {
                (packet, timeBase) throws(TranscodeError) in try deliver(index, packet, timeBase)
            })
        }
        if branches.count > 1 {
            threads = branches.enumerated().map { BranchThread($1, name: "vqueue-rung-\($0)") }
        }
    }

    deinit {
        for thread in threads { thread.stop() }
    }

    /// One stream into one muxer: the single-file case.
    convenience init(stream: UnsafeMutablePointer<AVStream>, profile: any StreamProfile, muxer: Muxer,
                     options: TranscodeOptions) throws(TranscodeError) {
        let index = Box<Int32>(0)
        try self.init(stream: stream, profiles: [profile], options: options, globalHeader: muxer.wantsGlobalHeader) {
            (_, packet, timeBase) throws(TranscodeError) in try muxer.write(packet, stream: index.value, from: timeBase)
        }
        index.value = try muxer.addStream(for: primary.encoder)
    }

    /// Decodes one packet of this stream, or with nil drains everything
    /// through every branch.
    func feed(_ input: UnsafeMutablePointer<AVPacket>?) throws(TranscodeError) {
        try decoder.send(input)
        while try decoder.receive(into: decoded.pointer) {
            try filter(decoded.pointer)
        }
        if input == nil {
            if threads.isEmpty {
                for branch in branches { try branch.finish() }
            } else {
                // Every thread is finished (or stopped) before one's error is thrown.
                var failure: TranscodeError?
                for thread in threads {
                    do { try thread.finish() } catch { failure = failure ?? error }
                }
                if let failure { throw failure }
            }
        }
    }

    private func filter(_ frame: UnsafeMutablePointer<AVFrame>) throws(TranscodeError) {
        let time = Double(frame.pointee.best_effort_timestamp) * av_q2d(clock.streamTimeBase)
        if let window, frame.pointee.best_effort_timestamp == vq_nopts_value() || time < window.start
            || window.end.map({ time >= $0 }) ?? false {
            if let end = window.end, time >= end { passedWindow = true }
            av_frame_unref(frame)
            return
        }
        firstTime = firstTime ?? time
        lastTime = time
        let frameShape = FrameShape(frame: frame)
        if frameShape != shape {
            if threads.isEmpty {
                for branch in branches { try branch.reshape(to: frameShape) }
            } else {
                for thread in threads { try thread.reshape(to: frameShape) }
            }
            shape = frameShape
        }
        clock.stamp(frame, in: sourceTimeBase(shape))
        frameCount += 1
        if !threads.isEmpty {
            for thread in threads { try thread.push(frame) }
            av_frame_unref(frame)
            return
        }
        // Every branch but the last gets a new reference to the same
        // pictures (no copy); the last takes the decoded frame itself.
        for branch in branches.dropLast() {
            guard av_frame_ref(copy.pointer, frame) >= 0 else { throw MemoryLimit.outOfMemory("sharing a decoded frame") }
            try branch.push(copy.pointer)
            av_frame_unref(copy.pointer)
        }
        try branches[branches.count - 1].push(frame)
    }
}

/// A value a closure made before it was known can read once it is.
final class Box<Value> {
    var value: Value
    init(_ value: Value) { self.value = value }
}
