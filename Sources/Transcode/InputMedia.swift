import CLibAV
import Glibc

/// An opened input file: the demuxer context after stream probing, with the
/// picture-size limit enforced before any decoder allocates a frame.
final class InputMedia {
    let file: any MediaBytes
    private(set) var context: UnsafeMutablePointer<AVFormatContext>
    /// Owned here, freed after the context (which only borrows it).
    private let io: InputIOContext

    /// Opens the media in `file` and probes its streams, reading only
    /// through its descriptor (`InputIOContext`), by a demuxer for a single
    /// self-contained file (`SingleFileFormats`), with every further open a
    /// demuxer might attempt refused.
    ///
    /// A stream whose header claims more than `maxPixels` is refused twice:
    /// once from what the container header says, before probing decodes
    /// anything, and through the decoders' own `max_pixels` while probing,
    /// so a lying header never gets a huge frame allocated.
    init(file: any MediaBytes, maxPixels: Int) throws(TranscodeError) {
        LibAVLogging.ensureConfigured()
        self.file = file
        if file.size == 0 { throw .notMedia("the file is empty") }
        io = try InputIOContext(file: file)
        let format = try Self.probeFormat(io)
        let ctx = try Self.open(io, format: format, url: file.realPath)
        context = ctx
        // From here on a throw runs deinit, which closes the input.
        try Self.checkPictureSizes(ctx, maxPixels: maxPixels)
        try findStreamInfo(maxPixels: maxPixels)
        try Self.checkPictureSizes(ctx, maxPixels: maxPixels)
    }

    /// Opens `path` (see `InputFile`) and its media.
    convenience init(path: String, maxPixels: Int) throws(TranscodeError) {
        try self.init(file: InputFile(path: path), maxPixels: maxPixels)
    }

    deinit {
        var ctx: UnsafeMutablePointer<AVFormatContext>? = context
        avformat_close_input(&ctx)
    }

    var streams: [UnsafeMutablePointer<AVStream>] {
        (0..<Int(context.pointee.nb_streams)).compactMap { context.pointee.streams[$0] }
    }

    /// The stream libav would pick for `type` (for audio it prefers the
    /// default-flagged track), or nil.
    func bestStream(_ type: AVMediaType, relatedTo related: Int32 = -1) -> UnsafeMutablePointer<AVStream>? {
        let index = av_find_best_stream(context, type, -1, related, nil, 0)
        return index >= 0 ? context.pointee.streams[Int(index)] : nil
    }

    /// The container's claim of the media's length in seconds, and whether it
    /// is exact enough to judge truncation by (an estimate from the bitrate is
    /// not).
    var claimedDuration: (seconds: Double, reliable: Bool)? {
        let duration = context.pointee.duration
        guard duration != vq_nopts_value(), duration > 0 else { return nil }
        let reliable = context.pointee.duration_estimation_method != AVFMT_DURATION_FROM_BITRATE
        return (Double(duration) / Double(vq_time_base()), reliable)
    }

    /// Where the container's clock starts, in AV_TIME_BASE units; outputs
    /// start at zero, as the ffmpeg program's do.
    var startTime: Int64 {
        let start = context.pointee.start_time
        return start == vq_nopts_value() ? 0 : start
    }

    /// The demuxer libav would pick from the first bytes, refused unless it
    /// reads a single self-contained file.
    private static func probeFormat(_ io: InputIOContext) throws(TranscodeError) -> UnsafePointer<AVInputFormat> {
        var format: UnsafePointer<AVInputFormat>? = nil
        let probed = PathEncoding.withCString(io.file.realPath) { url in
            av_probe_input_buffer2(io.context, &format, url, nil, 0, 0)
        }
        if let code = io.readError { throw .ioError("reading the input", systemMessage(code)) }
        guard probed >= 0, let format else {
            if probed == vq_averror_enomem() { throw MemoryLimit.outOfMemory("reading the input") }
            throw .notMedia("no known container format recognised")
        }
        let name = String(cString: format.pointee.name)
        guard SingleFileFormats.allows(name) else {
            if let kind = SingleFileFormats.multiFileKind(name) { throw .notSingleFile(kind) }
            let long = format.pointee.long_name.map { String(cString: $0) } ?? name
            throw .notMedia("libav reads it as \(long), which vqueue does not accept")
        }
        return format
    }

