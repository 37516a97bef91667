import CLibAV
import Foundation

/// The output: a container muxer writing to a path (always under
/// `/proc/self/fd/N`: an `OutputFile` already created and checked, or a
/// rung's playlist in a `TemporaryFolder`).
final class Muxer {
    private var context: UnsafeMutablePointer<AVFormatContext>?
    private let name: String
    private let options: [String: String]
    private var isOpen = false
    /// A ladder's rungs write from threads of their own.
    private let writing = NSLock()

    convenience init(path: String, container: OutputContainer) throws(TranscodeError) {
        try self.init(path: path, format: container.muxerName, describedAs: container.rawValue, options: container.muxerOptions)
    }

    /// libav's muxer `format` with its `options`; a muxer that writes files
    /// of its own (HLS) opens none at `path` here.
    init(path: String, format: String, describedAs name: String, options: [String: String]) throws(TranscodeError) {
        self.name = name
        self.options = options
        var ctx: UnsafeMutablePointer<AVFormatContext>? = nil
        try check(avformat_alloc_output_context2(&ctx, nil, format, path), "setting up the \(name) muxer")
        context = ctx
        guard vq_write_watch_start(ctx) == 0 else { throw MemoryLimit.outOfMemory("setting up the \(name) muxer") }
        if ctx!.pointee.oformat.pointee.flags & AVFMT_NOFILE == 0 {
            try check(avio_open(&ctx!.pointee.pb, path, AVIO_FLAG_WRITE), "opening the output for writing")
            isOpen = true
        }
    }

    deinit {
        if isOpen { avio_closep(&context!.pointee.pb) }
        if let context { vq_write_watch_end(context) }
        avformat_free_context(context)
    }

    /// Whether encoders must put their headers in extradata.
    var wantsGlobalHeader: Bool {
        (context!.pointee.oformat.pointee.flags & AVFMT_GLOBALHEADER) != 0
    }

    /// Adds an output stream carrying what `encoder` makes; returns its index.
    func addStream(for encoder: StreamEncoder, title: String? = nil) throws(TranscodeError) -> Int32 {
        guard let stream = avformat_new_stream(context, nil) else { throw MemoryLimit.outOfMemory("adding an output stream") }
        if let title { av_dict_set(&stream.pointee.metadata, "title", title, 0) }
        try check(avcodec_parameters_from_context(stream.pointee.codecpar, encoder.context), "describing an output stream")
        stream.pointee.time_base = encoder.context.pointee.time_base
        stream.pointee.avg_frame_rate = encoder.context.pointee.framerate
        return stream.pointee.index
    }

    /// Adds an output stream carrying packets copied from an input stream
    /// with these parameters (a split transcode's stitch); returns its index.
    func addStream(copying parameters: UnsafePointer<AVCodecParameters>, timeBase: AVRational,
                   frameRate: AVRational) throws(TranscodeError) -> Int32 {
        guard let stream = avformat_new_stream(context, nil) else { throw MemoryLimit.outOfMemory("adding an output stream") }
        try check(avcodec_parameters_copy(stream.pointee.codecpar, parameters), "describing an output stream")
        stream.pointee.codecpar.pointee.codec_tag = 0
        stream.pointee.time_base = timeBase
        stream.pointee.avg_frame_rate = frameRate
        return stream.pointee.index
    }

    func writeHeader() throws(TranscodeError) {
        var options: OpaquePointer? = nil
        for (key, value) in self.options { av_dict_set(&options, key, value, 0) }
        defer { av_dict_free(&options) }
        try check(avformat_write_header(context, &options), "writing the \(name) header")
    }

    /// Writes an encoded packet, converting its timestamps from the encoder's
    /// time base to the stream's. Takes the packet's data.
    func write(_ packet: UnsafeMutablePointer<AVPacket>, stream index: Int32, from timeBase: AVRational) throws(TranscodeError) {
        writing.lock()
        defer { writing.unlock() }
        packet.pointee.stream_index = index
        av_packet_rescale_ts(packet, timeBase, context!.pointee.streams[Int(index)]!.pointee.time_base)
        try check(av_interleaved_write_frame(context, packet), "writing the output")
        try checkFilesWritten()
    }

    /// A file of the muxer's own (an HLS segment or playlist) that could not
    /// be written in full.
    private func checkFilesWritten() throws(TranscodeError) {
        let error = vq_write_watch_error(context)
        if error < 0 { throw libavError(error, "writing the output") }
    }

    /// Writes the trailer (and, for MP4, moves the index to the front) and
    /// closes the file.
    func finish() throws(TranscodeError) {
        try check(av_write_trailer(context), "finishing the output")
        try checkFilesWritten()
        guard isOpen else { return }
        isOpen = false
        try check(avio_closep(&context!.pointee.pb), "closing the output")
    }
}
