import CLibAV

/// A decoder for one input stream. Corrupt packets are concealed by the
/// decoder or skipped, and counted, rather than ending the transcode: an
/// upload with a few damaged bytes should still become a video.
final class StreamDecoder {
    let context: UnsafeMutablePointer<AVCodecContext>
    /// Packets the decoder rejected plus frames it had to conceal damage in.
    private(set) var corruptCount = 0

    init(stream: UnsafeMutablePointer<AVStream>, threads: Int, maxPixels: Int) throws(TranscodeError) {
        let par = stream.pointee.codecpar!
        guard let codec = avcodec_find_decoder(par.pointee.codec_id) else {
            throw .unsupportedCodec(String(cString: avcodec_get_name(par.pointee.codec_id)))
        }
        guard let ctx = avcodec_alloc_context3(codec) else { throw MemoryLimit.outOfMemory("allocating a decoder") }
        context = ctx
        try check(avcodec_parameters_to_context(ctx, par), "reading the stream parameters")
        ctx.pointee.pkt_timebase = stream.pointee.time_base
        ctx.pointee.thread_count = Int32(threads)
        ctx.pointee.max_pixels = Int64(maxPixels)
        ctx.pointee.framerate = av_guess_frame_rate(nil, stream, nil)
        let opened = avcodec_open2(ctx, codec, nil)
        if opened == vq_averror_enomem() { throw MemoryLimit.outOfMemory("opening the decoder") }
        if opened < 0 {
            throw .unsupportedCodec("\(String(cString: codec.pointee.name)): \(libavMessage(opened))")
        }
    }

    deinit {
        var ctx: UnsafeMutablePointer<AVCodecContext>? = context
        avcodec_free_context(&ctx)
    }

    /// Sends one packet (nil: end of stream). A packet the decoder rejects as
    /// invalid is counted and dropped.
    func send(_ packet: UnsafeMutablePointer<AVPacket>?) throws(TranscodeError) {
        let result = avcodec_send_packet(context, packet)
        if result >= 0 || result == vq_averror_eof() { return }
        if result == vq_averror_enomem() { throw MemoryLimit.outOfMemory("decoding") }
        corruptCount += 1
    }

    /// The next decoded frame into `frame`, or false when the decoder needs
    /// more input (or has been drained).
    func receive(into frame: UnsafeMutablePointer<AVFrame>) throws(TranscodeError) -> Bool {
        let result = avcodec_receive_frame(context, frame)
        if result == vq_averror_eagain() || result == vq_averror_eof() { return false }
        if result < 0 {
            if result == vq_averror_enomem() { throw MemoryLimit.outOfMemory("decoding") }
            corruptCount += 1
            return false
        }
        if frame.pointee.decode_error_flags != 0 || frame.pointee.flags & AV_FRAME_FLAG_CORRUPT != 0 {
            corruptCount += 1
        }
        return true
    }
}
