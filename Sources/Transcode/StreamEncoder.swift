import CLibAV

/// An encoder for one output stream (libx264 or the native AAC encoder).
final class StreamEncoder {
    let context: UnsafeMutablePointer<AVCodecContext>

    /// - Parameters:
    ///   - codecName: libav's encoder name, e.g. "libx264".
    ///   - options: the encoder's private options (preset, crf, profile…).
    ///   - globalHeader: whether the muxer wants codec headers out of band
    ///     (FLV and MP4 do: AAC and H.264 configs live in the container).
    ///   - configure: sets the size, format, rates and time base.
    init(codecName: String, options: [String: String], globalHeader: Bool,
         configure: (UnsafeMutablePointer<AVCodecContext>) -> Void) throws(TranscodeError) {
        guard let codec = avcodec_find_encoder_by_name(codecName) else {
            throw .libav("finding the \(codecName) encoder", "this libavcodec was built without it")
        }
        guard let ctx = avcodec_alloc_context3(codec) else { throw MemoryLimit.outOfMemory("allocating an encoder") }
        context = ctx
        configure(ctx)
        if globalHeader {
            ctx.pointee.flags |= AV_CODEC_FLAG_GLOBAL_HEADER
        }
        var dictionary: OpaquePointer? = nil
        for (key, value) in options { av_dict_set(&dictionary, key, value, 0) }
        defer { av_dict_free(&dictionary) }
        try check(avcodec_open2(ctx, codec, &dictionary), "opening the \(codecName) encoder")
    }

    deinit {
        var ctx: UnsafeMutablePointer<AVCodecContext>? = context
        avcodec_free_context(&ctx)
    }

    /// Sends one frame (nil: flush). The caller keeps ownership of `frame`.
    func send(_ frame: UnsafeMutablePointer<AVFrame>?) throws(TranscodeError) {
        let result = avcodec_send_frame(context, frame)
        if result == vq_averror_eof() { return }
        try check(result, "encoding")
    }

    /// The next encoded packet into `packet`, or false when the encoder
    /// needs more frames (or has been drained).
    func receive(into packet: UnsafeMutablePointer<AVPacket>) throws(TranscodeError) -> Bool {
        let result = avcodec_receive_packet(context, packet)
        if result == vq_averror_eagain() || result == vq_averror_eof() { return false }
        try check(result, "encoding")
        return true
    }
}
