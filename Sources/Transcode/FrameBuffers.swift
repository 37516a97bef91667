import CLibAV

/// An AVPacket owned by Swift: allocated once, reused for every packet,
/// freed with its owner.
final class OwnedPacket {
    let pointer: UnsafeMutablePointer<AVPacket>

    init() throws(TranscodeError) {
        guard let packet = av_packet_alloc() else { throw MemoryLimit.outOfMemory("allocating a packet") }
        pointer = packet
    }

    deinit {
        var packet: UnsafeMutablePointer<AVPacket>? = pointer
        av_packet_free(&packet)
    }
}

/// An AVFrame owned by Swift: allocated once, reused for every frame,
/// freed with its owner.
final class OwnedFrame {
    let pointer: UnsafeMutablePointer<AVFrame>

    init() throws(TranscodeError) {
        guard let frame = av_frame_alloc() else { throw MemoryLimit.outOfMemory("allocating a frame") }
        pointer = frame
    }

    deinit {
        var frame: UnsafeMutablePointer<AVFrame>? = pointer
        av_frame_free(&frame)
    }
}