    /// `avformat_open_input` over `io` with `format`, no other file allowed.
    private static func open(_ io: InputIOContext, format: UnsafePointer<AVInputFormat>,
                             url: String) throws(TranscodeError) -> UnsafeMutablePointer<AVFormatContext> {
        guard var ctx = avformat_alloc_context() else {
            throw MemoryLimit.outOfMemory("setting up the input")
        }
        ctx.pointee.pb = io.context
        ctx.pointee.flags |= AVFMT_FLAG_CUSTOM_IO
        ctx.pointee.io_open = refuseOpen
        ctx.pointee.opaque = Unmanaged.passUnretained(io).toOpaque()
        var options: OpaquePointer? = nil
        defer { av_dict_free(&options) }
        av_dict_set(&options, "format_whitelist", SingleFileFormats.whitelist, 0)
        // Nothing is opened by protocol: io_open refuses, and no protocol
        // name would pass this list either.
        av_dict_set(&options, "protocol_whitelist", "none", 0)
        // The mov demuxer can follow "data references" to other files; off
        // by default, and kept off whatever a default becomes.
        av_dict_set(&options, "enable_drefs", "0", 0)
        var opening: UnsafeMutablePointer<AVFormatContext>? = ctx
        let opened = PathEncoding.withCString(url) { avformat_open_input(&opening, $0, format, &options) }
        // On failure libav has freed the context (but not `io`, ours).
        guard opened >= 0, let opening else {
            if let code = io.readError { throw .ioError("reading the input", systemMessage(code)) }
            if opened == vq_averror_enomem() { throw MemoryLimit.outOfMemory("reading the input") }
            if io.refusedOpen { throw .notSingleFile("it refers to other files") }
            throw .notMedia(opened == vq_averror_invaliddata() ? "its header is damaged" : libavMessage(opened))
        }
        ctx = opening
        return ctx
    }

    /// Throws if reading stopped on an I/O error rather than the end of the
    /// file (a lost mount, a failing disk): worth another attempt.
    func checkReadError() throws(TranscodeError) {
        if let code = io.readError { throw .ioError("reading the input", systemMessage(code)) }
    }

    private func findStreamInfo(maxPixels: Int) throws(TranscodeError) {
        let ctx = context
        let count = Int(ctx.pointee.nb_streams)
        var perStream = [OpaquePointer?](repeating: nil, count: max(count, 1))
        for index in 0..<count {
            av_dict_set(&perStream[index], "max_pixels", String(maxPixels), 0)
        }
        let result = perStream.withUnsafeMutableBufferPointer { avformat_find_stream_info(ctx, $0.baseAddress) }
        for index in perStream.indices { av_dict_free(&perStream[index]) }
        if result < 0 {
            try checkReadError()
            if io.refusedOpen { throw .notSingleFile("it refers to other files") }
            if result == vq_averror_enomem() { throw MemoryLimit.outOfMemory("reading the input's streams") }
            throw .notMedia("its streams could not be read: \(libavMessage(result))")
        }
        if io.refusedOpen { throw .notSingleFile("it refers to other files") }
    }

    private static func checkPictureSizes(_ ctx: UnsafeMutablePointer<AVFormatContext>, maxPixels: Int) throws(TranscodeError) {
        for index in 0..<Int(ctx.pointee.nb_streams) {
            guard let par = ctx.pointee.streams[index]?.pointee.codecpar!.pointee,
                  par.codec_type == AVMEDIA_TYPE_VIDEO else { continue }
            let width = Int(par.width), height = Int(par.height)
            if width * height > maxPixels || av_image_check_size(UInt32(max(width, 0)), UInt32(max(height, 0)), 0, nil) < 0 && width > 0 {
                throw .pictureTooLarge(width: width, height: height, limit: maxPixels)
            }
        }
    }
}

/// `io_open` for every input: no demuxer may open another file, URL or
/// protocol. The refusal is noted so the error can say why.
private func refuseOpen(_ ctx: UnsafeMutablePointer<AVFormatContext>?, _ pb: UnsafeMutablePointer<UnsafeMutablePointer<AVIOContext>?>?,
                        _ url: UnsafePointer<CChar>?, _ flags: Int32, _ options: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    if let opaque = ctx?.pointee.opaque {
        Unmanaged<InputIOContext>.fromOpaque(opaque).takeUnretainedValue().refusedOpen = true
    }
    return vq_averror_eperm()
}
