import CLibAV

/// Still pictures as JPEG (libavcodec's mjpeg encoder): a poster, a
/// storyboard. Frames are converted to full-range 4:2:0 first, as JPEG
/// viewers expect, optionally scaled.
enum JPEGEncoder {
    /// JPEG quality on mjpeg's scale (2 best … 31 worst).
    static let quality: Int32 = 3

    /// The frames through `chain` (a filter chain ending in full-range
    /// yuvj420p is appended unless not `forJPEG`), pulled out as they come.
    static func filter(_ frames: [UnsafeMutablePointer<AVFrame>], timeBase: AVRational, chain: String, forJPEG: Bool = true,
                       _ receive: (UnsafeMutablePointer<AVFrame>) throws(TranscodeError) -> Void) throws(TranscodeError) {
        guard let first = frames.first else { return }
        let shape = FrameShape(frame: first)
        let aspect = shape.sampleAspect.num > 0 ? shape.sampleAspect : AVRational(num: 1, den: 1)
        let source = "video_size=\(shape.width)x\(shape.height):pix_fmt=\(shape.format):time_base=\(timeBase.text)"
            + ":pixel_aspect=\(aspect.text)"
        let graph = try FilterGraph(kind: AVMEDIA_TYPE_VIDEO, sourceArguments: source,
                                    chain: forJPEG ? (chain.isEmpty ? "" : chain + ",") + "scale=out_range=full,format=yuvj420p"
                                        : (chain.isEmpty ? "null" : chain), threads: 1)
        let copy = try OwnedFrame()
        let out = try OwnedFrame()
        for frame in frames {
            guard av_frame_ref(copy.pointer, frame) >= 0 else { throw MemoryLimit.outOfMemory("copying a still picture") }
            try graph.push(copy.pointer)
            while try graph.pull(into: out.pointer) {
                defer { av_frame_unref(out.pointer) }
                try receive(out.pointer)
            }
        }
        try graph.push(nil)
        while try graph.pull(into: out.pointer) {
            defer { av_frame_unref(out.pointer) }
            try receive(out.pointer)
        }
    }

    /// One full-range yuvj420p frame as a JPEG file's bytes.
    static func encode(_ frame: UnsafeMutablePointer<AVFrame>) throws(TranscodeError) -> [UInt8] {
        let encoder = try StreamEncoder(codecName: "mjpeg", options: [:], globalHeader: false) { ctx in
            ctx.pointee.width = frame.pointee.width
            ctx.pointee.height = frame.pointee.height
            ctx.pointee.pix_fmt = AV_PIX_FMT_YUVJ420P
            ctx.pointee.time_base = AVRational(num: 1, den: 25)
            ctx.pointee.flags |= AV_CODEC_FLAG_QSCALE
            ctx.pointee.global_quality = FF_QP2LAMBDA * quality
        }
        frame.pointee.quality = FF_QP2LAMBDA * quality
        frame.pointee.pts = 0
        frame.pointee.pict_type = AV_PICTURE_TYPE_NONE
        try encoder.send(frame)
        try encoder.send(nil)
        let packet = try OwnedPacket()
        var bytes: [UInt8] = []
        while try encoder.receive(into: packet.pointer) {
            defer { av_packet_unref(packet.pointer) }
            if let data = packet.pointer.pointee.data {
                bytes += UnsafeBufferPointer(start: data, count: Int(packet.pointer.pointee.size))
            }
        }
        guard !bytes.isEmpty else { throw .libav("encoding a JPEG picture", "the encoder gave nothing") }
        return bytes
    }
}
