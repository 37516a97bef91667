import CLibAV
import Glibc

/// The only way libav reads an input: an `AVIOContext` whose read and seek
/// callbacks go to one `InputFile`'s descriptor (or to the files of an HLS
/// rendition, one after another). No protocol, no path, so a demuxer has
/// nothing to open but the bytes it was given.
final class InputIOContext {
    private(set) var context: UnsafeMutablePointer<AVIOContext>?
    let file: any MediaBytes
    /// Where the next read starts.
    fileprivate var position: Int64 = 0
    /// The errno of the last failed read (not the end of the file): an I/O
    /// error is the machine's fault, not the file's.
    fileprivate(set) var readError: Int32?
    /// Whether a demuxer asked to open another file or URL (and was refused,
    /// see `InputMedia`).
    var refusedOpen = false

    /// libav's default buffer size for files.
    private static let bufferSize: Int32 = 32 * 1024

    init(file: any MediaBytes) throws(TranscodeError) {
        self.file = file
        guard let buffer = av_malloc(Int(Self.bufferSize)) else {
            throw MemoryLimit.outOfMemory("setting up the input")
        }
        let opaque = Unmanaged.passUnretained(self).toOpaque()
        guard let context = avio_alloc_context(buffer.assumingMemoryBound(to: UInt8.self), Self.bufferSize, 0, opaque,
                                               inputRead, nil, inputSeek) else {
            av_free(buffer)
            throw MemoryLimit.outOfMemory("setting up the input")
        }
        self.context = context
    }

    deinit {
        guard let context else { return }
        // libav may have replaced the buffer; free the one it holds now.
        av_free(context.pointee.buffer)
        context.pointee.buffer = nil
        avio_context_free(&self.context)
    }

    fileprivate static func from(_ opaque: UnsafeMutableRawPointer?) -> InputIOContext {
        Unmanaged<InputIOContext>.fromOpaque(opaque!).takeUnretainedValue()
    }
}

/// `read_packet`: the bytes at the current position, AVERROR_EOF at the end.
private func inputRead(_ opaque: UnsafeMutableRawPointer?, _ buffer: UnsafeMutablePointer<UInt8>?, _ size: Int32) -> Int32 {
    let reader = InputIOContext.from(opaque)
    guard let buffer, size > 0 else { return 0 }
    let count = reader.file.read(into: buffer, count: Int(size), at: reader.position)
    if count < 0 {
        let code = errno
        reader.readError = code
        return vq_averror(code)
    }
    if count == 0 { return vq_averror_eof() }
    reader.position += Int64(count)
    return Int32(count)
}

/// `seek`: SEEK_SET, SEEK_CUR, SEEK_END, or the size for AVSEEK_SIZE.
private func inputSeek(_ opaque: UnsafeMutableRawPointer?, _ offset: Int64, _ whence: Int32) -> Int64 {
    let reader = InputIOContext.from(opaque)
    if whence & vq_avseek_size() != 0 { return reader.file.currentSize }
    let target: Int64
    switch whence & ~vq_avseek_force() {
    case SEEK_SET: target = offset
    case SEEK_CUR: target = reader.position + offset
    case SEEK_END: target = reader.file.currentSize + offset
    default: return Int64(vq_averror(EINVAL))
    }
    guard target >= 0 else { return Int64(vq_averror(EINVAL)) }
    reader.position = target
    return target
}
